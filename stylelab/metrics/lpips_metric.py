"""LPIPS (Zhang et al. 2018) through the `lpips` package, only when its weights are on disk.

The papers' protocol: AlexNet-LPIPS (`lpips` 0.1, net="alex"), output against content, inputs
mapped to [-1, 1]. The package ships its small linear layers, but its AlexNet trunk is
torchvision's ImageNet checkpoint, which torchvision would download on first use. Nothing
here downloads: `lpips_unavailable()` says why LPIPS cannot run (the checkpoint is not in
torch hub's cache), and the evaluation reports `null` with that reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from stylelab.core.errors import StylelabError

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's AlexNet_Weights.IMAGENET1K_V1


def alexnet_checkpoint() -> Path:
    """Where torchvision looks for (and would download) the AlexNet weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


def lpips_unavailable() -> str | None:
    """None if LPIPS can run offline, else the reason (what is missing, how to add it)."""
    try:
        import lpips  # noqa: F401
    except ImportError:
        return "the lpips package is not installed (pip install lpips)"
    if not alexnet_checkpoint().is_file():
        return (
            f"no AlexNet weights at {alexnet_checkpoint()} (torchvision's {ALEXNET_FILE}); "
            "copy the file there to enable LPIPS (nothing is downloaded)"
        )
    return None


class LPIPSMetric:
    """lpips = LPIPSMetric(); lpips(output, content) -> float (0: identical; higher: further)."""

    def __init__(self, device="cpu"):
        reason = lpips_unavailable()
        if reason:
            raise StylelabError(f"LPIPS unavailable: {reason}")
        import lpips

        with warnings.catch_warnings():  # torchvision's deprecated `pretrained=` argument
            warnings.simplefilter("ignore", UserWarning)
            self.net = lpips.LPIPS(net="alex", verbose=False).to(device).eval()
        self.device = device

    def __call__(self, output: torch.Tensor, content: torch.Tensor) -> float:
        """Both (1, 3, H, W) in [0, 1]; an output of another size is resized to the content's."""
        if output.shape[-2:] != content.shape[-2:]:
            output = torch.nn.functional.interpolate(
                output, size=content.shape[-2:], mode="bilinear", antialias=True
            )
        with torch.inference_mode():
            a = output.to(self.device).clamp(0, 1) * 2 - 1  # [0, 1] -> [-1, 1]
            b = content.to(self.device) * 2 - 1
            return float(self.net(a, b).mean())
