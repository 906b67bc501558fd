"""stylelab.core.memory: the peak memory of a block, as every bench and metric measures it."""

from __future__ import annotations

import numpy as np
import pytest

from stylelab.core.memory import PeakMemory, malloc_trim, status_kib


@pytest.mark.skipif(status_kib("VmRSS") is None, reason="needs Linux's /proc/self/status")
def test_a_block_that_touches_200_mib_needs_about_that():
    malloc_trim()
    with PeakMemory() as peak:
        block = np.ones(200 * 2**20, dtype=np.uint8)  # 200 MiB, every page written
        del block
    assert 180 < peak.mib < 260  # the pages plus interpreter noise; exact where VmHWM resets
    assert peak.process_mib >= peak.mib
    with PeakMemory() as small:
        np.ones(1024, dtype=np.uint8)
    if small.exact:  # a reset mark forgets the 200 MiB block
        assert small.mib < 20
