"""Chapter 3's idea (and the next chapter's): the selective scan of Mamba (S6).

    scan.py  `selective_scan` (one dispatch over every backend), the per-step torch loop and
             the chunked torch form; the loops themselves live in `stylelab.kernels`
             (ssm_reference, ssm_cpu, ssm_cuda)
    parallel_scan.py  a Hillis-Steele scan of a scalar linear recurrence: why the scan
             parallelises (chapter 3)

How an image becomes a sequence for a scan is `stylelab.scan_orders`.
"""

from stylelab.ssm.scan import (
    selective_scan,
    selective_scan_chunked,
    selective_scan_loop,
    step_sizes,
)

__all__ = ["selective_scan", "selective_scan_chunked", "selective_scan_loop", "step_sizes"]
