"""Hot loops in three tiers: readable reference loops, numba CPU kernels, numba.cuda kernels.

    <op>_reference.py  the naive loops, written to be read: the spec every fast path is
                       tested against (stats, adain, ssm, wkv)
    <op>_cpu.py        numba CPU kernels (ssm, wkv)
    <op>_cuda.py       numba.cuda kernels (ssm, wkv), with cuda_glue.py for host transfer

The vectorized PyTorch tier lives next to the mechanism (stylelab.ssm, stylelab.rwkv,
...); this package holds the loops. `resolve_backend` is the one place that decides
what `backend="auto"` means.
"""

from __future__ import annotations

import os

BACKENDS = ("reference", "torch", "numba", "cuda", "auto")


def cuda_available() -> bool:
    """True when numba.cuda can run kernels (a real GPU, or the simulator)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import cuda

        return cuda.is_available()
    except Exception:  # numba without CUDA support, no driver, ...
        return False


def resolve_backend(backend: str, tensor=None, needs_grad: bool = False) -> str:
    """Turn `backend` into a concrete one, with a clear error for unknown names.

    "auto": CUDA tensors -> "torch" (cuda kernels have no backward) unless no
    grad is needed; CPU tensors -> "numba"; both fall back to "torch".
    """
    if backend not in BACKENDS:
        from stylelab.core.errors import StylelabError

        raise StylelabError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    on_cuda = tensor is not None and getattr(tensor, "is_cuda", False)
    if on_cuda:
        return "torch" if needs_grad else "cuda"
    return "numba"
