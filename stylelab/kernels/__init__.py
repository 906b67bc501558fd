"""Hot loops in three tiers: readable reference loops, numba CPU kernels, numba.cuda kernels.

    <op>_reference.py  the naive loops, written to be read: the spec every fast path is
                       tested against (stats, adain, ssm, wkv)
    <op>_cpu.py        numba CPU kernels (ssm, wkv)
    <op>_cuda.py       numba.cuda kernels (ssm, wkv)
    glue.py            the autograd glue the ssm CPU and cuda tiers share (torch, numpy, einops)
    cuda_glue.py       tensors to and from the cuda kernels; it and <op>_cuda.py are the
                       modules that import numba.cuda, so the CPU tiers never do

The vectorized PyTorch tier lives next to the mechanism (stylelab.ssm, stylelab.rwkv,
...); this package holds the loops. `resolve_backend` is the one place that decides
what `backend="auto"` means, `require_cuda` the one error for a cuda backend without a GPU.
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


def require_cuda(op: str) -> None:
    """Raise a StylelabError naming `op` when cuda_available() is False."""
    if not cuda_available():
        from stylelab.core.errors import StylelabError

        raise StylelabError(
            f"{op}: backend 'cuda' needs an NVIDIA GPU with a working driver (none found), or "
            "NUMBA_ENABLE_CUDASIM=1 set before start-up to simulate one; "
            "use backend='numba' or 'torch' on this machine"
        )


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
