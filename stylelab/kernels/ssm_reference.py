"""The selective scan (Mamba S6) as plain Python loops: the spec every fast path is tested against.

Written to be read, not run on real sizes: one float64 scalar at a time, four
nested loops over batch b, channel d, time t and state index n. Per channel d
and state index n (mechanisms.md §4.1):

    Δ_t  = softplus(Δraw_t + bias_d)       (or Δraw_t + bias_d without softplus)
    h_t  = exp(Δ_t A[d, n]) · h_{t-1} + Δ_t · B_t[n] · u_t,     h_{-1} = 0
    y_t  = Σ_n C_t[n] · h_t[n] + D[d] · u_t
    y_t ← y_t · SiLU(z_t)                  (only when z is given)

The decay exp(Δ A) is the zero-order hold of A; the input term Δ·B·u is the Euler
step on B that the released Mamba kernels use (not the exact ZOH (exp(ΔA)-1)/A·B).
"""

from __future__ import annotations

import math

import numpy as np

SOFTPLUS_THRESHOLD = 20.0  # softplus(x) = x above this, as in torch and Mamba's kernels


def softplus(x: float) -> float:
    """log(1 + e^x), written so that e^x never overflows; x itself above SOFTPLUS_THRESHOLD.

    The threshold is torch.nn.functional.softplus's and the Mamba kernels', so every tier
    computes one function; the term it drops, log(1 + e^-x) < 2.1e-9, is below float32's
    resolution of x there.
    """
    if x > SOFTPLUS_THRESHOLD:
        return x
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def silu(x: float) -> float:
    """x · sigmoid(x), the gate Mamba puts on its output."""
    return x / (1.0 + math.exp(-x))


def as_groups(M) -> np.ndarray:
    """B or C as float64 (batch, G, N, L); the ungrouped form (batch, N, L) is G = 1."""
    M = np.asarray(M, dtype=np.float64)
    return M[:, None] if M.ndim == 3 else M


def selective_scan_reference(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
):
    """The S6 selective scan, one multiply-add at a time.

    Shapes: u, delta, z (batch, D, L); A (D, N); B, C (batch, N, L) or grouped
    (batch, G, N, L) where channel d reads group d // (D / G); D, delta_bias (D,).
    Inputs may be numpy arrays or tensors; they are read as float64.
    Returns y (batch, D, L) as a float64 numpy array, and the last state
    (batch, D, N) too when `return_last_state`.
    """
    u = np.asarray(u, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    B, C = as_groups(B), as_groups(C)
    D, z, delta_bias = (
        None if x is None else np.asarray(x, np.float64) for x in (D, z, delta_bias)
    )
    n_batch, n_channels, length = u.shape
    n_state = A.shape[1]
    channels_per_B_group = n_channels // B.shape[1]
    channels_per_C_group = n_channels // C.shape[1]

    y = np.zeros((n_batch, n_channels, length))
    last_state = np.zeros((n_batch, n_channels, n_state))
    for b in range(n_batch):
        for d in range(n_channels):
            gB = d // channels_per_B_group  # the group of B that channel d reads
            gC = d // channels_per_C_group
            h = [0.0] * n_state  # h_{-1} = 0
            for t in range(length):
                dt = delta[b, d, t]
                if delta_bias is not None:
                    dt += delta_bias[d]
                if delta_softplus:
                    dt = softplus(dt)
                y_t = 0.0
                for n in range(n_state):
                    decay = math.exp(dt * A[d, n])  # in (0, 1] when A <= 0
                    h[n] = decay * h[n] + dt * B[b, gB, n, t] * u[b, d, t]
                    y_t += C[b, gC, n, t] * h[n]
                if D is not None:
                    y_t += D[d] * u[b, d, t]
                if z is not None:
                    y_t *= silu(z[b, d, t])
                y[b, d, t] = y_t
            last_state[b, d] = h
    return (y, last_state) if return_last_state else y
