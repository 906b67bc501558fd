"""Attention ops, vectorised with einsum and unfold (autograd: the training path).

Shapes: B batch, h heads, d = C / h channels per head (e for values, which may have other
channels than queries and keys, as in the A2K* loss target), n blocks of r = s² positions.
The loops these are tested against are `stylelab.kernels.attention_reference`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylelab.core.errors import StylelabError


def check_blocks(x: torch.Tensor, s: int, what: str) -> None:
    """A clear error where the op would otherwise fail deep inside unfold, or silently crop."""
    if x.dim() != 4:
        raise StylelabError(f"{what} must be (B, C, H, W), got shape {tuple(x.shape)}")
    if s < 1:
        raise StylelabError(f"block side must be a positive number of pixels, got {s}")
    h, w = x.shape[-2:]
    if h % s or w % s:
        raise StylelabError(
            f"{what} is {h}x{w}, not a multiple of the block side {s}: resize or crop the "
            f"image so the feature map is a multiple of {s} (e.g. {h - h % s or s}x{w - w % s or s})"
        )


def check_heads(channels: int, heads: int) -> None:
    if heads < 1 or channels % heads:
        raise StylelabError(
            f"{channels} channels cannot be split into {heads} heads; choose heads dividing "
            f"{channels} (e.g. {max(d for d in range(1, 9) if channels % d == 0)})"
        )


def block(x: torch.Tensor, s: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, n, r): n blocks of side s, row-major; positions row-major."""
    b, c = x.shape[:2]
    cols = F.unfold(x, kernel_size=s, stride=s)  # (B, C·r, n), channel-major
    return cols.view(b, c, s * s, -1).transpose(2, 3)  # (B, C, n, r)


def unblock(x: torch.Tensor, s: int, h: int, w: int) -> torch.Tensor:
    """The inverse of `block`: (B, C, n, r) -> (B, C, H, W)."""
    b, c, n, r = x.shape
    cols = x.transpose(2, 3).reshape(b, c * r, n)  # (B, C·r, n)
    return F.fold(cols, (h, w), kernel_size=s, stride=s)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, C, ...) -> (B, h, d, ...): contiguous channel groups, as the official code."""
    return x.view(x.shape[0], heads, x.shape[1] // heads, *x.shape[2:])


ALL_TO_ALL_BACKENDS = ("torch", "chunked", "numba", "cuda")
CHUNK_SCORES = 2**25  # "chunked": 32 M float32 scores (128 MiB) per slice of queries


def all_to_all(q, k, v, heads: int = 1, backend: str = "torch") -> torch.Tensor:
    """Attention of every query to every key: q (B, C, Hc, Wc), k, v (B, C, Hs, Ws).

    out[p] = Σ_j softmax_j(<q_p, k_j>) v_j per head, no 1/√d scaling (SANet).
    backend "torch": dense, stores the (B, h, Hc·Wc, Hs·Ws) scores (quadratic memory),
    autograd. "chunked": the same dense einsums over slices of the queries, so at most
    CHUNK_SCORES scores exist at once without autograd (with autograd every slice's
    softmax is kept for the backward, as dense). "numba": streamed with an online softmax
    (`kernels.attention_cpu`), memory linear in the pixels, no autograd. "cuda": the same
    stream on a GPU (`kernels.attention_cuda`; numba's simulator without one).
    """
    check_heads(q.shape[1], heads)
    check_heads(v.shape[1], heads)
    if backend not in ALL_TO_ALL_BACKENDS:
        raise StylelabError(f"unknown backend {backend!r}; valid: {', '.join(ALL_TO_ALL_BACKENDS)}")
    if backend in ("numba", "cuda"):
        return _all_to_all_streamed(q, k, v, heads, backend)
    b, _, hc, wc = q.shape
    qh = split_heads(q.flatten(2), heads)  # (B, h, d, Lq)
    kh, vh = split_heads(k.flatten(2), heads), split_heads(v.flatten(2), heads)  # (B, h, d|e, Lk)
    step = qh.shape[-1]
    if backend == "chunked":
        step = max(1, CHUNK_SCORES // (b * heads * kh.shape[-1]))
    outs = []
    for start in range(0, qh.shape[-1], step):
        part = qh[..., start : start + step]  # (B, h, d, step)
        scores = torch.einsum("bhdp,bhdj->bhpj", part, kh).softmax(dim=-1)  # (B, h, step, Lk)
        outs.append(torch.einsum("bhpj,bhej->bhep", scores, vh))  # (B, h, e, step)
    return torch.cat(outs, dim=-1).reshape(b, v.shape[1], hc, wc)


def aggregate_keys(k, v, alpha, beta):
    """DA's aggregated keys and values (eq. 7-8): k (B, h, d, n, r), v (B, h, e, n, r) ->
    (B, h, d, n), (B, h, e, n). Values may have other channels than keys (e != d)."""
    r = k.shape[-1]
    k_mean, v_mean = k.mean(dim=-1), v.mean(dim=-1)  # (B, h, d, n), (B, h, e, n)
    weight = torch.sigmoid(beta + alpha * torch.einsum("bhdx,bhdxy->bhxy", k_mean, k))
    k_agg = (torch.einsum("bhxy,bhdxy->bhdx", weight, k) + k_mean) / (r + 1)
    v_agg = (torch.einsum("bhxy,bhexy->bhex", weight, v) + v_mean) / (r + 1)
    return k_agg, v_agg


def blocked_heads(q, k, v, s: int, heads: int):
    """Checked, blocked and split into heads, as DA and PA both start:
    q -> (B, h, d, n_c, r), k -> (B, h, d, n_s, r), v -> (B, h, e, n_s, r)."""
    check_heads(q.shape[1], heads)
    check_heads(v.shape[1], heads)
    for x, what in ((q, "the query map"), (k, "the key map"), (v, "the value map")):
        check_blocks(x, s, what)
    return tuple(split_heads(block(x, s), heads) for x in (q, k, v))


def distributed_attention(
    q, k, v, s: int, heads: int, alpha=1.0, beta=0.0, backend: str = "torch"
) -> torch.Tensor:
    """DA (eq. 6-9): q (B, C, Hc, Wc), k, v (B, C, Hs, Ws) -> (B, C, Hc, Wc).

    Its attention step is all-to-all attention of every query to the n_s aggregated keys, so
    any `all_to_all` backend but "torch" runs it that way: "chunked" bounds the (B, h, Hc·Wc,
    n_s) scores, which at a fixed block side still grow as the square of the pixels
    (34 GB at a 512² map, s = 8); "numba" and "cuda" stream them. "torch" is the blocked
    einsum as the official code writes it.
    """
    h, w = q.shape[-2:]
    qb, kb, vb = blocked_heads(q, k, v, s, heads)
    k_agg, v_agg = aggregate_keys(kb, vb, alpha, beta)  # (B, h, d, n_s), (B, h, e, n_s)
    if backend != "torch":
        b, n = k_agg.shape[0], k_agg.shape[-1]
        k_map = k_agg.reshape(b, -1, 1, n)  # (B, C, 1, n_s): the aggregated keys as a map
        v_map = v_agg.reshape(b, -1, 1, n)
        return all_to_all(q, k_map, v_map, heads, backend)
    scores = torch.einsum("bhdxy,bhdz->bhyxz", qb, k_agg).softmax(dim=-1)  # (B, h, r, n_c, n_s)
    out = torch.einsum("bhyxz,bhez->bhexy", scores, v_agg)  # (B, h, e, n_c, r)
    return unblock(out.flatten(1, 2), s, h, w)


def match_blocks(qb: torch.Tensor, kb: torch.Tensor) -> torch.Tensor:
    """PA's coarse step (eq. 10): for each query block, the best position-aligned key block.

    qb (B, h, d, n_c, r), kb (B, h, d, n_s, r) -> index (B, h, n_c) into the n_s style blocks.
    """
    return torch.einsum("bhdxy,bhdzy->bhxz", qb, kb).argmax(dim=-1)


def progressive_attention(q, k, v, s: int, heads: int, match: bool = True) -> torch.Tensor:
    """PA (eq. 10-12): q (B, C, Hc, Wc), k, v (B, C, Hs, Ws) -> (B, C, Hc, Wc).

    match=False skips step 1 (an ablation): each query block attends inside the style block at
    the same position, so content and style maps must have the same size.
    """
    h, w = q.shape[-2:]
    qb, kb, vb = blocked_heads(q, k, v, s, heads)
    if match:
        idx = match_blocks(qb, kb)  # (B, h, n_c); argmax: no gradient
    elif q.shape[-2:] != k.shape[-2:]:
        raise StylelabError(
            f"PA without block matching pairs blocks by position: the query map is "
            f"{h}x{w} and the key map {k.shape[-2]}x{k.shape[-1]}; resize the style to the content"
        )
    else:
        idx = torch.arange(qb.shape[3], device=q.device).expand(*qb.shape[:2], -1)
    idx = idx[:, :, None, :, None]  # (B, h, 1, n_c, 1)
    k_match = kb.gather(3, idx.expand(-1, -1, kb.shape[2], -1, kb.shape[-1]))  # (B, h, d, n_c, r)
    v_match = vb.gather(3, idx.expand(-1, -1, vb.shape[2], -1, vb.shape[-1]))  # (B, h, e, n_c, r)
    scores = torch.einsum("bhdxy,bhdxz->bhxyz", qb, k_match).softmax(dim=-1)  # (B, h, n, r, r)
    out = torch.einsum("bhxyz,bhexz->bhexy", scores, v_match)  # (B, h, e, n_c, r)
    return unblock(out.flatten(1, 2), s, h, w)


def _all_to_all_streamed(q, k, v, heads: int, backend: str) -> torch.Tensor:
    """A streamed kernel, per sample: (B, C, H, W) maps -> (B, C, Hc, Wc) on q's device."""
    b, _, hc, wc = q.shape
    c = v.shape[1]
    outs = []
    for i in range(b):
        qh, kh, vh = (
            split_heads(x[i : i + 1].flatten(2), heads)[0].transpose(1, 2).detach()
            for x in (q, k, v)
        )  # (h, L, d)
        if backend == "cuda":
            from stylelab.kernels.attention_cuda import streamed_attention_cuda

            out = streamed_attention_cuda(qh.contiguous(), kh.contiguous(), vh.contiguous())
        else:
            from stylelab.kernels.attention_cpu import streamed_attention

            out = torch.from_numpy(
                streamed_attention(*(x.cpu().contiguous().numpy() for x in (qh, kh, vh)))
            )
        outs.append(out.transpose(1, 2).reshape(c, hc, wc).to(q.device))  # (h, Lq, d) -> map
    return torch.stack(outs)
