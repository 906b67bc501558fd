"""Peak memory of one stylization, in a fresh process: what `stylelab evaluate` reports.
(`stylelab.core.memory.PeakMemory` measures in this process, for methods that only exist in
the caller, such as a test's.)

    python -m stylelab.metrics.peak METHOD HEIGHT WIDTH DEVICE

is the child `probe_peak_mib` starts: it loads the method, resets the peak-RSS mark, runs one
stylization of random (1, 3, HEIGHT, WIDTH) inputs and prints the MiB it needed above the
resident memory before the call. A fresh process matters: in a long-lived one, memory the
allocator kept from earlier calls (or other methods) hides what a call needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from stylelab.core.errors import StylelabError
from stylelab.core.memory import PeakMemory, malloc_trim


def probe_peak_mib(method: str, height: int, width: int, device: str = "cpu") -> float:
    """MiB one stylization of `method` at (height, width) needs, measured in a fresh process."""
    cmd = [sys.executable, "-m", "stylelab.metrics.peak", method, str(height), str(width), device]
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StylelabError(f"the memory probe of {method} failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_mib"]


def _child(method: str, height: int, width: int, device: str) -> None:
    from stylelab.metrics.baselines import BASELINES, Baseline
    from stylelab.training import zoo

    device = torch.device(device)
    model = Baseline(method) if method in BASELINES else zoo.load(method, device=str(device))
    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, height, width, generator=g).to(device)
    style = torch.rand(1, 3, height, width, generator=g).to(device)
    malloc_trim()
    with PeakMemory(device) as peak, torch.inference_mode():
        model.stylize(content, style)
    print(json.dumps({"peak_mib": peak.mib}))


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
