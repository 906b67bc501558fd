"""Attention as plain loops, per query and per key: the spec `stylelab.attention` is tested
against. Written from the equations (StyA2K, Zhu et al. ICCV 2023, eq. 6-14; mechanisms.md
§3.2), slow and obvious, float64, for tiny inputs.

Notation, one sample (no batch axis), C channels split into `heads` groups of d = C / heads:

    blocks     a (C, H, W) map cut into n = (H/s)(W/s) blocks of r = s² positions, blocks in
               row-major order over the block grid, positions row-major inside a block
    all-to-all out[p] = Σ_j softmax_j(<q_p, k_j>) v_j            over every key position j
    DA         k̄_x = mean_y k[x, y];  w_xy = sigmoid(α <k̄_x, k[x, y]> + β)
               K̂_x = (Σ_y w_xy k[x, y] + k̄_x) / (r + 1),  V̂_x the same with v and v̄_x
               out[x, y] = Σ_z softmax_z(<q[x, y], K̂_z>) V̂_z
    PA         z*(x) = argmax_z Σ_y <q[x, y], k[z, y]>   (the position-aligned block score)
               out[x, y] = Σ_y' softmax_y'(<q[x, y], k[z*, y']>) v[z*, y']

No 1/√d scaling anywhere (as the official code). Softmax subtracts the row maximum, so large
logits do not overflow.
"""

from __future__ import annotations

import math

import numpy as np

from stylelab.kernels.stats_reference import as_float64


def softmax_reference(logits) -> list[float]:
    """Softmax of a list of numbers, the largest subtracted first (no overflow)."""
    top = max(logits)
    weights = [math.exp(v - top) for v in logits]
    total = sum(weights)
    return [w / total for w in weights]


def sigmoid_reference(z: float) -> float:
    """1 / (1 + e^-z), written so that neither branch overflows."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    return math.exp(z) / (1.0 + math.exp(z))


def attention_reference(q, k, v) -> np.ndarray:
    """q (Lq, d), k (Lk, d), v (Lk, dv) -> (Lq, dv): every query against every key."""
    q, k, v = as_float64(q), as_float64(k), as_float64(v)
    out = np.zeros((q.shape[0], v.shape[1]))
    for p in range(q.shape[0]):
        logits = [float(np.dot(q[p], k[j])) for j in range(k.shape[0])]
        for j, a in enumerate(softmax_reference(logits)):
            out[p] += a * v[j]
    return out


def blocks_reference(x, s: int) -> np.ndarray:
    """(C, H, W) -> (n, r, C): block b = (i, j) of the block grid holds x[:, i s : (i+1) s, ...]."""
    x = as_float64(x)
    c, h, w = x.shape
    out = []
    for i in range(h // s):
        for j in range(w // s):
            patch = x[:, i * s : (i + 1) * s, j * s : (j + 1) * s]  # (C, s, s)
            out.append(patch.reshape(c, s * s).T)  # (r, C), positions row-major
    return np.stack(out)


def unblocks_reference(blocks, s: int, h: int, w: int) -> np.ndarray:
    """The inverse of `blocks_reference`: (n, r, C) -> (C, H, W)."""
    n, r, c = blocks.shape
    out = np.zeros((c, h, w))
    grid_w = w // s
    for b in range(n):
        i, j = divmod(b, grid_w)
        out[:, i * s : (i + 1) * s, j * s : (j + 1) * s] = blocks[b].T.reshape(c, s, s)
    return out


def _heads(x_blocks, heads: int, head: int) -> np.ndarray:
    """The channels of one head: (n, r, C) -> (n, r, d)."""
    d = x_blocks.shape[-1] // heads
    return x_blocks[..., head * d : (head + 1) * d]


def distributed_attention_reference(
    q, k, v, s: int, heads: int, alpha: float = 1.0, beta: float = 0.0
) -> np.ndarray:
    """DA (eq. 6-9): q (C, Hc, Wc), k and v (C, Hs, Ws) -> (C, Hc, Wc)."""
    qb, kb, vb = blocks_reference(q, s), blocks_reference(k, s), blocks_reference(v, s)
    out = np.zeros((*qb.shape[:2], vb.shape[-1]))  # (n_c, r, C_v): values may differ from C
    r = kb.shape[1]
    for head in range(heads):
        qh, kh, vh = (_heads(t, heads, head) for t in (qb, kb, vb))
        keys, values = [], []
        for x in range(kh.shape[0]):  # one aggregated key and value per style block
            k_mean, v_mean = kh[x].mean(axis=0), vh[x].mean(axis=0)  # (d,)
            k_agg, v_agg = k_mean.copy(), v_mean.copy()
            for y in range(r):
                weight = sigmoid_reference(alpha * float(np.dot(k_mean, kh[x, y])) + beta)
                k_agg += weight * kh[x, y]
                v_agg += weight * vh[x, y]
            keys.append(k_agg / (r + 1))
            values.append(v_agg / (r + 1))
        keys, values = np.stack(keys), np.stack(values)  # (n_s, d), (n_s, e)
        e = vh.shape[-1]
        for x in range(qh.shape[0]):
            out[x, :, head * e : (head + 1) * e] = attention_reference(qh[x], keys, values)
    return unblocks_reference(out, s, *as_float64(q).shape[1:])


def progressive_attention_reference(q, k, v, s: int, heads: int) -> np.ndarray:
    """PA (eq. 10-12): q (C, Hc, Wc), k and v (C, Hs, Ws) -> (C, Hc, Wc)."""
    qb, kb, vb = blocks_reference(q, s), blocks_reference(k, s), blocks_reference(v, s)
    out = np.zeros((*qb.shape[:2], vb.shape[-1]))  # (n_c, r, C_v)
    for head in range(heads):
        qh, kh, vh = (_heads(t, heads, head) for t in (qb, kb, vb))
        d = vh.shape[-1]
        for x in range(qh.shape[0]):
            # coarse: the style block whose positions best match this block's, position by position
            scores = [float((qh[x] * kh[z]).sum()) for z in range(kh.shape[0])]
            best = int(np.argmax(scores))  # the first of equal maxima, as torch.argmax
            out[x, :, head * d : (head + 1) * d] = attention_reference(qh[x], kh[best], vh[best])
    return unblocks_reference(out, s, *as_float64(q).shape[1:])


def mvn_reference(x, eps: float = 1e-5) -> np.ndarray:
    """(C, H, W): each channel minus its mean, over sqrt(unbiased variance + eps)."""
    x = as_float64(x)
    out = np.empty_like(x)
    for c in range(x.shape[0]):
        mean = x[c].mean()
        std = math.sqrt(((x[c] - mean) ** 2).sum() / (x[c].size - 1) + eps)
        out[c] = (x[c] - mean) / std
    return out


def conv1x1_reference(x, weight, bias) -> np.ndarray:
    """(C_in, H, W), weight (C_out, C_in, 1, 1), bias (C_out,) -> (C_out, H, W)."""
    x, weight, bias = as_float64(x), as_float64(weight)[:, :, 0, 0], as_float64(bias)
    out = np.zeros((weight.shape[0], *x.shape[1:]))
    for o in range(weight.shape[0]):
        out[o] = bias[o] + sum(weight[o, i] * x[i] for i in range(x.shape[0]))
    return out


def a2k_reference(content, style, params: dict, s: int, heads: int) -> np.ndarray:
    """One A2K layer (eq. 13-14) on one sample: (C, Hc, Wc), (C, Hs, Ws) -> (C, Hc, Wc).

    params: the official names, {"q.weight", "q.bias", ..., "fusion2.bias", "sim_alpha",
    "sim_beta"} (see `stylelab.attention.A2K.from_official_state_dict`).
    """

    def conv(name, x):
        return conv1x1_reference(x, params[f"{name}.weight"], params[f"{name}.bias"])

    nc, ns = mvn_reference(content), mvn_reference(style)
    alpha, beta = float(np.ravel(params["sim_alpha"])[0]), float(np.ravel(params["sim_beta"])[0])
    da = distributed_attention_reference(
        conv("q", nc), conv("k", ns), conv("v", style), s, heads, alpha, beta
    )
    pa = progressive_attention_reference(
        conv("q2", nc), conv("k2", ns), conv("v2", style), s, heads
    )
    return as_float64(content) + conv("fusion1", da) + conv("fusion2", pa)
