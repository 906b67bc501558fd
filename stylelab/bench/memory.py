"""Peak memory of one stylization, one fresh process per path and size.

    python -m stylelab.bench.memory KIND SIZE THREADS DIR WEIGHTS SEED

is the child that `measure_memory` starts; it prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stylelab.bench.adain_paths import build_faithful, make_paths, make_peer, shipped_model
from stylelab.core.errors import StylelabError

MEMORY_PATHS = ("stylelab", "shipped", "fast", "peer")


MEMORY_METHOD = (
    "each path runs once in a fresh subprocess at each size: after imports and model build "
    "(and the fast path's style caching), the peak-RSS mark is reset (/proc/self/clear_refs "
    "'5'), one stylization runs, then VmHWM is read. peak_rss_mb is the whole process at its "
    "peak (interpreter, libraries, weights, activations); over_baseline_mb is VmHWM minus the "
    "RSS just before the call, i.e. the memory the stylization itself needed. Where "
    "clear_refs is not writable, ru_maxrss (peak since process start) is used instead."
)


def _probe(argv: list[str]) -> dict:
    """Child process: build one path, reset the peak-RSS mark, run it once, report."""
    from stylelab.core.memory import PeakMemory

    kind, size, threads, folder, weights, seed = argv
    if kind not in MEMORY_PATHS:
        raise StylelabError(f"unknown bench path {kind!r}; valid: {', '.join(MEMORY_PATHS)}")
    size, threads, folder = int(size), int(threads), Path(folder)
    files = (folder / f"content_{size}.png", folder / f"style_{size}.png")
    models = {}
    if kind != "peer":
        import torch

        torch.set_num_threads(threads)
        if kind in ("stylelab", "faithful_bf16"):
            models["faithful"] = build_faithful(weights, int(seed)).to(
                memory_format=torch.channels_last
            )
        else:
            models["shipped"] = shipped_model(seed=int(seed))[0].to(
                memory_format=torch.channels_last
            )
        ctx = torch.inference_mode()
    else:
        import contextlib

        models["peer"] = make_peer(threads)
        for name in ("arbitrary_predict", "arbitrary_transform"):
            models["peer"]._session(name)  # load the ONNX sessions before the baseline
        ctx = contextlib.nullcontext()
    fn = make_paths(kind, size, files, threads, models)
    with PeakMemory() as peak, ctx:
        fn()
    return {
        "peak_rss_mb": peak.process_mib,
        "over_baseline_mb": peak.mib,
        "peak_reset": peak.exact,
    }


def measure_memory(kind, size, threads, folder, weights, seed) -> dict:
    argv = [kind, str(size), str(threads), str(folder), weights, str(seed)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    done = subprocess.run(
        [sys.executable, "-m", "stylelab.bench.memory", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"probe exited with {done.returncode}: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # the child that measure_memory starts
    if len(sys.argv) != 7:
        sys.exit("usage: python -m stylelab.bench.memory KIND SIZE THREADS DIR WEIGHTS SEED")
    print(json.dumps(_probe(sys.argv[1:])))
