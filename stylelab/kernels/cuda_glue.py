"""Host side of the numba.cuda kernels: tensors in, one thread per task launched, tensors out.

`Device(like)` turns tensors into the arrays a kernel takes and the kernel's outputs back
into tensors. CUDA tensors are handed over zero-copy, on torch's current stream, so that
kernels are ordered with torch's own work; CPU tensors are copied to the GPU and back, which
without a GPU means into numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), as the tests run
the kernels. Used by ssm_cuda.py and wkv_cuda.py.

This module imports numba.cuda, so only the cuda tiers import it: the simulator is switched
on or off when numba.cuda is first imported, and importing stylelab must not decide that.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import cuda

THREADS_PER_BLOCK = 128
_NUMPY_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


class Device:
    """Arrays in `dtype` for a kernel that works on tensors like `like`, and results back.

    Zero-copy when `like` is a CUDA tensor on a real GPU; otherwise each array is a copy
    on the GPU (or the simulator) and results are copied back to `like`'s device.
    """

    def __init__(self, like: torch.Tensor, dtype: torch.dtype = torch.float32):
        self.dtype = dtype
        self.device = like.device
        self.zero_copy = like.is_cuda and not numba.config.ENABLE_CUDASIM
        if self.zero_copy:
            self.stream = cuda.external_stream(torch.cuda.current_stream(like.device).cuda_stream)
        else:
            self.stream = 0

    def put(self, x: torch.Tensor):
        """x as a device array (read-only use: a zero-copy one may share x's memory)."""
        x = x.detach().to(self.dtype).contiguous()
        if self.zero_copy:
            return cuda.as_cuda_array(x)  # keeps x alive while the array lives
        return cuda.to_device(x.cpu().numpy(), stream=self.stream)

    def empty(self, *shape):
        """An uninitialised output: (handle for `get`, device array for the kernel)."""
        if self.zero_copy:
            t = torch.empty(shape, dtype=self.dtype, device=self.device)
            return t, cuda.as_cuda_array(t)
        array = cuda.device_array(shape, _NUMPY_DTYPE[self.dtype], stream=self.stream)
        return array, array

    def get(self, handle) -> torch.Tensor:
        """The tensor behind a handle from `empty`, once the kernel has written it."""
        if self.zero_copy:
            return handle
        return torch.from_numpy(handle.copy_to_host(stream=self.stream)).to(self.device)

    def launch(self, kernel, n_tasks: int, *args) -> None:
        """kernel(*args) with one thread per task, THREADS_PER_BLOCK to a block."""
        blocks = (n_tasks + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        kernel[blocks, THREADS_PER_BLOCK, self.stream](*args)
