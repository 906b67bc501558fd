"""The StyTr² family's loss (mechanisms §1.3), shared by Mamba-ST and StyleRWKV.

    L = 7 Lc + 10 Ls + 70 Lid1 + 1 Lid2, on a frozen encoder:

    Lc    content: MSE of mean-variance-normalised features of the output and the content,
          at the encoder's content tap and its deepest tap (relu4_1 and relu5_1 on VGG)
    Ls    style: MSE of channel means plus MSE of channel stds, over the style taps and the
          deepest tap
    Lid1  identity in pixels: the network run on (c, c) must give c back, on (s, s) give s
    Lid2  identity in features: the same, as MSE of the raw features over the style taps

The network runs once on 3N pairs; `out` stacks its outputs as [(c, s); (c, c); (s, s)].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.stats import mean_std, mvn

LOSS_WEIGHTS = {"content": 7.0, "style": 10.0, "identity_pixels": 70.0, "identity_features": 1.0}

# config.json keys (the CLI's --style-weight and --identity-weight among them) -> loss terms
WEIGHT_KEYS = {
    "content_weight": "content",
    "style_weight": "style",
    "identity_weight": "identity_pixels",
    "identity_features_weight": "identity_features",
}


def stytr_taps(encoder: nn.Module) -> tuple[list[str], list[str]]:
    """(content taps, style taps) of an encoder: its own, each with its deepest tap added."""
    deepest = encoder.taps[-1]
    content = list(dict.fromkeys([encoder.content_tap, deepest]))
    style = list(dict.fromkeys([*encoder.style_taps, deepest]))
    return content, style


def stytr_loss(encoder, out, content, style, weights: dict) -> tuple[torch.Tensor, dict]:
    """out (3N, 3, S, S) = [(c, s); (c, c); (s, s)], content and style (N, 3, S, S)
    -> (L, {term: float} with "total")."""
    content_taps, style_taps = stytr_taps(encoder)
    taps = list(dict.fromkeys([*content_taps, *style_taps]))
    n = content.shape[0]
    with torch.no_grad():
        f_ref = encoder(torch.cat([content, style]), taps=taps)
    fo = encoder(out, taps=taps)  # (3N, ...) per tap
    fc = {t: f[:n] for t, f in f_ref.items()}
    fs = {t: f[n:] for t, f in f_ref.items()}
    loss_c = sum(F.mse_loss(mvn(fo[t][:n]), mvn(fc[t])) for t in content_taps)
    loss_s = 0.0
    for t in style_taps:
        (mo, so), (ms, ss) = mean_std(fo[t][:n]), mean_std(fs[t])
        loss_s = loss_s + F.mse_loss(mo, ms) + F.mse_loss(so, ss)
    loss_id1 = F.mse_loss(out[n : 2 * n], content) + F.mse_loss(out[2 * n :], style)
    loss_id2 = sum(
        F.mse_loss(fo[t][n : 2 * n], fc[t]) + F.mse_loss(fo[t][2 * n :], fs[t]) for t in style_taps
    )
    named = {
        "content": loss_c,
        "style": loss_s,
        "identity_pixels": loss_id1,
        "identity_features": loss_id2,
    }
    total = sum(weights[k] * v for k, v in named.items())
    terms = {k: float(v.detach()) for k, v in (*named.items(), ("total", total))}
    return total, terms


def loss_weights_from(config: dict) -> dict:
    """The loss weights a config names: "loss_weights", then the WEIGHT_KEYS on top."""
    weights = dict(config.get("loss_weights") or {})
    weights.update({term: config[key] for key, term in WEIGHT_KEYS.items() if key in config})
    return weights
