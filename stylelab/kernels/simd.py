"""The selective scan's time loop for N = 16 states, written as LLVM vector IR (8 float32 lanes).

With N = 16, the state h of one channel is two 8-lane vectors (two AVX2 registers). Written as
numba loops over n, LLVM vectorises the n-loop but keeps h in memory between steps and spills
its constants; `scan16` instead builds the whole loop over t in LLVM IR through an
`@intrinsic`: h lives in two SSA vectors (registers), the N exponentials of a step are two
vector `exp8`s, those of a block of 8 steps all come before the block's recurrence (they do
not depend on h; so ordered, LLVM schedules them as one stream, as in the exp benchmark),
and y_t = <C_t, h_t> is reduced eight steps at a time by one transposed
reduction (`_sums8`, 7 vector adds and shuffles for 8 outputs) instead of one horizontal sum
per step. The fastmath pass of the calling numba function gives these fadd/fmul the same
flags as the rest of the kernel (so LLVM contracts them into FMAs).

Numba's on-disk cache keys a function on its own source file only: after editing this
file, touch ssm_cpu.py (or clear its __pycache__) so that the kernels are compiled again.

`exp8` is `ssm_cpu.exp32` lane by lane: the same operations in the same order (Cephes' expf;
see exp32 for the derivation), checked against it in tests/kernels/test_simd.py. The kernels
and their glue are in ssm_cpu.py; only the N = 16 case goes through here.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

STATE = 16  # the state size scan16 is written for: two vectors of LANES
LANES = 8
BLOCK = 8  # steps per iteration of the main loop: one transposed reduction of y

_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_V8 = ir.VectorType(_F32, LANES)
_I8 = ir.VectorType(_I32, LANES)
_UNDEF = ir.Constant(_V8, ir.Undefined)


def _c8(x: float) -> ir.Constant:
    """A float32 constant in every lane (rounded to float32 as np.float32 does)."""
    return ir.Constant(_V8, [float(np.float32(x))] * LANES)


def _splat(builder, x):
    v = builder.insert_element(_UNDEF, x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, _UNDEF, ir.Constant(_I8, [0] * LANES))


def _shuffle(builder, a, b, mask):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, len(mask)), mask))


def _load8(builder, base, offset):
    p = builder.gep(base, [offset], inbounds=True)
    return builder.load(builder.bitcast(p, _V8.as_pointer()), align=4)


def _store8(builder, value, base, offset):
    p = builder.gep(base, [offset], inbounds=True)
    builder.store(value, builder.bitcast(p, _V8.as_pointer()), align=4)


def _exp8(builder, x):
    """ssm_cpu.exp32 on 8 lanes: clamp, k = floor(x/ln2 + 1/2), e^r by Cephes' polynomial,
    times 2^(k-1)·2 from exponent bits (k = -126 gives 0: the flush to zero)."""
    # min(max(x, -87), 88.8) as selects that keep a NaN, like the scalar min/max
    xc = builder.select(builder.fcmp_ordered("<", x, _c8(-87.0)), _c8(-87.0), x)
    xc = builder.select(builder.fcmp_ordered(">", xc, _c8(88.8)), _c8(88.8), xc)
    floor = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_V8, [_V8]), "llvm.floor.v8f32"
    )
    k = builder.call(floor, [builder.fadd(builder.fmul(xc, _c8(1.44269504088896341)), _c8(0.5))])
    r = builder.fsub(xc, builder.fmul(k, _c8(0.693359375)))
    r = builder.fadd(r, builder.fmul(k, _c8(2.12194440e-4)))
    p = builder.fadd(builder.fmul(_c8(1.9875691500e-4), r), _c8(1.3981999507e-3))
    for c in (8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = builder.fadd(builder.fmul(p, r), _c8(c))
    p = builder.fadd(builder.fadd(builder.fmul(p, builder.fmul(r, r)), r), _c8(1.0))
    bits = builder.add(builder.fptosi(k, _I8), ir.Constant(_I8, [126] * LANES))
    two_k = builder.bitcast(builder.shl(bits, ir.Constant(_I8, [23] * LANES)), _V8)
    return builder.fmul(builder.fmul(p, two_k), _c8(2.0))


def _hsum(builder, v):
    """The sum of the 8 lanes of v, a scalar."""
    s4 = builder.fadd(_shuffle(builder, v, v, [0, 1, 2, 3]), _shuffle(builder, v, v, [4, 5, 6, 7]))
    s2 = builder.fadd(_shuffle(builder, s4, s4, [0, 1]), _shuffle(builder, s4, s4, [2, 3]))
    zero, one = ir.Constant(_I32, 0), ir.Constant(_I32, 1)
    return builder.fadd(builder.extract_element(s2, zero), builder.extract_element(s2, one))


def _hadd(builder, a, b):
    """vhaddps: in each 128-bit half, [a0+a1, a2+a3, b0+b1, b2+b3]."""
    return builder.fadd(
        _shuffle(builder, a, b, [0, 2, 8, 10, 4, 6, 12, 14]),
        _shuffle(builder, a, b, [1, 3, 9, 11, 5, 7, 13, 15]),
    )


def _sums8(builder, P):
    """[sum of P[0]'s lanes, ..., sum of P[7]'s lanes]: 7 hadds/adds for 8 sums."""
    S = [_hadd(builder, P[i], P[i + 1]) for i in (0, 2, 4, 6)]
    Q0, Q1 = _hadd(builder, S[0], S[1]), _hadd(builder, S[2], S[3])
    return builder.fadd(
        _shuffle(builder, Q0, Q1, [0, 1, 2, 3, 8, 9, 10, 11]),
        _shuffle(builder, Q0, Q1, [4, 5, 6, 7, 12, 13, 14, 15]),
    )


class _Loop:
    """IR blocks for `t = start; while t + step <= limit: body; t += step` with values
    carried across iterations (phis); `close` returns t and the carried values after it."""

    def __init__(self, builder, start, limit, step, carried, name):
        self.builder, self.start, self.limit, self.init = builder, start, limit, carried
        self.step = ir.Constant(start.type, step)
        self.pre = builder.block
        self.body = builder.append_basic_block(name + ".body")
        self.done = builder.append_basic_block(name + ".done")
        enter = builder.icmp_signed("<=", builder.add(start, self.step), limit)
        builder.cbranch(enter, self.body, self.done)
        builder.position_at_end(self.body)
        self.t = builder.phi(start.type)
        self.t.add_incoming(start, self.pre)
        self.carried = []
        for v in carried:
            phi = builder.phi(v.type)
            phi.add_incoming(v, self.pre)
            self.carried.append(phi)

    def close(self, carried):
        builder = self.builder
        t_next = builder.add(self.t, self.step)
        end = builder.block
        self.t.add_incoming(t_next, end)
        for phi, v in zip(self.carried, carried):
            phi.add_incoming(v, end)
        again = builder.icmp_signed("<=", builder.add(t_next, self.step), self.limit)
        builder.cbranch(again, self.body, self.done)
        builder.position_at_end(self.done)
        outs = []
        for first, last in zip([self.start, *self.init], [t_next, *carried]):
            phi = builder.phi(first.type)
            phi.add_incoming(first, self.pre)
            phi.add_incoming(last, end)
            outs.append(phi)
        return outs[0], outs[1:]


@intrinsic
def scan16(typingctx, A_d, dts, dtus, B_bd, C_bd, y_out, h):
    """For t < len(dts): h = exp32(dts[t]·A_d) ⊙ h + dtus[t]·B_bd[t];  y_out[t] = <C_bd[t], h>.

    A_d (16,), h (16,) in/out (the state before the first step, then after the last); dts,
    dtus, y_out (L,); B_bd, C_bd (L, 16). All float32 and contiguous (unit-step slices of the
    kernel's C-contiguous arrays): the arrays' data pointers are read as such.
    """
    sig = types.void(A_d, dts, dtus, B_bd, C_bd, y_out, h)

    def codegen(context, builder, signature, args):
        arrays = [context.make_array(t)(context, builder, v) for t, v in zip(signature.args, args)]
        A_p, dt_p, dtu_p, B_p, C_p, y_p, h_p = (a.data for a in arrays)
        length = cgutils.unpack_tuple(builder, arrays[1].shape)[0]
        intp = length.type
        zero, eight = ir.Constant(intp, 0), ir.Constant(intp, LANES)
        A_lo, A_hi = _load8(builder, A_p, zero), _load8(builder, A_p, eight)

        def decays(t):
            """exp32(dt_t · A) as two vectors: no dependence on h."""
            dt = _splat(builder, builder.load(builder.gep(dt_p, [t], inbounds=True)))
            return [_exp8(builder, builder.fmul(dt, A)) for A in (A_lo, A_hi)]

        def step(t, h_lo, h_hi, decay_lo, decay_hi):
            """h_t from h_{t-1} and step t's decays; and the 8 partial sums of <C_t, h_t>."""
            dt_u = _splat(builder, builder.load(builder.gep(dtu_p, [t], inbounds=True)))
            row = builder.mul(t, ir.Constant(intp, STATE))
            row_hi = builder.add(row, eight)
            h_lo = builder.fadd(
                builder.fmul(decay_lo, h_lo), builder.fmul(dt_u, _load8(builder, B_p, row))
            )
            h_hi = builder.fadd(
                builder.fmul(decay_hi, h_hi), builder.fmul(dt_u, _load8(builder, B_p, row_hi))
            )
            products = builder.fadd(
                builder.fmul(_load8(builder, C_p, row), h_lo),
                builder.fmul(_load8(builder, C_p, row_hi), h_hi),
            )
            return h_lo, h_hi, products

        h0 = [_load8(builder, h_p, zero), _load8(builder, h_p, eight)]
        blocks = _Loop(builder, zero, length, BLOCK, h0, "scan16.blocks")
        h_lo, h_hi = blocks.carried
        # the block's 16 exps first, then its 8 steps of recurrence: LLVM then schedules the
        # exps as one stream, like exp_throughput's loop (measured: 64% -> 74% of the exp32
        # bound, against 1 step at a time)
        ts = [builder.add(blocks.t, ir.Constant(intp, i)) for i in range(BLOCK)]
        block_decays = [decays(t) for t in ts]
        products = []
        for t, (decay_lo, decay_hi) in zip(ts, block_decays):
            h_lo, h_hi, p = step(t, h_lo, h_hi, decay_lo, decay_hi)
            products.append(p)
        _store8(builder, _sums8(builder, products), y_p, blocks.t)
        t_tail, h_tail = blocks.close([h_lo, h_hi])

        tail = _Loop(builder, t_tail, length, 1, h_tail, "scan16.tail")
        h_lo, h_hi, p = step(tail.t, *tail.carried, *decays(tail.t))
        builder.store(_hsum(builder, p), builder.gep(y_p, [tail.t], inbounds=True))
        _, (h_lo, h_hi) = tail.close([h_lo, h_hi])
        _store8(builder, h_lo, h_p, zero)
        _store8(builder, h_hi, h_p, eight)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def exp8_into(typingctx, x, out):
    """out[8i:8i+8] = exp8(x[8i:8i+8]) for the whole blocks of 8 in x (a test hook)."""
    sig = types.void(x, out)

    def codegen(context, builder, signature, args):
        arrays = [context.make_array(t)(context, builder, v) for t, v in zip(signature.args, args)]
        x_p, out_p = (a.data for a in arrays)
        length = cgutils.unpack_tuple(builder, arrays[0].shape)[0]
        loop = _Loop(builder, ir.Constant(length.type, 0), length, LANES, [], "exp8")
        _store8(builder, _exp8(builder, _load8(builder, x_p, loop.t)), out_p, loop.t)
        loop.close([])
        return context.get_dummy_value()

    return sig, codegen
