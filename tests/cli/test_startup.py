"""A one-image `stylelab stylize` stays light to start: what it imports, not how fast.

Run in a fresh interpreter (this test session has imported everything already). Timing is
measured (see the startup report), never asserted: here only the imports are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

from stylelab.adain import build_adain
from stylelab.encoders import load_encoder
from stylelab.training import zoo

# Heavy or book-only packages that a stylize never needs. torch._dynamo (~1.5 s) came in
# through torchvision; it is checked only where `import torch` alone does not load it.
NOT_ON_THE_STYLIZE_PATH = (
    "torchvision",
    "torch._dynamo",
    "matplotlib",
    "scipy",
    "skimage",
    "numba",
    "papermill",
    "nbformat",
    "jupyter_book",
    "bs4",
    "yaml",
    "ipywidgets",
    "ipykernel",
)

SCRIPT = """
import argparse, json, sys

import stylelab, stylelab.cli, stylelab.cli.stylize

stylelab.cli.stylize.add_arguments(argparse.ArgumentParser())
torch_for_help = "torch" in sys.modules  # `stylelab stylize --help` builds only this parser

import torch  # what torch itself loads is not stylelab's to avoid

heavy = {heavy!r}
by_torch = [m for m in heavy if m in sys.modules]
status = stylelab.cli.main({argv!r})
print(json.dumps({{
    "status": status,
    "torch_for_help": torch_for_help,
    "by_torch": by_torch,
    "loaded": [m for m in heavy if m in sys.modules and m not in by_torch],
}}))
"""


@pytest.fixture
def shipped(isolated_weights):
    """The real encoder and a tiny untrained AdaIN decoder in a weights folder that the
    subprocess finds through $STYLELAB_WEIGHTS_DIR (set by isolated_weights)."""
    torch.manual_seed(0)
    model = build_adain(load_encoder("mobilenetv2"), width=0.125)
    zoo.publish("adain", model, {"encoder": "mobilenetv2", "config": model.config(), "steps": 0})
    return isolated_weights


def test_stylize_imports_no_heavy_or_book_package(shipped, tmp_path):
    content, out = tmp_path / "content.png", tmp_path / "out.png"
    Image.effect_mandelbrot((96, 64), (-2, -1.2, 1, 1.2), 50).convert("RGB").save(content)
    argv = ["stylize", str(content), "style:brush", "-o", str(out), "--size", "96"]
    code = SCRIPT.format(heavy=NOT_ON_THE_STYLIZE_PATH, argv=argv)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0, done.stderr
    assert out.exists()
    assert not report["torch_for_help"], "`stylelab stylize --help` should not import torch"
    assert report["loaded"] == [], f"the stylize path imported {report['loaded']}"
