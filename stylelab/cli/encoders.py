"""`stylelab encoders`: which encoders exist, their taps, and where their weights come from."""

from __future__ import annotations

from pathlib import Path

from stylelab.core import weights as shipped
from stylelab.core.errors import StylelabError
from stylelab.encoders.base import OFFLINE_CHOICES, OFFLINE_DEFAULT
from stylelab.encoders.mobilenetv2 import MOBILENETV2_CONVERT, MOBILENETV2_TAPS, MOBILENETV2_WEIGHTS
from stylelab.encoders.vgg19 import (
    VGG19_FILE,
    VGG19_TAPS,
    VGG19_URL,
    find_imagenet_vgg19,
    hub_checkpoint_dir,
    verify_vgg19_checkpoint,
)


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
