"""Selective scan on CPU with numba: a fused float32 forward and its adjoint backward.

The torch loop materialises exp(ΔA) and ΔBu as (batch, D, L, N) tensors. Here
each (batch, channel) pair is one task for a thread (`prange`); its state h[N]
lives in a small local array and the loop runs over t, so memory traffic is the
inputs once. Everything is float32 (one compiled specialisation, cached on disk),
and the N exponentials of a step go through `exp32`, a vectorisable exp: numba
has no vector math library here (no SVML), so `np.exp` would be a scalar libm
call per state update, and that call alone costs more than the rest of the
update (measured by `stylelab bench scans`).

The backward runs the adjoint recurrence of mechanisms.md §8.1 from t = L-1
down to 0. It stores nothing from the forward: it recomputes h, keeps h every
`CHECKPOINT_EVERY` steps, then replays one such segment at a time in reverse.

N = 16 (Mamba's usual state size) has a path of its own: the forward's loop over t,
and the backward's recomputation, are `simd.scan16`, written in LLVM vector IR (h in two
8-lane registers, each block of 8 steps' exps computed as one stream before the block's
recurrence, y reduced 8 steps at a time); the backward is also compiled with N a
constant (`_make_scan_backward`), so its loops over n have a known length. Measured by
`stylelab bench scans` (its headline gives both passes as a fraction of the exp32 bound).
"""

from __future__ import annotations

import numpy as np
import torch
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from stylelab.kernels import simd
from stylelab.kernels.glue import scan_gradients, scan_inputs, tensor_like
from stylelab.kernels.ssm_reference import SOFTPLUS_THRESHOLD  # softplus(x) = x above it

# Fast-math without 'nnan'/'ninf': reassociation lets LLVM vectorise the sum over n,
# while inf and nan keep their IEEE meaning (an overflowing state stays inf).
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
CHECKPOINT_EVERY = 64  # backward: steps between stored states (memory N·L/64 per task)


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret an int32 bit pattern as a float32 (a C union); LLVM vectorises it."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(inline="always", fastmath=FASTMATH, cache=True)
def exp32(x):
    """e^x in float32 within 1 ulp, in plain arithmetic so a loop of them vectorises.

    Cephes' expf (also sse_mathfun): e^x = 2^k · e^r with k = round(x / ln 2) and
    |r| <= ln(2)/2, e^r by a degree-7 polynomial, 2^k built from its exponent bits.
    Flushes to 0 below x = -86.99 (where e^x < 1.7e-38, next to the smallest normal
    float32, 1.2e-38); inf above 88.72, as expf.
    """
    xc = min(max(x, np.float32(-87.0)), np.float32(88.8))
    k = np.floor(xc * np.float32(1.44269504088896341) + np.float32(0.5))
    # r = x - k·ln2, with ln2 split in two so the product is exact
    r = xc - k * np.float32(0.693359375) + k * np.float32(2.12194440e-4)
    p = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * (r * r) + r + np.float32(1.0)
    # 2^(k-1) · 2 keeps the exponent field in range for k = 128 (x up to 88.72);
    # k = -126 gives the bit pattern of 0.0, the flush to zero
    two_k = _float32_from_bits((np.int32(k) + np.int32(126)) << np.int32(23))
    return p * two_k * np.float32(2.0)


@njit(inline="always", fastmath=FASTMATH, cache=True)
def _step_size(raw, bias, softplus):
    """Δ = softplus(raw + bias), or raw + bias; float32."""
    v = raw + bias
    if softplus and v <= np.float32(SOFTPLUS_THRESHOLD):
        v = np.float32(np.log1p(np.exp(v)))
    return v


@njit(inline="always", fastmath=FASTMATH, cache=True)
def _step_sizes(raw, bias, softplus):
    """_step_size over a row, (L,) float32; the plain sum in a loop without a branch (so it
    vectorises)."""
    out = np.empty(raw.shape[0], np.float32)
    if softplus:
        for t in range(raw.shape[0]):
            out[t] = _step_size(raw[t], bias, True)
    else:
        for t in range(raw.shape[0]):
            out[t] = raw[t] + bias
    return out


@njit(inline="always", fastmath=FASTMATH, cache=True)
def _sigmoid(v):
    return np.float32(1.0) / (np.float32(1.0) + np.float32(np.exp(-v)))


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def scan_forward(u, delta, A, B, C, D, z, delta_bias, delta_softplus, has_z, y, last_state):
    """Forward scan, in place into y (batch, D, L) and last_state (batch, D, N).

    u, delta (batch, D, L); A (D, N); B, C time-major (batch, G, L, N) so that the
    N values of one step are contiguous; D, delta_bias (D,); z (batch, D, L), read
    only when has_z. All float32 and C-contiguous.
    """
    n_batch, n_channels, length = u.shape
    n_state = A.shape[1]
    per_group_B = n_channels // B.shape[1]
    per_group_C = n_channels // C.shape[1]
    for task in prange(n_batch * n_channels):
        b = task // n_channels
        d = task - b * n_channels
        B_bd = B[b, d // per_group_B]  # (L, N)
        C_bd = C[b, d // per_group_C]
        A_d = A[d]
        if n_state == simd.STATE:  # the vector IR loop (simd.py); the same arithmetic
            u_bd = u[b, d]
            y_bd = y[b, d]
            dts = _step_sizes(delta[b, d], delta_bias[d], delta_softplus)
            dts_u = dts * u_bd
            h = np.zeros(n_state, np.float32)
            simd.scan16(A_d, dts, dts_u, B_bd, C_bd, y_bd, h)  # y_bd = <C_t, h_t>
            D_d = D[d]
            for t in range(length):
                y_bd[t] += D_d * u_bd[t]
            if has_z:
                z_bd = z[b, d]
                for t in range(length):
                    y_bd[t] *= z_bd[t] * _sigmoid(z_bd[t])
            last_state[b, d] = h
            continue
        h = np.zeros(n_state, np.float32)
        decay = np.empty(n_state, np.float32)
        for t in range(length):
            dt = _step_size(delta[b, d, t], delta_bias[d], delta_softplus)
            dt_u = dt * u[b, d, t]
            # two loops over n: the exps vectorise apart from the recurrence (measured faster)
            for n in range(n_state):
                decay[n] = exp32(dt * A_d[n])
            B_t = B_bd[t]
            C_t = C_bd[t]
            y_t = np.float32(0.0)
            for n in range(n_state):
                h[n] = decay[n] * h[n] + dt_u * B_t[n]
                y_t += C_t[n] * h[n]
            y_t += D[d] * u[b, d, t]
            if has_z:
                y_t *= z[b, d, t] * _sigmoid(z[b, d, t])
            y[b, d, t] = y_t
        last_state[b, d] = h


def _make_scan_backward(fixed_state):
    """scan_backward compiled for one state size (fixed_state, a constant numba folds, so
    the loops over n have a known trip count) or for any (fixed_state = 0)."""

    @njit(parallel=True, fastmath=FASTMATH, cache=True)
    def scan_backward(
        u,
        delta,
        A,
        B,
        C,
        D,
        z,
        delta_bias,
        delta_softplus,
        has_z,
        dout,
        dlast,
        du,
        ddelta,
        dz,
        dA_part,
        dB_part,
        dC_part,
        dD_part,
        dbias_part,
    ):
        """Gradients of scan_forward by the adjoint recurrence (mechanisms.md §8.1).

        With a_t = exp(Δ_t A), the adjoint g_t = C_t·dy_t + a_{t+1} ⊙ g_{t+1}, and
        g_{L-1} also receives dlast (the gradient of the last state). Per task (b, d):
          dA    += g_t ⊙ h_{t-1} ⊙ a_t · Δ_t           dΔ_t = Σ_n g_t (h_{t-1} a_t A + B_t u_t)
          dB_t   = g_t Δ_t u_t                          du_t = Σ_n g_t Δ_t B_t + D dy_t
          dC_t   = dy_t h_t                             dD  += dy_t u_t
        then dΔ goes through softplus (times sigmoid) into ddelta and dbias.
        Terms summed over batch (dA, dD, dbias) are written per (b, d) into *_part
        arrays and summed by the caller. dB and dC are summed over channels: a task
        takes `span` consecutive channels of one group (span = D / dB_part.shape[1])
        and adds them into its own slot of dB_part, dC_part (batch, D / span, L, N),
        zeros on entry; the caller sums the slots of each group. No two threads write
        the same element. span = 1 is one channel per task.
        """
        n_batch, n_channels, length = u.shape
        n_state = fixed_state if fixed_state else A.shape[1]
        per_group_B = n_channels // B.shape[1]
        per_group_C = n_channels // C.shape[1]
        K = CHECKPOINT_EVERY
        n_segments = (length + K - 1) // K
        n_slots = dB_part.shape[1]  # channel groups of `span` channels: one task each
        span = n_channels // n_slots
        for task in prange(n_batch * n_slots):
            b = task // n_slots
            slot = task - b * n_slots
            for d in range(slot * span, (slot + 1) * span):
                B_bd = B[b, d // per_group_B]
                C_bd = C[b, d // per_group_C]
                A_d = A[d]
                # 1. forward again, keeping h at the start of every segment of K steps
                checkpoints = np.empty((n_segments, n_state), np.float32)
                h = np.zeros(n_state, np.float32)
                if fixed_state == simd.STATE:  # the vector IR loop, one segment per call
                    dts = _step_sizes(delta[b, d], delta_bias[d], delta_softplus)
                    dts_u = dts * u[b, d]
                    y_unused = np.empty(K, np.float32)
                    for segment in range(n_segments):
                        t0 = segment * K
                        t1 = min(length, t0 + K)
                        checkpoints[segment] = h
                        simd.scan16(
                            A_d, dts[t0:t1], dts_u[t0:t1], B_bd[t0:t1], C_bd[t0:t1],
                            y_unused[: t1 - t0], h,
                        )  # fmt: skip
                else:
                    for t in range(length):
                        if t % K == 0:
                            checkpoints[t // K] = h
                        dt = _step_size(delta[b, d, t], delta_bias[d], delta_softplus)
                        dt_u = dt * u[b, d, t]
                        B_t = B_bd[t]
                        for n in range(n_state):
                            h[n] = exp32(dt * A_d[n]) * h[n] + dt_u * B_t[n]
                # 2. backward, one segment at a time from the last
                states = np.empty((K + 1, n_state), np.float32)  # states[i] = h before step t0 + i
                decays = np.empty((K, n_state), np.float32)
                g_carry = dlast[b, d].copy()  # a_{t+1} ⊙ g_{t+1}; at t = L-1 it is dlast
                dA_acc = np.zeros(n_state, np.float64)
                dD_acc = 0.0
                dbias_acc = 0.0
                for segment in range(n_segments - 1, -1, -1):
                    t0 = segment * K
                    t1 = min(length, t0 + K)
                    states[0] = checkpoints[segment]
                    dA_segment = np.zeros(n_state, np.float32)  # float32 over K steps, then float64
                    for t in range(t0, t1):
                        i = t - t0
                        dt = _step_size(delta[b, d, t], delta_bias[d], delta_softplus)
                        dt_u = dt * u[b, d, t]
                        B_t = B_bd[t]
                        for n in range(n_state):
                            a = exp32(dt * A_d[n])
                            decays[i, n] = a
                            states[i + 1, n] = a * states[i, n] + dt_u * B_t[n]
                    for t in range(t1 - 1, t0 - 1, -1):
                        i = t - t0
                        raw = delta[b, d, t] + delta_bias[d]
                        dt = _step_size(delta[b, d, t], delta_bias[d], delta_softplus)
                        u_t = u[b, d, t]
                        B_t = B_bd[t]
                        C_t = C_bd[t]
                        dy = dout[b, d, t]
                        if (
                            has_z
                        ):  # y = y_pre · SiLU(z): dy_pre = dy · SiLU(z), dz = dy · y_pre · SiLU'(z)
                            y_pre = D[d] * u_t
                            for n in range(n_state):
                                y_pre += C_t[n] * states[i + 1, n]
                            zt = z[b, d, t]
                            sig = _sigmoid(zt)
                            dz[b, d, t] = (
                                dy * y_pre * sig * (np.float32(1.0) + zt * (np.float32(1.0) - sig))
                            )
                            dy = dy * zt * sig
                        dD_acc += dy * u_t
                        dt_u = dt * u_t
                        gha_A = np.float32(0.0)  # Σ_n g h_{t-1} a A
                        g_B = np.float32(0.0)  # Σ_n g B
                        dB_t = dB_part[b, slot, t]
                        dC_t = dC_part[b, slot, t]
                        # all float32 and no float64 here, so this loop vectorises
                        for n in range(n_state):
                            g = C_t[n] * dy + g_carry[n]
                            gha = g * states[i, n] * decays[i, n]  # g_t h_{t-1} a_t
                            dA_segment[n] += gha * dt
                            gha_A += gha * A_d[n]
                            g_B += g * B_t[n]
                            dB_t[n] += g * dt_u
                            dC_t[n] += dy * states[i + 1, n]
                            g_carry[n] = g * decays[i, n]
                        ddt = gha_A + g_B * u_t
                        du_t = D[d] * dy + g_B * dt
                        if delta_softplus and raw <= np.float32(SOFTPLUS_THRESHOLD):
                            ddt = ddt * _sigmoid(raw)  # softplus'(x) = sigmoid(x)
                        ddelta[b, d, t] = ddt
                        dbias_acc += ddt
                        du[b, d, t] = du_t
                    for n in range(n_state):
                        dA_acc[n] += dA_segment[n]
                for n in range(n_state):
                    dA_part[b, d, n] = dA_acc[n]
                dD_part[b, d] = dD_acc
                dbias_part[b, d] = dbias_acc

    return scan_backward


scan_backward_any = _make_scan_backward(0)
scan_backward_state16 = _make_scan_backward(simd.STATE)


def scan_backward(u, delta, A, *args):
    """scan_backward for these arrays: the N = 16 specialisation (vector IR recomputation,
    loops of known length) when A has 16 columns, else the general one. Arguments and
    outputs as `_make_scan_backward`'s kernel."""
    kernel = scan_backward_state16 if A.shape[1] == simd.STATE else scan_backward_any
    return kernel(u, delta, A, *args)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def exp_throughput(x, repeats, vectorised):
    """Σ e^{x·s} over x (tasks, n) for `repeats` scales s, one task per prange iteration.

    What one exp costs on this machine with the threads numba is set to: libm's scalar
    expf (vectorised=False), or exp32 as the scan kernel uses it (vectorised=True).
    x should fit in cache so that the exps, not memory, set the time. Returns (tasks,).
    """
    sums = np.zeros(x.shape[0], np.float32)
    for task in prange(x.shape[0]):
        row = x[task]
        total = np.float32(0.0)
        for r in range(repeats):
            scale = np.float32(1.0) - np.float32(r) * np.float32(1e-4)
            if vectorised:
                for j in range(row.shape[0]):
                    total += exp32(row[j] * scale)
            else:
                for j in range(row.shape[0]):
                    total += np.exp(row[j] * scale)
        sums[task] = total
    return sums


# --- torch glue (the parts shared with the cuda tier are in kernels/glue.py) ----------------


TASKS_PER_THREAD = 4  # the backward keeps at least this many tasks per thread (balance)


def channels_per_task(n_batch: int, n_channels: int, groups_B: int, groups_C: int) -> int:
    """How many channels one backward task takes: as many of one group as still leave
    TASKS_PER_THREAD tasks per thread. Each task adds its channels' dB and dC into one slot,
    so the partials shrink from (batch, D, L, N) to (batch, D / span, L, N): at Mamba-ST's
    training shapes (batch 12, 1024 channels in 4 groups) that is 200 MB less to write and
    sum per call. B and C grouped differently: one channel per task."""
    import numba

    if groups_B != groups_C or n_channels % groups_B:
        return 1
    per_group = n_channels // groups_B
    wanted = TASKS_PER_THREAD * numba.get_num_threads()
    for span in range(per_group, 1, -1):
        if per_group % span == 0 and n_batch * (n_channels // span) >= wanted:
            return span
    return 1


def _f32(x: torch.Tensor) -> np.ndarray:
    """A float32 C-contiguous numpy view (a copy only when needed)."""
    return x.detach().to(torch.float32).contiguous().numpy()


class SelectiveScanNumba(torch.autograd.Function):
    """The numba forward and backward as one autograd op; outputs (y, last_state)."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus):
        arrays = scan_inputs(_f32, u, delta, A, B, C, D, z, delta_bias)
        n_batch, n_channels, length = u.shape
        y = np.empty((n_batch, n_channels, length), np.float32)
        last_state = np.empty((n_batch, n_channels, A.shape[1]), np.float32)
        scan_forward(*arrays, bool(delta_softplus), z is not None, y, last_state)
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        ctx.delta_softplus = bool(delta_softplus)
        return tensor_like(y, u), tensor_like(last_state, u)

    @staticmethod
    def backward(ctx, dy, dlast):
        u, delta, A, B, C, D, z, delta_bias = ctx.saved_tensors
        arrays = scan_inputs(_f32, u, delta, A, B, C, D, z, delta_bias)
        n_batch, n_channels, length = u.shape
        n_state = A.shape[1]
        dy = np.zeros(u.shape, np.float32) if dy is None else _f32(dy)
        dlast = (
            np.zeros((n_batch, n_channels, n_state), np.float32) if dlast is None else _f32(dlast)
        )
        du, ddelta, dz = (np.zeros(u.shape, np.float32) for _ in range(3))
        dA_part = np.empty((n_batch, n_channels, n_state), np.float32)
        # groups from the kernel's (batch, G, L, N) layout: a 3-D B (batch, N, L) is one group,
        # and its shape[1] is N, not G (reading it as G once skipped the last channels)
        span = channels_per_task(n_batch, n_channels, arrays[3].shape[1], arrays[4].shape[1])
        # zeros: the kernel adds into them (calloc: untouched pages cost nothing up front)
        dB_part = np.zeros((n_batch, n_channels // span, length, n_state), np.float32)
        dC_part = np.zeros_like(dB_part)
        dD_part = np.empty((n_batch, n_channels), np.float32)
        dbias_part = np.empty_like(dD_part)
        scan_backward(
            *arrays, ctx.delta_softplus, z is not None, dy, dlast,
            du, ddelta, dz, dA_part, dB_part, dC_part, dD_part, dbias_part,
        )  # fmt: skip
        return scan_gradients(
            ctx.saved_tensors, du, ddelta, dz, dA_part, dB_part, dC_part, dD_part, dbias_part,
            layout="b d l n",
        )  # fmt: skip


def selective_scan_numba(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """The numba tier: (y, last_state), float32 inside, in u's dtype; CPU tensors; autograd ok.

    Arguments as `ssm_reference.selective_scan_reference` (D, z, delta_bias may be None),
    assumed checked: `stylelab.ssm.selective_scan` checks them and picks the outputs.
    """
    return SelectiveScanNumba.apply(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
