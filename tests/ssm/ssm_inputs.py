"""Inputs of the selective scan for tests/ssm: fixed random ones, and drawn ones (hypothesis).

A module of its own so that test_ssm.py holds the tests; pytest puts this folder on sys.path.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

OPTIONS = ("D", "z", "delta_bias", "delta_softplus", "return_last_state")


def make_inputs(
    seed, batch, channels, state, length, groups_B, groups_C, options, dtype=torch.float64
):
    """Random S6 inputs for the fixed-example tests (the property tests draw theirs, `cases`).

    groups_*: None for (batch, N, L), else G for (batch, G, N, L). Without softplus the raw
    delta is the step size itself, so it is drawn positive.
    """
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=torch.float64)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    softplus = "delta_softplus" in options
    x = {
        "u": randn(batch, channels, length),
        "delta": randn(batch, channels, length)
        if softplus
        else 0.01 + rand(batch, channels, length),
        "A": -(0.1 + 3 * rand(channels, state)),
    }
    for name, groups in (("B", groups_B), ("C", groups_C)):
        shape = (batch, state, length) if groups is None else (batch, groups, state, length)
        x[name] = randn(*shape)
    kwargs = {
        "D": randn(channels) if "D" in options else None,
        "z": randn(batch, channels, length) if "z" in options else None,
        "delta_bias": (randn(channels) if softplus else 0.5 * rand(channels))
        if "delta_bias" in options
        else None,
    }
    x = {k: v.to(dtype) for k, v in x.items()}
    kwargs = {k: None if v is None else v.to(dtype) for k, v in kwargs.items()}
    kwargs["delta_softplus"] = softplus
    kwargs["return_last_state"] = "return_last_state" in options
    return x, kwargs


def floats(low, high, tiny=1e-3):
    """Floats in [low, high], with |x| < tiny drawn as 0. Hypothesis likes 1e-300 and
    subnormals; float32 has no such numbers, and outputs made of their products would put
    the float32 tolerance (relative to the largest output) below float32's range."""
    return st.floats(low, high).map(lambda x: 0.0 if abs(x) < tiny else x)


# Element ranges. The raw step size with softplus reaches 25 + 5 = 30 (above
# SOFTPLUS_THRESHOLD = 20 the kernels take softplus(x) = x) and down to -20 (Δ ~ 2e-9);
# without softplus delta is the step size itself, down to 1e-6.
VALUES = floats(-3, 3)
DELTA = {True: floats(-15, 25), False: st.floats(1e-6, 1)}
DELTA_BIAS = {True: floats(-5, 5), False: st.floats(0, 0.5)}
DECAY_RATES = st.floats(-3.1, -0.1)  # A; Mamba's init is A = -(1, 2, ..., N)
STATES = st.integers(1, 5)


@st.composite
def cases(draw, max_length=40, states=STATES):
    """(inputs, options) for selective_scan with drawn values: B <= 2, D <= 6, N from
    `states` (<= 5 unless told), L <= max_length, B and C grouped or not, any options.
    Large arrays are drawn the hypothesis way, a fill value plus scattered elements, so
    failures shrink to few values."""
    batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 6))
    state, length = draw(states), draw(st.integers(1, max_length))
    divisors = [g for g in range(1, channels + 1) if channels % g == 0]
    options = draw(st.sets(st.sampled_from(OPTIONS)))
    softplus = "delta_softplus" in options

    def tensor(shape, elements, dense=False):
        fill = st.nothing() if dense else None  # small arrays: every element drawn
        return torch.from_numpy(draw(arrays(np.float64, shape, elements=elements, fill=fill)))

    sequence = (batch, channels, length)
    x = {
        "u": tensor(sequence, VALUES),
        "delta": tensor(sequence, DELTA[softplus]),
        "A": tensor((channels, state), DECAY_RATES, dense=True),
    }
    for name in ("B", "C"):
        groups = draw(st.one_of(st.none(), st.sampled_from(divisors)))
        shape = (batch, state, length) if groups is None else (batch, groups, state, length)
        x[name] = tensor(shape, VALUES)
    kwargs = {
        "D": tensor((channels,), VALUES, dense=True) if "D" in options else None,
        "z": tensor(sequence, VALUES) if "z" in options else None,
        "delta_bias": tensor((channels,), DELTA_BIAS[softplus], dense=True)
        if "delta_bias" in options
        else None,
        "delta_softplus": softplus,
        "return_last_state": "return_last_state" in options,
    }
    return x, kwargs


def with_dtype(case, dtype):
    x, kwargs = case
    return (
        {k: v.to(dtype) for k, v in x.items()},
        {k: v.to(dtype) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()},
    )


def beyond_softplus_threshold_case():
    """Raw step sizes delta + delta_bias in [21, 31], [-5, 5] and [15, 25] in turn along t,
    in every channel: both sides of SOFTPLUS_THRESHOLD = 20, above which softplus(x) = x.

    A runs from -0.05 to -4 along N, so at Δ ~ 25 the decay exp(ΔA) goes from e^-1.25 (the
    state remembers, and the comparison sees the decay) to e^-100 (0 in float32, 4e-44 in
    float64): memory and resets in one sequence. B is grouped, C plain.
    """
    g = torch.Generator().manual_seed(6)
    batch, channels, state, length = 1, 3, 4, 12

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    low = torch.tensor([21.0, -5.0, 15.0], dtype=torch.float64)[torch.arange(length) % 3]
    raw = low + 10 * torch.rand(batch, channels, length, generator=g, dtype=torch.float64)
    delta_bias = torch.tensor([2.0, -3.0, 0.5], dtype=torch.float64)
    x = {
        "u": randn(batch, channels, length),
        "delta": raw - delta_bias[:, None],
        "A": -torch.tensor([0.05, 0.3, 1.0, 4.0], dtype=torch.float64).repeat(channels, 1),
        "B": randn(batch, channels, state, length),
        "C": randn(batch, state, length),
    }
    kw = {"D": randn(channels), "z": randn(batch, channels, length), "delta_bias": delta_bias}
    kw.update(delta_softplus=True, return_last_state=True)
    return x, kw
