"""Shared fixtures: the repository's paths and a small demo book built once per session;
and helpers several test files use (drawn feature maps, RGB statistics, CLI runs)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

# Property tests draw the same examples on every run (CI's red means a bug, not an unlucky
# draw); `HYPOTHESIS_PROFILE=explore pytest` draws fresh ones when hunting for bugs.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
FIXTURES = ROOT / "tests" / "fixtures"
# A scratch chapter that uses the book machinery the way chapters do (slider, figure, math).
DEMO_NOTEBOOK = FIXTURES / "slider_demo.ipynb"


def make_book(dest: Path, notebooks: dict[str, Path | object]) -> Path:
    """A copy of book/'s config, intro, theme and vendored JS, with `notebooks` as its chapters.

    notebooks: chapter name -> a path to copy, or an nbformat notebook to write.
    """
    import nbformat

    book = dest / "book"
    book.mkdir(parents=True)
    for name in ("_config.yml", "intro.md"):
        shutil.copy2(BOOK / name, book / name)
    for folder in ("_vendor", "_theme", "_ext"):
        shutil.copytree(BOOK / folder, book / folder)
    for name, nb in notebooks.items():
        if isinstance(nb, Path):
            shutil.copy2(nb, book / f"{name}.ipynb")
        else:
            nbformat.write(nb, book / f"{name}.ipynb")
    chapters = "".join(f"  - file: {name}\n" for name in notebooks)
    toc = "format: jb-book\nroot: intro\n" + (f"chapters:\n{chapters}" if chapters else "")
    (book / "_toc.yml").write_text(toc)
    return book


@pytest.fixture(scope="session")
def demo_book(tmp_path_factory) -> Path:
    """The demo chapter executed in quick mode and built; returns the folder holding _build/."""
    from stylelab.book.runner import run_pipeline

    out = tmp_path_factory.mktemp("demo")
    book = make_book(out, {"slider_demo": DEMO_NOTEBOOK})
    status = run_pipeline(book, out, quick=True, timeout=300)
    assert status == 0, "the demo book failed to build; see the captured output"
    return out


@pytest.fixture
def isolated_weights(tmp_path, monkeypatch) -> Path:
    """A weights folder holding only the shipped encoder (linked) and whatever a test adds.

    Tests that publish or corrupt weights work here, never on data/weights/.
    """
    import json

    from stylelab.core import weights

    real, manifest = weights.weights_dir(), weights.read_manifest()
    folder = tmp_path / "weights"
    folder.mkdir()
    keep = {k: v for k, v in manifest.items() if k == "mobilenetv2_style"}
    for entry in keep.values():
        (folder / entry["file"]).symlink_to(real / entry["file"])
    (folder / "manifest.json").write_text(json.dumps(keep))
    monkeypatch.setenv(weights.ENV_VAR, str(folder))
    return folder


def rgb_mean_cov(img):
    """(N, 3, H, W) -> per-image RGB mean (N, 3) and unbiased covariance (N, 3, 3), float64.

    What `stylelab.stats.match_color` (colour transfer, AdaIN's colour preservation) copies.
    """
    x = img.double().reshape(img.shape[0], 3, -1)
    mean = x.mean(-1)
    c = x - mean[..., None]
    return mean, c @ c.transpose(1, 2) / (x.shape[-1] - 1)


def run_cli(module, *argv: str):
    """A `stylelab` subcommand run in this process: `module.run` on `argv`, parsed by the
    parser that `module.add_arguments` fills (stylelab.bench.adain, stylelab.cli.encoders...)."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"stylelab {module.__name__.rsplit('.', 1)[-1]}")
    module.add_arguments(parser)
    return module.run(parser.parse_args(list(argv)))


def feature_values(shape: tuple[int, ...], bound: float = 1.0):
    """A hypothesis strategy for float64 arrays of `shape` (..., H, W) whose values it draws,
    so that a failure shrinks to the values that cause it (not to a seed).

    hypothesis draws a large array as one background value plus a few drawn entries (near-
    constant channels, lone outliers: the numerically hard cases); a drawn linear ramp per
    channel, over rows and over columns, adds maps whose values all differ. |value| <= 3 bound.
    """
    *lead, h, w = shape
    elements = st.floats(-bound, bound, allow_subnormal=False)

    @st.composite
    def maps(draw):
        spikes = draw(arrays(np.float64, shape, elements=elements))
        slopes = draw(arrays(np.float64, (2, *lead, 1, 1), elements=elements, fill=st.nothing()))
        rows, cols = np.linspace(0, 1, h)[:, None], np.linspace(0, 1, w)[None, :]
        return spikes + slopes[0] * rows + slopes[1] * cols

    return maps()
