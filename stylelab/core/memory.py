"""Peak memory of a block of code, the one way every bench and metric measures it.

    with PeakMemory() as peak:        # or PeakMemory(torch.device("cuda"))
        model.stylize(content, style)
    peak.mib, peak.process_mib, peak.exact

CPU: the kernel's peak-RSS mark is reset to the current RSS first (Linux,
/proc/self/clear_refs "5"), so VmHWM after the block minus VmRSS before it is the memory the
block needed (`mib`); `process_mib` is VmHWM itself (interpreter, libraries and weights too).
Where the mark cannot be reset, ru_maxrss (the peak since the process started) stands in and
`exact` is False: an over-estimate after a larger job. Memory an allocator kept from earlier
work hides what a block needs, so measure in a fresh process (as the benches do), after
`malloc_trim()`. CUDA: torch.cuda.max_memory_allocated over the block.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import torch


def status_kib(field: str) -> int | None:
    """A `VmRSS:`-style field of /proc/self/status in KiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def max_rss_kib() -> float:
    """The process's peak RSS since it started, in KiB (ru_maxrss: bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else peak


def malloc_trim() -> None:
    """Give freed heap back to the kernel (glibc), so the RSS is what is in use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Memory a block needed above what the process held when it started, in MiB."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.mib = self.process_mib = None
        self.exact = True

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.before = torch.cuda.memory_allocated(self.device)
        else:
            self.exact = reset_peak_rss()
            self.before = status_kib("VmRSS") or 0
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
            self.mib, self.process_mib = (peak - self.before) / 2**20, peak / 2**20
            return False
        hwm = status_kib("VmHWM") if self.exact else None
        if hwm is None:
            hwm, self.exact = max_rss_kib(), False
        self.mib, self.process_mib = max(0.0, (hwm - self.before) / 1024), hwm / 1024
        return False


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo in bytes, or None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def format_bytes(nbytes: float) -> str:
    """'1.5 GiB' from 0.1 GiB up, else '12.3 MiB' (the benches' memory guard messages)."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 / 10 else f"{nbytes / 2**20:.1f} MiB"
