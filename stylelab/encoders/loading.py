"""`load_encoder`: pick an encoder by name, and what "auto" means.

No machine here can download the ImageNet VGG-19, so `"auto"` falls back to
`OFFLINE_DEFAULT` and says so on stderr (once per process).
"""

from __future__ import annotations

import sys

from stylelab.core.devices import resolve_device
from stylelab.core.errors import StylelabError
from stylelab.encoders.base import OFFLINE_CHOICES, OFFLINE_DEFAULT, Encoder
from stylelab.encoders.mobilenetv2 import _mobilenetv2
from stylelab.encoders.vgg19 import VGG19_FILE, _vgg19, find_imagenet_vgg19, hub_checkpoint_dir

ENCODERS = ("vgg19", "mobilenetv2")
WEIGHTS = {"vgg19": ("auto", "imagenet", "random"), "mobilenetv2": ("auto", "magenta")}


_NOTICES: set[str] = set()


def _notice(message: str) -> None:
    """One line on stderr, once per process: say which encoder "auto" picked and why."""
    if message not in _NOTICES:
        _NOTICES.add(message)
        print(f"stylelab: {message}", file=sys.stderr)


def _resolve(
    name: str, weights: str, download: bool = False, notice: bool = True
) -> tuple[str, str]:
    """(name, weights) with every "auto" replaced by a concrete choice."""
    say = _notice if notice else (lambda message: None)
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
            say(f"encoder auto -> vgg19 with ImageNet weights ({where})")
        return "vgg19", "imagenet"
    if name == "vgg19":
        say(f"vgg19 weights auto -> random (seeded): no {VGG19_FILE} in {hub_checkpoint_dir()}")
        return "vgg19", "random"
    if OFFLINE_DEFAULT not in OFFLINE_CHOICES:
        raise StylelabError(f"OFFLINE_DEFAULT must be one of {', '.join(OFFLINE_CHOICES)}")
    chosen = OFFLINE_CHOICES[OFFLINE_DEFAULT]
    say(
        f"encoder auto -> {chosen[0]} ({chosen[1]} weights, the offline default): no ImageNet "
        f"{VGG19_FILE} in {hub_checkpoint_dir()} (see `stylelab encoders`)"
    )
    return chosen


def load_encoder(
    name: str = "auto",
    weights="auto",
    device="cpu",
    seed: int = 0,
    download: bool = False,
    notice: bool = True,
) -> Encoder:
    """A frozen encoder on `device`.

    name     "vgg19" | "mobilenetv2" | "auto" (ImageNet VGG-19 if on disk, else OFFLINE_DEFAULT)
    weights  vgg19: "imagenet" | "random" | a path to torchvision's vgg19-*.pth | "auto";
             mobilenetv2: "magenta" | "auto"
    seed     only for random weights: same seed, identical network
    download fetch torchvision's ImageNet checkpoint when missing (weights "imagenet"/"auto")
    notice   say on stderr what "auto" chose and why; False where the choice is shown anyway
             (the book's chapters print `enc.description` and put it in every caption)
    """
    name, weights = _resolve(name, weights, download, notice)
    enc = _mobilenetv2() if name == "mobilenetv2" else _vgg19(weights, seed, download)
    return enc.to(resolve_device(device))
