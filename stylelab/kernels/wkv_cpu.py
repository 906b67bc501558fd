"""WKV and Bi-WKV as numba CPU kernels: forward and backward, O(T) per (batch, channel).

One parametrisation serves both ops. Per channel, lam is the log of the per-step decay factor
and mu the log of the bonus for the token itself:

    causal WKV:  lam = w,    mu = u        (w < 0 decays)
    Bi-WKV:      lam = -w/T, mu = u/T      (w > 0 decays)

    past side    S⁻_t = Σ_{i<t} e^{(t-1-i)·lam + k_i} v_i         S⁻_{t+1} = e^{lam} S⁻_t + e^{k_t} v_t
    future side  S⁺_t = Σ_{i>t} e^{(i-1-t)·lam + k_i} v_i         (the same recurrence run backwards)
    y_t = (S⁻_t + S⁺_t + e^{mu+k_t} v_t) / (Z⁻_t + Z⁺_t + e^{mu+k_t})      (Z: the same with v = 1)

The causal op has no future side. Each running sum is stored as (p, q, o): S = e^{o}·p and
Z = e^{o}·q, with o the running maximum of the exponents. Every e^{...} computed is therefore
e^{≤ 0}: nothing overflows, whatever |k| is (the RWKV-4 trick, mechanisms.md §5.1, §5.2).
After normalisation the denominator is >= 1, so no EPS is needed (see stylelab/rwkv/wkv.py).

Backward. With D_t the full denominator and P_{t,i} = a_{t,i} e^{k_i} / D_t the attention
weight of token i in output t (0 <= P <= 1), and g_t = dLoss/dy_t:

    dv_i   = Σ_t P_{t,i} g_t
    dk_i   = Σ_t P_{t,i} g_t (v_i - y_t)      = v_i·dv_i - Σ_t P_{t,i} g_t y_t
    dmu    = Σ_t P_{t,t} g_t (v_t - y_t)
    dlam   = Σ_t g_t ∂y_t/∂lam,   ∂y_t/∂lam = (N'_t - y_t D'_t) / D_t

N'_t and D'_t (d/dlam of numerator and denominator) come from two extra accumulators in the
forward recurrence: S'_{t+1} = e^{lam} (S'_t + S_t). The sums Σ_t P_{t,i} X_t are the same
running-max recurrences with the roles swapped: keys -log D_t, values X_t = g_t and g_t y_t,
scanned in the opposite direction (P is the transpose of the forward weights). In log space
k_i + o_i = max_t log P_{t,i} <= 0, so these are overflow-free too.

Accumulators are float64 (inputs may be float32): the CPU path is the accurate one the book
compares everything with, and float64 costs little here since the loop is latency-bound.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

NEG_INF = -np.inf


@njit(cache=True, inline="always")
def _rescale(old, key):
    """(e^{old - m}, e^{key - m}, m) with m = max(old, key): one of the two factors is 1.

    Branching saves one of two exponentials, the cost of these loops.
    """
    if old >= key:
        return 1.0, math.exp(key - old), old
    return math.exp(old - key), 1.0, key


@njit(cache=True, inline="always")
def _scaled(x, m):
    """e^{x - m} for x <= m, skipping the exp where the answer is known (1 at the max, 0 for an
    empty sum): exponentials are what these loops spend their time on."""
    if x == m:
        return 1.0
    if x == NEG_INF:
        return 0.0
    return math.exp(x - m)


@njit(cache=True, inline="always")
def _push(p, q, o, lam, key, val):
    """One step of S <- e^{lam} S + e^{key} val, Z <- e^{lam} Z + e^{key} in (p, q, o) form.

    With m = max(o + lam, key): p <- e^{o+lam-m} p + e^{key-m} val, q likewise, o <- m.
    """
    a, b, new_o = _rescale(o + lam, key)
    return a * p + b * val, a * q + b, new_o


@njit(parallel=True, cache=True)
def wkv_forward(lam, mu, k, v, bidirectional):
    """y (B, C, T). lam, mu: (C,); k, v: (B, C, T) contiguous (channels before time)."""
    batch, channels, length = k.shape
    y = np.empty(k.shape, dtype=k.dtype)
    for bc in prange(batch * channels):
        b, c = bc // channels, bc % channels
        lam_c, mu_c = float(lam[c]), float(mu[c])
        # future side, stored per t: (p⁺, q⁺, o⁺)[t] sums over i > t
        pf = np.zeros(length)
        qf = np.zeros(length)
        of = np.full(length, NEG_INF)
        if bidirectional:
            p, q, o = 0.0, 0.0, NEG_INF
            for t in range(length - 1, -1, -1):
                pf[t], qf[t], of[t] = p, q, o
                p, q, o = _push(p, q, o, lam_c, float(k[b, c, t]), float(v[b, c, t]))
        # past side, running; combine with the future side and the bonus term
        p, q, o = 0.0, 0.0, NEG_INF
        for t in range(length):
            kt, vt = float(k[b, c, t]), float(v[b, c, t])
            m = max(o, of[t], mu_c + kt)
            e1, e2, e3 = _scaled(o, m), _scaled(of[t], m), _scaled(mu_c + kt, m)
            y[b, c, t] = (e1 * p + e2 * pf[t] + e3 * vt) / (e1 * q + e2 * qf[t] + e3)
            p, q, o = _push(p, q, o, lam_c, kt, vt)
    return y


@njit(cache=True, inline="always")
def _push_d(p, q, pd, qd, o, lam, key, val):
    """`_push` that also carries d/dlam of both sums: S' <- e^{lam} (S' + S)."""
    a, b, new_o = _rescale(o + lam, key)
    return a * p + b * val, a * q + b, a * (pd + p), a * (qd + q), new_o


@njit(cache=True, inline="always")
def _push_grad(s1, s2, o, lam, key, x1, x2):
    """S <- e^{lam} S + e^{key} x for two value streams sharing one scale (no denominator)."""
    a, b, new_o = _rescale(o + lam, key)
    return a * s1 + b * x1, a * s2 + b * x2, new_o


@njit(parallel=True, cache=True)
def wkv_backward(lam, mu, k, v, gy, bidirectional):
    """Gradients (dk, dv (B, C, T), dlam, dmu (B, C)) for upstream gy (B, C, T)."""
    batch, channels, length = k.shape
    dk = np.empty(k.shape, dtype=k.dtype)
    dv = np.empty(k.shape, dtype=k.dtype)
    dlam = np.zeros((batch, channels))
    dmu = np.zeros((batch, channels))
    for bc in prange(batch * channels):
        b, c = bc // channels, bc % channels
        lam_c, mu_c = float(lam[c]), float(mu[c])
        # 1. future side of the forward sums, with d/dlam accumulators
        pf = np.zeros(length)
        qf = np.zeros(length)
        pdf = np.zeros(length)
        qdf = np.zeros(length)
        of = np.full(length, NEG_INF)
        if bidirectional:
            p, q, pd, qd, o = 0.0, 0.0, 0.0, 0.0, NEG_INF
            for t in range(length - 1, -1, -1):
                pf[t], qf[t], pdf[t], qdf[t], of[t] = p, q, pd, qd, o
                kt, vt = float(k[b, c, t]), float(v[b, c, t])
                p, q, pd, qd, o = _push_d(p, q, pd, qd, o, lam_c, kt, vt)
        # 2. past side: y_t, log D_t, dlam, dmu; and the gradient sums over t < i (Bi-WKV only)
        y = np.empty(length)
        log_den = np.empty(length)
        gv = np.empty(length)  # Σ_t P_{t,i} g_t        (past + self parts so far)
        gyy = np.empty(length)  # Σ_t P_{t,i} g_t y_t
        p, q, pd, qd, o = 0.0, 0.0, 0.0, 0.0, NEG_INF
        s1, s2, og = 0.0, 0.0, NEG_INF  # gradient sums over t < i, keys -log D_t
        acc_lam, acc_mu = 0.0, 0.0
        for t in range(length):
            kt, vt, gt = float(k[b, c, t]), float(v[b, c, t]), float(gy[b, c, t])
            m = max(o, of[t], mu_c + kt)
            e1, e2, e3 = _scaled(o, m), _scaled(of[t], m), _scaled(mu_c + kt, m)
            den = e1 * q + e2 * qf[t] + e3
            yt = (e1 * p + e2 * pf[t] + e3 * vt) / den
            num_d = e1 * pd + e2 * pdf[t]
            den_d = e1 * qd + e2 * qdf[t]
            acc_lam += gt * (num_d - yt * den_d) / den
            p_self = e3 / den  # P_{t,t}
            acc_mu += gt * p_self * (vt - yt)
            y[t] = yt
            log_den[t] = m + math.log(den)
            # self term, plus (Bi-WKV) the outputs t' < t that attend to token t
            gv[t] = p_self * gt
            gyy[t] = p_self * gt * yt
            if bidirectional:
                scale = _scaled(kt + og, 0.0)  # = max_{t'<t} P_{t',t} <= 1
                gv[t] += scale * s1
                gyy[t] += scale * s2
                s1, s2, og = _push_grad(s1, s2, og, lam_c, -log_den[t], gt, gt * yt)
            p, q, pd, qd, o = _push_d(p, q, pd, qd, o, lam_c, kt, vt)
        dlam[b, c] = acc_lam
        dmu[b, c] = acc_mu
        # 3. outputs t' > t that attend to token t (both ops), then dk, dv
        s1, s2, og = 0.0, 0.0, NEG_INF
        for t in range(length - 1, -1, -1):
            kt, vt, gt = float(k[b, c, t]), float(v[b, c, t]), float(gy[b, c, t])
            scale = _scaled(kt + og, 0.0)
            g_v = gv[t] + scale * s1
            g_yy = gyy[t] + scale * s2
            dv[b, c, t] = g_v
            dk[b, c, t] = vt * g_v - g_yy
            s1, s2, og = _push_grad(s1, s2, og, lam_c, -log_den[t], gt, gt * y[t])
    return dk, dv, dlam, dmu
