"""The parallel (log-step) scan of a linear recurrence, as chapter 3 teaches it.

    h_t = a_t h_{t-1} + b_t,   h_{-1} = 0

Steps compose: (a_1, b_1) then (a_2, b_2) is the one step (a_2 a_1, a_2 b_1 + b_2), and
that composition is associative, so all prefixes come out of ceil(log2 L) rounds, each
combining every element with the one 2^r steps back (Hillis and Steele 1986). Span log2 L,
work L log2 L: what a GPU with many idle lanes wants, and what a two-core CPU pays for
(the chapter times it against the serial kernel). The selective scan with one state and
B = C = 1 is this recurrence with a = exp(Δ A), b = Δ u.

Vectorised torch, like the other torch tiers of `stylelab.ssm`; not used by the models.
"""

from __future__ import annotations

import torch


def hillis_steele(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All prefixes h of h_t = a_t h_{t-1} + b_t (h_{-1} = 0); a, b (..., L) -> h (..., L)."""
    shift = 1
    while shift < a.shape[-1]:
        # combine each step with the one `shift` back: (a, b) <- (a · a_prev, a · b_prev + b)
        b = torch.cat([b[..., :shift], a[..., shift:] * b[..., :-shift] + b[..., shift:]], -1)
        a = torch.cat([a[..., :shift], a[..., shift:] * a[..., :-shift]], -1)
        shift *= 2
    return b
