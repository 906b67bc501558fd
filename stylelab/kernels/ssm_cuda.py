"""Selective scan on an NVIDIA GPU with numba.cuda: float32 forward and adjoint backward.

One thread per (batch, channel) pair, a loop over t, the state h[N] in a local
array of fixed size MAX_STATE. The backward is the one of kernels/ssm_cpu.py
(mechanisms.md §8.1): recompute h, keep it every SEGMENT steps, replay the
segments in reverse. Sequences are passed time-major, (batch, L, D),
so the threads of a warp (neighbouring channels) read neighbouring addresses;
the N values of B_t and C_t are the same for every thread of a group, so they
are broadcast reads.

Without a GPU the same kernel runs under numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1, set before numba.cuda is first imported), which is how
the tests check it; the simulator runs each thread in Python, so tiny shapes only.

Moving tensors to the kernels and back is kernels/cuda_glue.py; the autograd glue this
tier shares with the CPU one (input layouts, summing the partial gradients) is kernels/glue.py.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from numba import cuda, float32, float64

from stylelab.kernels import require_cuda
from stylelab.kernels.cuda_glue import Device
from stylelab.kernels.glue import scan_gradients, scan_inputs, tensor_like
from stylelab.kernels.ssm_reference import SOFTPLUS_THRESHOLD  # softplus(x) = x above it

MAX_STATE = 64  # size of the per-thread state array; the dispatcher refuses larger N
SEGMENT = 16  # backward: steps between stored states (per thread (SEGMENT + 1) · N floats local)


@cuda.jit(device=True, fastmath=True)
def _step_size(raw, softplus):
    """Δ = softplus(raw) or raw (raw already includes delta_bias)."""
    if softplus and raw <= SOFTPLUS_THRESHOLD:
        return math.log1p(math.exp(raw))
    return raw


@cuda.jit(device=True, fastmath=True)
def _sigmoid(x):
    return float32(1.0) / (float32(1.0) + math.exp(-x))  # float32 literals: no float64 math


@cuda.jit(device=True)
def _task(u, B, C):
    """This thread's (batch b, channel d, group of B, group of C); b = -1 past the last task."""
    task = cuda.grid(1)
    n_batch, length, n_channels = u.shape
    if task >= n_batch * n_channels:
        return -1, 0, 0, 0
    b = task // n_channels
    d = task - b * n_channels
    return b, d, d // (n_channels // B.shape[1]), d // (n_channels // C.shape[1])


@cuda.jit(fastmath=True)
def scan_forward_kernel(u, delta, A, B, C, D, z, delta_bias, delta_softplus, has_z, y, last_state):
    """u, delta, z, y: (batch, L, D); A (D, N); B, C (batch, G, L, N); D, delta_bias (D,);
    last_state (batch, D, N). One thread per (b, d)."""
    b, d, g_B, g_C = _task(u, B, C)
    if b < 0:
        return
    length, n_state = u.shape[1], A.shape[1]
    h = cuda.local.array(MAX_STATE, float32)
    for n in range(n_state):
        h[n] = 0.0
    for t in range(length):
        dt = _step_size(delta[b, t, d] + delta_bias[d], delta_softplus)
        u_t = u[b, t, d]
        dt_u = dt * u_t
        y_t = float32(0.0)
        for n in range(n_state):
            h[n] = math.exp(dt * A[d, n]) * h[n] + dt_u * B[b, g_B, t, n]
            y_t += C[b, g_C, t, n] * h[n]
        y_t += D[d] * u_t
        if has_z:
            z_t = z[b, t, d]
            y_t *= z_t * _sigmoid(z_t)
        y[b, t, d] = y_t
    for n in range(n_state):
        last_state[b, d, n] = h[n]


@cuda.jit(fastmath=True)
def scan_backward_kernel(
    u, delta, A, B, C, D, z, delta_bias, delta_softplus, has_z, dout, dlast, checkpoints,
    du, ddelta, dz, dA_part, dB_part, dC_part, dD_part, dbias_part,
):  # fmt: skip
    """Gradients of scan_forward_kernel; see kernels/ssm_cpu.scan_backward for the formulas.

    Layouts as the forward, plus: dout, du, ddelta, dz (batch, L, D); dlast, dA_part
    (batch, D, N); checkpoints (batch, D, segments, N) scratch; dB_part, dC_part
    (batch, L, N, D) per channel (neighbouring threads write neighbouring addresses),
    summed over channels by the caller; dD_part, dbias_part (batch, D).
    """
    b, d, g_B, g_C = _task(u, B, C)
    if b < 0:
        return
    length, n_state = u.shape[1], A.shape[1]
    # 1. forward again, keeping h at the start of every segment
    h = cuda.local.array(MAX_STATE, float32)
    for n in range(n_state):
        h[n] = 0.0
    for t in range(length):
        if t % SEGMENT == 0:
            for n in range(n_state):
                checkpoints[b, d, t // SEGMENT, n] = h[n]
        dt = _step_size(delta[b, t, d] + delta_bias[d], delta_softplus)
        dt_u = dt * u[b, t, d]
        for n in range(n_state):
            h[n] = math.exp(dt * A[d, n]) * h[n] + dt_u * B[b, g_B, t, n]
    # 2. backward, one segment at a time from the last
    states = cuda.local.array((SEGMENT + 1, MAX_STATE), float32)  # h before step t0 + i
    decays = cuda.local.array((SEGMENT, MAX_STATE), float32)
    g_carry = cuda.local.array(MAX_STATE, float32)  # a_{t+1} g_{t+1}; dlast at t = L-1
    dA_acc = cuda.local.array(MAX_STATE, float64)
    for n in range(n_state):
        g_carry[n] = dlast[b, d, n]
        dA_acc[n] = 0.0
    dD_acc = float64(0.0)
    dbias_acc = float64(0.0)
    for segment in range(checkpoints.shape[2] - 1, -1, -1):
        t0 = segment * SEGMENT
        t1 = min(length, t0 + SEGMENT)
        for n in range(n_state):
            states[0, n] = checkpoints[b, d, segment, n]
        for t in range(t0, t1):
            i = t - t0
            dt = _step_size(delta[b, t, d] + delta_bias[d], delta_softplus)
            dt_u = dt * u[b, t, d]
            for n in range(n_state):
                a = math.exp(dt * A[d, n])
                decays[i, n] = a
                states[i + 1, n] = a * states[i, n] + dt_u * B[b, g_B, t, n]
        for t in range(t1 - 1, t0 - 1, -1):
            i = t - t0
            raw = delta[b, t, d] + delta_bias[d]
            dt = _step_size(raw, delta_softplus)
            u_t = u[b, t, d]
            dy = dout[b, t, d]
            if has_z:  # y = y_pre · SiLU(z)
                y_pre = D[d] * u_t
                for n in range(n_state):
                    y_pre += C[b, g_C, t, n] * states[i + 1, n]
                z_t = z[b, t, d]
                sig = _sigmoid(z_t)
                dz[b, t, d] = dy * y_pre * sig * (float32(1.0) + z_t * (float32(1.0) - sig))
                dy = dy * z_t * sig
            dD_acc += dy * u_t
            gha_A = float32(0.0)
            g_B_sum = float32(0.0)
            for n in range(n_state):
                g = C[b, g_C, t, n] * dy + g_carry[n]
                gha = g * states[i, n] * decays[i, n]  # g_t h_{t-1} a_t
                dA_acc[n] += gha * dt
                gha_A += gha * A[d, n]
                B_tn = B[b, g_B, t, n]
                g_B_sum += g * B_tn
                dB_part[b, t, n, d] = g * dt * u_t
                dC_part[b, t, n, d] = dy * states[i + 1, n]
                g_carry[n] = g * decays[i, n]
            ddt = gha_A + g_B_sum * u_t
            if delta_softplus and raw <= SOFTPLUS_THRESHOLD:
                ddt *= _sigmoid(raw)
            ddelta[b, t, d] = ddt
            dbias_acc += ddt
            du[b, t, d] = D[d] * dy + g_B_sum * dt
    for n in range(n_state):
        dA_part[b, d, n] = dA_acc[n]
    dD_part[b, d] = dD_acc
    dbias_part[b, d] = dbias_acc


class SelectiveScanCuda(torch.autograd.Function):
    """The CUDA forward and backward as one autograd op; outputs (y, last_state)."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus):
        dev = Device(u)
        n_batch, n_channels, length = u.shape
        y, y_dev = dev.empty(n_batch, length, n_channels)
        last, last_dev = dev.empty(n_batch, n_channels, A.shape[1])
        inputs = scan_inputs(dev.put, u, delta, A, B, C, D, z, delta_bias, sequences="b l d")
        flags = (bool(delta_softplus), z is not None)
        dev.launch(scan_forward_kernel, n_batch * n_channels, *inputs, *flags, y_dev, last_dev)
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        ctx.delta_softplus = bool(delta_softplus)
        y = rearrange(dev.get(y), "b l d -> b d l")
        return tensor_like(y, u), tensor_like(dev.get(last), u)

    @staticmethod
    def backward(ctx, dy, dlast):
        u, delta, A, B, C, D, z, delta_bias = ctx.saved_tensors
        dev = Device(u)
        n_batch, n_channels, length = u.shape
        n_state = A.shape[1]
        inputs = scan_inputs(dev.put, u, delta, A, B, C, D, z, delta_bias, sequences="b l d")
        dy = dev.put(rearrange(torch.zeros_like(u) if dy is None else dy, "b d l -> b l d"))
        dlast = dev.put(u.new_zeros(n_batch, n_channels, n_state) if dlast is None else dlast)
        segments = (length + SEGMENT - 1) // SEGMENT
        _, checkpoints = dev.empty(n_batch, n_channels, segments, n_state)
        per_step = [dev.empty(n_batch, length, n_channels) for _ in range(3)]  # du, ddelta, dz
        if z is None:  # the kernel writes dz only when there is a z
            per_step[2] = dev.empty(1, 1, 1)
        dA_part = dev.empty(n_batch, n_channels, n_state)
        dB_part = dev.empty(n_batch, length, n_state, n_channels)
        dC_part = dev.empty(n_batch, length, n_state, n_channels)
        dD_part, dbias_part = dev.empty(n_batch, n_channels), dev.empty(n_batch, n_channels)
        outs = [*per_step, dA_part, dB_part, dC_part, dD_part, dbias_part]
        flags = (ctx.delta_softplus, z is not None)
        dev.launch(
            scan_backward_kernel, n_batch * n_channels, *inputs, *flags, dy, dlast, checkpoints,
            *(device_array for _, device_array in outs),
        )  # fmt: skip
        du, ddelta, dz, dA, dB, dC, dD, dbias = (dev.get(handle) for handle, _ in outs)
        du, ddelta, dz = (rearrange(g, "b l d -> b d l") for g in (du, ddelta, dz))
        return scan_gradients(
            ctx.saved_tensors, du, ddelta, dz, dA, dB, dC, dD, dbias, layout="b l n d"
        )


def selective_scan_cuda(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """The cuda tier: (y, last_state), float32 inside, in u's dtype on u's device; autograd ok.

    Arguments as `ssm_reference.selective_scan_reference` (D, z, delta_bias may be None),
    assumed checked: `stylelab.ssm.selective_scan` checks them and picks the outputs. CPU
    tensors are copied to the GPU and back (or run on the simulator).
    """
    require_cuda("selective_scan")
    return SelectiveScanCuda.apply(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
