"""SS2D: VMamba's 2D selective scan, and Mamba-ST's cross form ST-VSSM (mechanisms.md §4.2, §4.4).

Channels-last maps: x, style (B, H, W, C) -> (B, H, W, C). With d_inner = expand·C, N = d_state,
R = dt_rank = ceil(C/16) and K = 4 scan directions:

    self  (cross=False, VMamba):                 cross (cross=True, ST-VSSM):
    (x, z)   = in_proj(x)                        (x, z) = in_proj(content);  s = in_style_proj(style)
    x        = SiLU(DWConv3x3(x))                x, s   = SiLU(DWConv3x3(·))   one shared conv
    x^k      = cross_scan(x)      (B, K, Di, L)  x^k, s^k = cross_scan(x), cross_scan(s)
    [δ,B,C]  = W_x^k x^k                         C = W_x^k x^k;   [δ, B] = W_s^k s^k
    Δ        = softplus(W_dt^k δ + b_dt^k)       the same, from the style's δ
    y^k      = scan(u=x^k, Δ, A^k, B, C, D^k)    y^k = scan(u=s^k, Δ, A^k, B, C, D^k)
    y        = LN(cross_merge(y)) ⊙ SiLU(z), then out_proj          (both)

In cross mode the style writes the state (u, Δ and B are the style's) and the content only
reads it (C) and gates the output (z): each content position reads a decayed mixture of the
style tokens scanned before it, which is why the book calls it "hidden attention". A is a
learned parameter in both modes; the style enters exp(ΔA) only through Δ (mechanisms §7 #9).

The four directions run as ONE selective scan over K·Di channels, B and C grouped by direction
(channel k·Di + d reads group k), so every backend of `selective_scan` serves SS2D unchanged.

Parameter names and shapes are the official MambaST / VMamba-v0 ones, so
`SS2D.from_official_state_dict` loads a checkpoint's SS2D as it is.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.core.errors import StylelabError
from stylelab.scan_orders import cross_merge, cross_scan
from stylelab.ssm.scan import selective_scan

K = 4  # scan directions: raster, column, and both reversed
INITS = ("s4d", "official")  # see `SS2D.reset_parameters`


def dt_rank_for(d_model: int) -> int:
    return math.ceil(d_model / 16)


class SS2D(nn.Module):
    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        expand: float = 2,
        d_conv: int = 3,
        cross: bool = False,
        dt_rank: int | None = None,
        d_inner: int | None = None,
        init: str = "s4d",
    ):
        super().__init__()
        if d_model < 1 or d_state < 1 or d_conv < 1 or d_conv % 2 == 0:
            raise StylelabError(
                f"SS2D: d_model and d_state must be positive and d_conv a positive odd number, "
                f"got d_model={d_model}, d_state={d_state}, d_conv={d_conv}"
            )
        self.d_model, self.d_state, self.d_conv, self.cross = d_model, d_state, d_conv, cross
        self.d_inner = d_inner or int(expand * d_model)
        self.dt_rank = dt_rank or dt_rank_for(d_model)
        di, n, r = self.d_inner, d_state, self.dt_rank
        self.in_proj = nn.Linear(d_model, 2 * di, bias=False)
        # the official SS2D always has in_style_proj; self mode never uses it
        self.in_style_proj = nn.Linear(d_model, di, bias=False) if cross else None
        self.conv2d = nn.Conv2d(di, di, d_conv, padding=(d_conv - 1) // 2, groups=di)
        # cross: content -> C (N); style -> (δ, B) (R + N).  self: x -> (δ, B, C) (R + 2N)
        self.x_proj_weight = nn.Parameter(torch.empty(K, n if cross else r + 2 * n, di))
        self.style_proj_weight = nn.Parameter(torch.empty(K, r + n, di)) if cross else None
        self.dt_projs_weight = nn.Parameter(torch.empty(K, di, r))
        self.dt_projs_bias = nn.Parameter(torch.empty(K, di))
        self.A_logs = nn.Parameter(torch.empty(K * di, n))
        self.Ds = nn.Parameter(torch.empty(K * di))
        self.out_norm = nn.LayerNorm(di)
        self.out_proj = nn.Linear(di, d_model, bias=False)
        self.reset_parameters(init)

    @torch.no_grad()
    def reset_parameters(self, init: str = "s4d", seed: int | None = None) -> None:
        """ "s4d": Mamba's init (mechanisms §4.1): A = -(1..N) per channel, Δ's bias such that
        softplus(bias) ~ logUniform[1e-3, 1e-1], dt_proj U(±R^-1/2), D = 1, projections as
        nn.Linear. "official": the same, then Xavier-uniform over every parameter with dim > 1,
        as MambaST's `_reset_parameters` does (§4.4's quirk): that overwrites A_logs (A ≈ -1
        in every channel), the (K, Di) Δ bias (Δ ≈ softplus(0) ≈ 0.69 at first, not 1e-3 to
        1e-1) and the stacked projections."""
        if init not in INITS:
            raise StylelabError(f"SS2D init must be one of {', '.join(INITS)}, got {init!r}")
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        di, n, r = self.d_inner, self.d_state, self.dt_rank

        def uniform_(t, bound):
            t.copy_((torch.rand(t.shape, generator=gen) * 2 - 1) * bound)

        for proj in (self.x_proj_weight, self.style_proj_weight):
            if proj is not None:
                uniform_(proj, 1 / math.sqrt(di))  # nn.Linear's bound
        uniform_(self.dt_projs_weight, r**-0.5)
        dt = torch.exp(
            torch.rand(K, di, generator=gen) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)
        ).clamp(min=1e-4)
        self.dt_projs_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)
        self.A_logs.copy_(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(K * di, 1))
        self.Ds.fill_(1.0)
        if init == "official":
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p, generator=gen)

    # -- the forward --
    def _check(self, x, what: str) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[-1] != self.d_model:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise StylelabError(
                f"SS2D: {what} must be channels-last (B, H, W, {self.d_model}), got {got}"
            )

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, Di) -> SiLU(DWConv(x)) as (B, Di, H, W)."""
        return F.silu(self.conv2d(x.permute(0, 3, 1, 2).contiguous()))

    def _check_pair(self, x, style) -> None:
        self._check(x, "x")
        if self.cross:
            if style is None:
                raise StylelabError("SS2D(cross=True) needs a style map: forward(x, style)")
            self._check(style, "style")
            if style.shape[:3] != x.shape[:3]:
                raise StylelabError(
                    f"SS2D: the style map {tuple(style.shape[:3])} must match the content's "
                    f"(B, H, W) {tuple(x.shape[:3])}: the scan reads style token t with content "
                    "position t; resize the style image first (MambaST.stylize does)"
                )
        elif style is not None:
            raise StylelabError("SS2D(cross=False) takes no style; build it with cross=True")

    def scan_inputs(self, x: torch.Tensor, style: torch.Tensor | None = None) -> dict:
        """What the selective scan receives, per direction, and the gate:
        u, dt (B, K, Di, L) (dt before the bias and softplus), B, C (B, K, N, L),
        z (B, H, W, Di). Checked as `forward` checks."""
        self._check_pair(x, style)
        x_in, z = self.in_proj(x).chunk(2, dim=-1)  # (B, H, W, Di) each
        xs = cross_scan(self._conv(x_in))  # (B, K, Di, L)
        n, r = self.d_state, self.dt_rank
        if self.cross:
            ss = cross_scan(self._conv(self.in_style_proj(style)))  # (B, K, Di, L)
            Cs = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)  # (B, K, N, L)
            dts, Bs = torch.einsum("bkdl,kcd->bkcl", ss, self.style_proj_weight).split([r, n], 2)
            u = ss
        else:
            x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)  # (B, K, R+2N, L)
            dts, Bs, Cs = x_dbl.split([r, n, n], dim=2)
            u = xs
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)  # (B, K, Di, L)
        return {"u": u, "dt": dts, "B": Bs, "C": Cs, "z": z}

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor | None = None,
        backend: str = "auto",
        directions: tuple[int, ...] | None = None,
    ):
        """x (and style) (B, H, W, C) -> (B, H, W, C). `directions`: which of the K = 4 scans
        the merge sums (default all; e.g. (0,) is one raster scan), for the chapter's
        receptive-field ablation."""
        if directions is not None and (
            not directions or any(k not in range(K) for k in directions)
        ):
            raise StylelabError(f"SS2D: directions must be indices in 0..3, got {directions!r}")
        inputs = self.scan_inputs(x, style)  # checks x and style first
        n_batch, height, width, _ = x.shape
        length = height * width
        # the scan runs in float32 (float64 when the input is), also under autocast (as the
        # official code's .float() casts)
        f = torch.float64 if x.dtype == torch.float64 else torch.float32
        y = selective_scan(
            inputs["u"].reshape(n_batch, -1, length).to(f),  # (B, K·Di, L)
            inputs["dt"].reshape(n_batch, -1, length).to(f),
            -torch.exp(self.A_logs.to(f)),  # (K·Di, N)
            inputs["B"].to(f).contiguous(),  # (B, K, N, L): channel k·Di + d reads group k
            inputs["C"].to(f).contiguous(),
            self.Ds.to(f),
            delta_bias=self.dt_projs_bias.reshape(-1).to(f),
            delta_softplus=True,
            backend=backend,
        ).view(n_batch, K, self.d_inner, length)
        if directions is not None:  # drop the other scans' outputs before the merge
            keep = torch.zeros(K, 1, 1, dtype=y.dtype, device=y.device)
            keep[list(directions)] = 1
            y = y * keep
        y = cross_merge(y, height, width)  # (B, Di, L), the four summed
        y = self.out_norm(y.transpose(1, 2).reshape(n_batch, height, width, self.d_inner))
        return self.out_proj(y * F.silu(inputs["z"]))  # (B, H, W, C)

    @torch.no_grad()
    def hidden_attention(self, x: torch.Tensor, style: torch.Tensor | None = None):
        """The scan unrolled (Ali et al. 2024, "the hidden attention of Mamba"):
        M (B, K, Di, L, L), in each direction's own order, with

            y_i = Σ_{j <= i} M[i, j] u_j + D u_i,
            M[i, j] = Σ_n C_i[n] · exp(Σ_{s=j+1..i} Δ_s A[n]) · Δ_j B_j[n]      (0 for j > i)

        so row i says how much output i reads each input j. In cross mode u, Δ and B come from
        the style and C from the content: row i is what content position i reads of the style.
        Costs Di·L²·N: small maps only (L = 64 at 8x8 is 16 M numbers per direction)."""
        p = self.scan_inputs(x, style)
        n_batch, _, di, length = p["u"].shape
        bias = self.dt_projs_bias.view(1, K, di, 1)
        delta = F.softplus(p["dt"] + bias).float()  # (B, K, Di, L)
        A = -torch.exp(self.A_logs.float()).view(1, K, di, 1, -1)  # (1, K, Di, 1, N)
        log_decay = torch.cumsum(delta[..., None] * A, dim=3)  # (B, K, Di, L, N): Σ_{s<=t} Δ_s A
        # exp(S_i - S_j) for j <= i; masked to 0 above the diagonal (the scan is causal)
        diff = log_decay[:, :, :, :, None, :] - log_decay[:, :, :, None, :, :]  # (B,K,Di,L,L,N)
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        decay = torch.where(causal[..., None], diff.clamp(max=0).exp(), 0.0)
        Ct = p["C"].float().transpose(2, 3)[:, :, None, :, None, :]  # (B, K, 1, L, 1, N)
        Bt = p["B"].float().transpose(2, 3)[:, :, None, None, :, :]  # (B, K, 1, 1, L, N)
        return (Ct * decay * Bt).sum(-1) * delta[:, :, :, None, :]  # (B, K, Di, L, L)

    @torch.no_grad()
    def hidden_attention_row(self, x, style=None, position: int = 0) -> torch.Tensor:
        """One row of `hidden_attention` per direction, for a map of any size: what output
        `position` (row-major r·W + c) reads of every input, (B, K, Di, L) with the inputs
        in row-major order too. Costs Di·L·N per direction."""
        from stylelab.scan_orders import cross_orders, inverse

        p = self.scan_inputs(x, style)
        n_batch, _, di, length = p["u"].shape
        if not 0 <= position < length:
            raise StylelabError(f"hidden_attention_row: position {position} not in 0..{length - 1}")
        delta = F.softplus(p["dt"] + self.dt_projs_bias.view(1, K, di, 1)).float()  # (B,K,Di,L)
        A = -torch.exp(self.A_logs.float()).view(1, K, di, 1, -1)  # (1, K, Di, 1, N)
        log_decay = torch.cumsum(delta[..., None] * A, dim=3)  # (B, K, Di, L, N)
        orders = cross_orders(*x.shape[1:3])  # (K, L): orders[k, i] = pixel visited i-th
        rows = []
        for k in range(K):
            i = int(inverse(orders[k])[position])  # the step at which direction k sees it
            diff = (
                log_decay[:, k, :, i : i + 1] - log_decay[:, k, :, : i + 1]
            ).exp()  # (B,Di,i+1,N)
            Bj = p["B"][:, k, :, : i + 1].float().transpose(1, 2)[:, None]  # (B, 1, i+1, N)
            Ci = p["C"][:, k, :, i].float()[:, None, None, :]  # (B, 1, 1, N)
            row = (Ci * diff * Bj).sum(-1) * delta[:, k, :, : i + 1]  # (B, Di, i+1)
            full = row.new_zeros(n_batch, di, length)
            full[..., orders[k, : i + 1]] = row  # scan order -> row-major
            rows.append(full)
        return torch.stack(rows, dim=1)  # (B, K, Di, L)

    # -- official weights --
    @classmethod
    def from_official_state_dict(cls, state_dict: dict, cross: bool, prefix: str = "") -> SS2D:
        """An SS2D holding the official MambaST (VMamba-v0) SS2D's parameters: sizes are read
        off the tensors, so any official size loads; a missing, extra or wrong-shaped key is an
        error that names it."""
        sd = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        for key in ("in_proj.weight", "A_logs", "dt_projs_weight", "conv2d.weight"):
            if key not in sd:
                raise StylelabError(f"official SS2D state dict: missing key {prefix + key!r}")
        d_inner2, d_model = sd["in_proj.weight"].shape
        _, d_state = sd["A_logs"].shape
        dt_rank = sd["dt_projs_weight"].shape[-1]
        d_conv = sd["conv2d.weight"].shape[-1]
        module = cls(
            d_model,
            d_state=d_state,
            d_conv=d_conv,
            cross=cross,
            dt_rank=dt_rank,
            d_inner=d_inner2 // 2,
        )
        expected = module.state_dict()
        if not cross:  # present in every official SS2D, unused in self mode
            sd.pop("in_style_proj.weight", None)
        missing = sorted(set(expected) - set(sd))
        extra = sorted(set(sd) - set(expected))
        if missing or extra:
            raise StylelabError(
                f"official SS2D state dict (cross={cross}): missing "
                f"{[prefix + k for k in missing]}, unexpected {[prefix + k for k in extra]}"
            )
        for key, value in expected.items():
            if tuple(sd[key].shape) != tuple(value.shape):
                raise StylelabError(
                    f"official SS2D state dict: {prefix + key!r} has shape "
                    f"{tuple(sd[key].shape)}, expected {tuple(value.shape)} (d_model {d_model}, "
                    f"d_inner {module.d_inner}, d_state {d_state}, dt_rank {dt_rank})"
                )
        module.load_state_dict({k: v.float() for k, v in sd.items()})
        return module
