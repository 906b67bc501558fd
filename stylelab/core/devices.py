"""Where tensors run: one resolver for every `device=` argument and `--device` option."""

from __future__ import annotations

import torch

from stylelab.core.errors import StylelabError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """ "auto" (or None) -> CUDA when torch sees a GPU, else CPU; clear errors otherwise."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise StylelabError(f"device {device!r} asks for a GPU, but torch sees none; use cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise StylelabError(f"unknown device {device!r}; use cpu, cuda or auto") from err
