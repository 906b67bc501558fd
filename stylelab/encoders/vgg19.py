"""VGG-19 (torchvision's layout), the encoder of the papers.

Weights: torchvision's ImageNet checkpoint when it is on disk (sha256-verified), or a
seeded random-feature VGG (He, Wang & Hopcroft, NIPS 2016: random VGG features already
carry enough texture statistics for style transfer). torchvision is imported on use, so
the offline default encoder never pays for it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from stylelab.core import weights as shipped
from stylelab.core.errors import StylelabError
from stylelab.encoders.base import IMAGENET_MEAN, IMAGENET_STD, OFFLINE_DEFAULT, Encoder


def _tv_vgg():
    """torchvision's VGG module, imported on use (it pulls in all of torchvision: ~1 s)."""
    from torchvision.models import vgg

    return vgg


# torchvision's ImageNet VGG-19. The 8 hex digits in the name are the sha256 prefix.
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = "https://download.pytorch.org/models/" + VGG19_FILE


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
            features = _tv_vgg().make_layers(_tv_vgg().cfgs["E"])[: VGG19_TAPS["relu5_1"] + 1]
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
    for v in _tv_vgg().cfgs["E"]:
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
