"""What every bench suite records beside its timings: the machine, its load, the versions."""

from __future__ import annotations


def uptime() -> str:
    """`uptime`'s line (load averages and how long the machine has been up), or ''."""
    import subprocess

    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict:
    """CPU model, core count, platform, and the load before the run (noisy machines)."""
    import os
    import platform
    from pathlib import Path

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        # other work on the machine while this ran (1, 5, 15 min); > 0.5 means it was not idle
        "load_average_before": list(os.getloadavg()),
        "uptime_before": uptime(),
    }


def versions(*distributions: str) -> dict:
    """Python, stylelab, torch, numpy, and each named distribution (None if not installed)."""
    import platform
    from importlib import metadata

    import numpy
    import torch

    import stylelab

    found = {
        "python": platform.python_version(),
        "stylelab": stylelab.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
    for dist in distributions:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def record_header(
    suite: str, quick: bool, command: str, machine: dict, versions: dict, threads: dict, goals
) -> dict:
    """The keys every suite's JSON starts with, so the book and the tests read them one way."""
    import datetime

    return {
        "suite": suite,
        "quick": quick,
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "versions": versions,
        "threads": threads,
        "goals": goals,
    }
