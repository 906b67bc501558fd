"""The selective scan of Mamba (S6): a linear recurrence whose step size, input and output
maps depend on the token, so the model chooses per token what to keep and what to forget.

Per channel d and state index n (mechanisms.md §4.1):

    Δ_t  = softplus(Δraw_t + delta_bias)    (or Δraw_t + delta_bias)   step size, > 0
    h_t  = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t,     h_{-1} = 0          state (N,)
    y_t  = <C_t, h_t> + D u_t,   then y_t · SiLU(z_t) when z is given

Shapes: u, delta, z (batch, D, L); A (D, N), negative in Mamba (A = -exp(A_log)), so
exp(Δ A) is a decay in (0, 1); B, C (batch, N, L), or grouped (batch, G, N, L) where
channel d reads group d // (D / G); D, delta_bias (D,). Output y (batch, D, L), and with
`return_last_state` the final state (batch, D, N).

Backends (`backend=`), all tested against the reference:
    "reference"   Python loops over (b, d, t, n) in float64 (kernels/ssm_reference.py)
    "torch_loop"  a torch loop over t, vectorised over (b, d, n); autograd; O(L) steps
    "torch"       chunked: exact pairwise decays inside chunks of CHUNK steps, the state
                  carried across chunks; autograd; parallel over t (the GPU training path)
    "numba"       fused float32 CPU kernels, forward + adjoint backward (kernels/ssm_cpu.py)
    "cuda"        numba.cuda kernels, float32, N <= 64, forward + adjoint backward
                  (kernels/ssm_cuda.py)
    "auto"        numba on CPU; on CUDA, cuda without grad and torch with grad
                  (stylelab.kernels.resolve_backend decides, for every op alike)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch.autograd.function import once_differentiable

from stylelab.core.checks import all_finite
from stylelab.core.errors import StylelabError
from stylelab.kernels import resolve_backend

EXTRA_BACKENDS = ("torch_loop",)  # backends of this op beyond stylelab.kernels.BACKENDS
CHUNK = 64  # "torch": steps per chunk; work and memory per chunk grow as CHUNK² · N
PAIR_BLOCK_ELEMENTS = 1 << 22  # "torch": largest (rows, CHUNK, CHUNK, N) block made at once
CUDA_MAX_STATE = 64  # the cuda kernel keeps h[N] in a fixed-size local array


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    backend: str = "auto",
):
    """Mamba's selective scan. Returns y (batch, D, L), or (y, last_state (batch, D, N)).

    All tensors must share one dtype (float32 or float64) and one device. The numba and
    cuda backends compute in float32 and return u's dtype.
    """
    tensors = _check_inputs(u, delta, A, B, C, D, z, delta_bias)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    if backend not in EXTRA_BACKENDS:
        backend = resolve_backend(backend, u, needs_grad=needs_grad)
    args = (u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    if backend == "reference":
        return _reference(*args)
    if backend == "torch_loop":
        return selective_scan_loop(*args)
    if backend == "torch":
        return selective_scan_chunked(*args)
    if backend == "numba":
        if u.is_cuda:
            raise StylelabError(
                "selective_scan: backend 'numba' runs on the CPU but the inputs are on CUDA; "
                "use backend='cuda' or 'torch', or move the tensors with .cpu()"
            )
        from stylelab.kernels.ssm_cpu import selective_scan_numba as kernel
    elif backend == "cuda":
        if A.shape[1] > CUDA_MAX_STATE:
            raise StylelabError(
                f"selective_scan: backend 'cuda' supports a state size N <= {CUDA_MAX_STATE}, "
                f"got N = {A.shape[1]}; use backend='torch'"
            )
        from stylelab.kernels.ssm_cuda import selective_scan_cuda as kernel
    else:
        raise AssertionError(f"unhandled backend {backend!r}")  # resolve_backend checked it
    y, last_state = kernel(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return (y, last_state) if return_last_state else y


# ---------------------------------------------------------------------------------------------
# input checks


def _check_inputs(u, delta, A, B, C, D, z, delta_bias) -> list[torch.Tensor]:
    """Raise StylelabError naming the argument, the expected and the given shape; return tensors."""
    named = {"u": u, "delta": delta, "A": A, "B": B, "C": C, "D": D, "z": z}
    named["delta_bias"] = delta_bias
    for name, t in named.items():
        if t is not None and not isinstance(t, torch.Tensor):
            hint = " (wrap it with torch.from_numpy)" if type(t).__name__ == "ndarray" else ""
            raise StylelabError(
                f"selective_scan: {name} must be a torch.Tensor, got {type(t).__name__}{hint}"
            )
    if u.dim() != 3 or min(u.shape) < 1:
        raise StylelabError(
            f"selective_scan: u must be (batch, channels D, length L) with every size >= 1; "
            f"got shape {tuple(u.shape)}"
        )
    n_batch, n_channels, length = u.shape
    if A.dim() != 2 or A.shape[0] != n_channels or A.shape[1] < 1:
        raise StylelabError(
            f"selective_scan: A must be (D, N) = ({n_channels}, N), one row of N state "
            f"decay rates per channel of u; got shape {tuple(A.shape)}"
        )
    n_state = A.shape[1]
    _expect_shape("delta", delta, (n_batch, n_channels, length), "(batch, D, L), like u")
    for name, M in (("B", B), ("C", C)):
        _check_input_map(name, M, n_batch, n_channels, n_state, length)
    if D is not None:
        _expect_shape("D", D, (n_channels,), "(D,), one skip weight per channel")
    if z is not None:
        _expect_shape("z", z, (n_batch, n_channels, length), "(batch, D, L), like u")
    if delta_bias is not None:
        _expect_shape("delta_bias", delta_bias, (n_channels,), "(D,), one bias per channel")

    given = {name: t for name, t in named.items() if t is not None}
    for name, t in given.items():
        if t.dtype not in (torch.float32, torch.float64):
            raise StylelabError(
                f"selective_scan: {name} has dtype {t.dtype}; use float32 or float64 (call .float())"
            )
        if t.dtype != u.dtype:
            raise StylelabError(
                f"selective_scan: {name} is {t.dtype} but u is {u.dtype}; give all one dtype"
            )
    devices = {str(t.device) for t in given.values()}
    if len(devices) > 1:
        where = ", ".join(f"{name} on {t.device}" for name, t in given.items())
        raise StylelabError(
            f"selective_scan: inputs are on different devices ({where}); move them to one"
        )
    for name, t in given.items():
        if not all_finite(t):
            raise StylelabError(
                f"selective_scan: {name} contains NaN or Inf; check the layer that produced it"
            )
    return list(given.values())


def _expect_shape(name: str, t: torch.Tensor, shape: tuple, meaning: str) -> None:
    if tuple(t.shape) != shape:
        raise StylelabError(
            f"selective_scan: {name} must be {meaning} = {shape}; got shape {tuple(t.shape)}"
        )


def _check_input_map(name, M, n_batch, n_channels, n_state, length) -> None:
    """B or C: (batch, N, L), or (batch, G, N, L) with G dividing D."""
    plain = (n_batch, n_state, length)
    if M.dim() == 3 and tuple(M.shape) == plain:
        return
    if M.dim() == 4:
        groups = M.shape[1]
        if tuple(M.shape) == (n_batch, groups, n_state, length) and groups >= 1:
            if n_channels % groups == 0:
                return
            raise StylelabError(
                f"selective_scan: {name} has {groups} groups, which does not divide the "
                f"D = {n_channels} channels of u; use a number of groups that divides D"
            )
    raise StylelabError(
        f"selective_scan: {name} must be (batch, N, L) = {plain} or grouped "
        f"(batch, G, N, L) = ({n_batch}, G, {n_state}, {length}) with G dividing D = "
        f"{n_channels}; got shape {tuple(M.shape)}"
    )


# ---------------------------------------------------------------------------------------------
# tier 1: the definition


def _reference(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state):
    """The Python-loop reference, float64, returned as tensors in u's dtype (no autograd)."""
    from stylelab.kernels.ssm_reference import selective_scan_reference

    def arr(t):
        return None if t is None else t.detach().cpu().double().numpy()

    out = selective_scan_reference(
        *map(arr, (u, delta, A, B, C, D, z, delta_bias)), delta_softplus, return_last_state
    )
    outs = out if return_last_state else (out,)
    outs = tuple(torch.from_numpy(o).to(device=u.device, dtype=u.dtype) for o in outs)
    return outs if return_last_state else outs[0]


# ---------------------------------------------------------------------------------------------
# tier 2: torch, with autograd


def step_sizes(delta, delta_bias=None, delta_softplus: bool = False) -> torch.Tensor:
    """Δ = softplus(delta + delta_bias) (or without softplus); (batch, D, L)."""
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    return F.softplus(delta) if delta_softplus else delta


def _per_channel_time_major(M: torch.Tensor, n_channels: int) -> torch.Tensor:
    """B or C, (batch, N, L) or (batch, G, N, L) -> (batch, D, L, N), channel d reading its group.

    Ungrouped maps are broadcast (no copy); grouped ones are repeated D/G times.
    """
    if M.dim() == 3:
        M = rearrange(M, "b n l -> b 1 n l")
    per_channel = repeat(M, "b g n l -> b (g c) n l", c=n_channels // M.shape[1])
    return rearrange(per_channel, "b d n l -> b d l n")


def _discretise(u, delta, A, B, delta_bias, delta_softplus):
    """log of the decays Δ_t A and the inputs Δ_t B_t u_t, both (batch, D, L, N)."""
    delta = step_sizes(delta, delta_bias, delta_softplus)  # (batch, D, L)
    log_decay = delta[..., None] * A[:, None, :]  # (batch, D, L, N), <= 0 when A <= 0
    inputs = (delta * u)[..., None] * _per_channel_time_major(B, u.shape[1])
    return log_decay, inputs


def _readout(states, u, C, D, z, return_last_state, last_state):
    """y = <C_t, h_t> + D u, gated by SiLU(z); states (batch, D, L, N)."""
    y = (states * _per_channel_time_major(C, u.shape[1])).sum(-1)  # (batch, D, L)
    if D is not None:
        y = y + D[:, None] * u
    if z is not None:
        y = y * F.silu(z)
    return (y, last_state) if return_last_state else y


def selective_scan_loop(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
    return_last_state=False,
):  # fmt: skip
    """The recurrence as a torch loop over t, vectorised over (batch, D, N). Differentiable.

    Like Mamba's `selective_scan_ref`: exp(ΔA) and ΔBu are made for all t at once
    ((batch, D, L, N) each), then L small steps h = a_t ⊙ h + b_t.
    """
    log_decay, inputs = _discretise(u, delta, A, B, delta_bias, delta_softplus)
    decay = log_decay.exp()
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # (batch, D, N)
    states = []
    # unbind, not inputs[:, :, t]: each indexing's backward would allocate a full-size
    # (batch, D, L, N) gradient, making the backward quadratic in L; unbind's is one stack
    for inputs_t, decay_t in zip(inputs.unbind(2), decay.unbind(2)):
        h = torch.addcmul(inputs_t, decay_t, h)
        states.append(h)
    states = torch.stack(states, dim=2)  # (batch, D, L, N)
    return _readout(states, u, C, D, z, return_last_state, h)


def selective_scan_chunked(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
    return_last_state=False, chunk: int = CHUNK,
):  # fmt: skip
    """The scan in chunks of `chunk` steps, parallel over t inside a chunk. Differentiable.

    Inside a chunk the state is a weighted sum of the chunk's inputs,
        h_t = Σ_{s<=t} exp(Σ_{s<i<=t} Δ_i A) · b_s  +  exp(Σ_{i<=t} Δ_i A) · h_start,
    with every exponent a sum of Δ·A <= 0 (log space), so exp never overflows however
    large Δ·|A| gets (the shortcut exp(S_t)·Σ exp(-S_s) b_s overflows once a chunk
    decays by more than e^88). The sums over s<i<=t are cumsums of masked copies, not
    differences of one cumsum, so no precision is lost to cancellation. The state is
    carried from chunk to chunk by L / chunk small sequential steps.
    """
    log_decay, inputs = _discretise(u, delta, A, B, delta_bias, delta_softplus)
    n_batch, n_channels, length, n_state = inputs.shape
    pad = (-length) % chunk
    if pad:  # padded steps have Δ = 0: no decay, no input, so the state passes through unchanged
        log_decay = F.pad(log_decay, (0, 0, 0, pad))
        inputs = F.pad(inputs, (0, 0, 0, pad))
    n_chunks = (length + pad) // chunk
    # the states of each chunk from a zero start, one row per (batch, channel, chunk)
    rows = "b d (c t) n -> (b d c) t n"
    within = _chunk_states(rearrange(log_decay, rows, t=chunk), rearrange(inputs, rows, t=chunk))
    within = rearrange(within, "(b d c) t n -> b d c t n", b=n_batch, d=n_channels)
    log_decay = rearrange(log_decay, "b d (c t) n -> b d c t n", t=chunk)
    log_from_start = log_decay.cumsum(dim=3)  # Σ_{i<=t} Δ_i A in the chunk

    chunk_decay = log_from_start[:, :, :, -1].exp()  # (batch, D, chunks, N)
    h = u.new_zeros(n_batch, n_channels, n_state)
    starts = []
    for c in range(n_chunks):
        starts.append(h)
        h = torch.addcmul(within[:, :, c, -1], chunk_decay[:, :, c], h)
    starts = torch.stack(starts, dim=2)  # (batch, D, chunks, N)
    states = within + log_from_start.exp() * starts[:, :, :, None]
    states = rearrange(states, "b d c t n -> b d (c t) n")[:, :, :length]
    return _readout(states, u, C, D, z, return_last_state, h)


def _chunk_states(log_decay: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """States inside independent chunks that start from zero; (rows, T, N) -> (rows, T, N).

    Made PAIR_BLOCK_ELEMENTS at a time; under autograd each block is recomputed in the
    backward instead of keeping its (rows, T, T, N) weights alive.
    """
    rows, chunk, n_state = inputs.shape
    step = max(1, PAIR_BLOCK_ELEMENTS // (chunk * chunk * n_state))
    recompute = torch.is_grad_enabled() and (log_decay.requires_grad or inputs.requires_grad)
    out = []
    for start in range(0, rows, step):
        block = (log_decay[start : start + step], inputs[start : start + step])
        out.append(
            _RecomputedChunkStates.apply(*block) if recompute else _chunk_states_block(*block)
        )
    return torch.cat(out)


class _RecomputedChunkStates(torch.autograd.Function):
    """_chunk_states_block, saving only its inputs: the backward runs it again.

    What torch.utils.checkpoint does, written out because checkpoint imports
    torch._dynamo on first use, which costs 2-3 s in every fresh process.
    """

    @staticmethod
    def forward(ctx, log_decay, inputs):
        ctx.save_for_backward(log_decay, inputs)
        return _chunk_states_block(log_decay, inputs)

    @staticmethod
    @once_differentiable  # a second derivative through here raises instead of being wrong
    def backward(ctx, grad):
        wanted = [
            x.detach().requires_grad_(need)
            for x, need in zip(ctx.saved_tensors, ctx.needs_input_grad)
        ]
        with torch.enable_grad():
            out = _chunk_states_block(*wanted)
        leaves = [x for x in wanted if x.requires_grad]
        grads = iter(torch.autograd.grad(out, leaves, grad))
        return tuple(next(grads) if x.requires_grad else None for x in wanted)


def _chunk_states_block(log_decay: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """h_t = Σ_{s<=t} exp(Σ_{s<i<=t} log_decay_i) · inputs_s for each row; (rows, T, N)."""
    rows, chunk, n_state = log_decay.shape
    pos = torch.arange(chunk, device=log_decay.device)
    after_s = (pos[None, :] > pos[:, None])[:, :, None]  # [s, i]: i > s (bool triu is slow)
    seen = (pos[None, :] >= pos[:, None])[:, :, None]  # [s, t]: t >= s
    # pair[r, s, i, n] = log_decay[r, i, n] for i > s; cumsum over i gives Σ_{s<i<=t} at [s, t].
    # (s before i in memory: torch's cumsum is several times faster along an inner dim)
    pair = log_decay[:, None, :, :].expand(rows, chunk, chunk, n_state)
    log_weights = pair.masked_fill(~after_s, 0.0).cumsum(dim=2)  # (rows, T_s, T_t, N)
    weights = log_weights.masked_fill(~seen, float("-inf")).exp()
    return (weights * inputs[:, :, None, :]).sum(dim=1)  # Σ_s -> (rows, T_t, N)
