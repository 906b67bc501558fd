"""The book machinery: the runner (stylelab.book), frame sliders, figures with captions."""

from __future__ import annotations

import io
import json
import os
import re

import nbformat
import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import DEMO_NOTEBOOK, make_book
from PIL import Image

from stylelab.book import html_check, runner, sources
from stylelab.book.figures import as_rgb_array, show_images
from stylelab.book.widgets import frame_slider
from stylelab.core.errors import StylelabError

PARAMS = 'QUICK = False\nSEED = 0\nDEVICE = "auto"'


def chapter(*sources: str, params: str = PARAMS, tags=("parameters", "hide-cell")):
    """A notebook: a title, the parameters cell, then one code cell per source."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell(params, metadata={"tags": list(tags)}),
        *(nbformat.v4.new_code_cell(src) for src in sources),
    ]
    return nb


# ---------------------------------------------------------------- the demo book, end to end


def test_demo_book_executes_builds_and_scans_clean(demo_book):
    html = demo_book / "_build" / "html"
    assert html_check.scan_html(html) == []
    executed = nbformat.read(demo_book / "_build" / "book-src" / "slider_demo.ipynb", 4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "QUICK = True" in injected[0].source
    assert "hide-cell" in injected[0].metadata.tags
    # The sources were copied, not executed in place.
    assert sources.notebook_problems(demo_book / "book" / "slider_demo.ipynb") == []


def test_demo_page_hides_plumbing_and_embeds_the_slider(demo_book):
    soup = BeautifulSoup((demo_book / "_build/html/slider_demo.html").read_text(), "html.parser")
    for tag in ("tag_parameters", "tag_injected-parameters"):
        (cell,) = soup.select(f"div.cell.{tag}")
        assert "tag_hide-cell" in cell["class"]
    state = json.loads(
        soup.find("script", type="application/vnd.jupyter.widget-state+json").string
    )["state"]
    models = [m["model_name"] for m in state.values()]
    assert models.count("ImageModel") == 5 and models.count("LinkModel") == 2
    stack = next(m for m in state.values() if m["model_name"] == "StackModel" and
                 len(m["state"]["children"]) == 5)  # fmt: skip
    link_targets = [m["state"]["target"] for m in state.values() if m["model_name"] == "LinkModel"]
    assert any(t[0] == f"IPY_MODEL_{model_id(state, stack)}" for t in link_targets)
    # The page loads the vendored scripts, each once, and nothing from outside.
    srcs = [s["src"].split("?")[0] for s in soup.find_all("script", src=True)]
    for vendored in ("_static/require.js", "_static/embed-amd.js", "_static/mathjax/startup.js"):
        assert srcs.count(vendored) == 1, vendored
    assert not [s for s in srcs if s.startswith(("http:", "https:", "//"))]


def model_id(state: dict, model: dict) -> str:
    return next(k for k, v in state.items() if v is model)


# ---------------------------------------------------------------- failures are reported


def test_failing_cell_names_notebook_cell_and_error(tmp_path, capsys):
    nb = chapter("x = 1", "# divide by zero\nx / 0", "print('never')")
    src = make_book(tmp_path, {"broken": nb})
    # Not a timing test: the cells take milliseconds against a 120 s limit (and 120 + 60 s
    # in total), so only the ZeroDivisionError decides the outcome.
    assert runner.run_pipeline(src, tmp_path, quick=True, timeout=120) == 1
    err = capsys.readouterr().err
    # Cell 3 of the source notebook: title, parameters, x = 1, then this one.
    assert "broken.ipynb: cell 3 (`# divide by zero`) raised ZeroDivisionError" in err
    assert not (tmp_path / "_build" / "html").exists()


# The two timing tests below must not depend on how fast this machine is today. Kernel
# start-up (papermill, then the kernel, then the parameters cells) takes ~2.5 s on an idle
# 2-core box and several times that under a loaded CI; a sleeping cell's own overhead is
# milliseconds. So each test makes only one thing decide its outcome, with wide margins.


def test_slow_cell_is_reported_as_a_timeout(tmp_path, capsys, monkeypatch):
    # Margins: the cell sleeps 600 s against a 5 s per-cell limit (120x), so the limit fires
    # however slow the machine is; the trivial cells before it take milliseconds against 5 s.
    # The total-time kill, which would report something else, comes at 5 + 120 s: start-up
    # would have to take 2 minutes to pre-empt the limit. Should the limit never fire, that
    # kill ends the test after ~2 minutes (with a clear failure), not after the 600 s sleep.
    monkeypatch.setattr(runner, "KILL_GRACE", 120)
    nb = chapter("import time", "time.sleep(600)")
    src = make_book(tmp_path, {"slow": nb})
    assert runner.run_pipeline(src, tmp_path, quick=True, timeout=5, build=False) == 1
    err = capsys.readouterr().err
    assert "slow.ipynb: timed out (5 s limit) in cell 3 (`time.sleep(600)`)" in err


def test_notebook_over_its_total_time_is_killed(tmp_path, capsys, monkeypatch):
    # Every cell sleeps 4 s, half the 8 s per-cell limit (a sleep overshoots by milliseconds,
    # so the limit never fires); 100 of them are 400 s against the 8 + 16 = 24 s a notebook
    # gets, so the kill always comes while cells are still running. Start-up only has to
    # reach the first sleeping cell within those 24 s (~2.5 s idle: room for a 9x slower
    # machine). The kill may also land between two cells (the few milliseconds papermill
    # takes to save, ~0.1% of the time): the report then names the last completed cell.
    monkeypatch.setattr(runner, "KILL_GRACE", 16)
    nb = chapter("import time", *["time.sleep(4)"] * 100)
    src = make_book(tmp_path, {"long": nb})
    assert runner.run_pipeline(src, tmp_path, quick=True, timeout=8, build=False) == 1
    err = capsys.readouterr().err
    assert re.search(
        r"long\.ipynb: over its 24 s in total, killed in "
        r"(cell \d+ \(`time\.sleep\(4\)`\)|between cells, after cell \d+)",
        err,
    ), err


def test_a_kill_between_cells_names_the_last_completed_cell(tmp_path):
    nb = chapter("x = 1", "y = 2", "z = 3")
    for cell, status in zip(nb.cells[-3:], ("completed", "completed", "pending")):
        cell.metadata["papermill"] = {"status": status}
    nbformat.write(nb, tmp_path / "nb.ipynb")
    assert runner._between_cells(tmp_path / "nb.ipynb") == "between cells, after cell 3"
    assert runner._between_cells(tmp_path / "missing.ipynb") == "before the first cell"


def test_interrupted_save_leaves_the_previous_notebook(tmp_path, monkeypatch):
    # The kill above can land inside one of papermill's saves; with truncate-then-write that
    # left an empty file (a CI run once failed so). Simulate a save cut off before its rename.
    import papermill.iorw

    # use_atomic_saves patches papermill in this process: have monkeypatch restore it after
    monkeypatch.setattr(papermill.iorw.LocalHandler, "write", papermill.iorw.LocalHandler.write)
    runner.use_atomic_saves()
    target = tmp_path / "long.ipynb"
    target.write_text('{"previous": true}')
    real_replace = os.replace

    def killed(src, dst):
        raise OSError("killed mid-save")

    monkeypatch.setattr(runner.os, "replace", killed)
    with pytest.raises(OSError, match="killed mid-save"):
        papermill.iorw.LocalHandler().write('{"new": tr', str(target))
    assert target.read_text() == '{"previous": true}'
    monkeypatch.setattr(runner.os, "replace", real_replace)
    papermill.iorw.LocalHandler().write('{"new": true}', str(target))
    assert target.read_text() == '{"new": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.ipynb"]


def test_missing_toc_entry_fails_before_running_anything(tmp_path):
    src = make_book(tmp_path, {"slider_demo": DEMO_NOTEBOOK})
    (src / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: slider_demo\n  - file: adain\n"
    )
    with pytest.raises(StylelabError, match=r"lists 'adain'.*add the chapter, or remove"):
        runner.run_pipeline(src, tmp_path, quick=True)
    assert not (tmp_path / "_build").exists()


def test_unclean_chapter_is_refused(tmp_path):
    nb = chapter("1 + 1")
    nb.cells[2].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"})]
    src = make_book(tmp_path, {"dirty": nb})
    with pytest.raises(StylelabError, match="dirty.ipynb: cell 2 has outputs"):
        runner.run_pipeline(src, tmp_path, quick=True)


def test_scan_finds_error_and_stderr_outputs_in_built_pages(tmp_path):
    nb = chapter("1 / 0", "import warnings; warnings.warn('only a warning')")
    nb.cells[2].outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ZeroDivisionError",
            evalue="division by zero",
            traceback=["Traceback (most recent call last)", "ZeroDivisionError: division by zero"],
        )  # fmt: skip
    ]
    nb.cells[3].outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="x.py:1: UserWarning: only a warning\n"
        )
    ]
    src = make_book(tmp_path, {"errors": nb})
    problems = html_check.scan_html(runner.build_html(src, tmp_path))
    assert len(problems) == 2, problems
    assert (
        problems[0].startswith("errors.html: error output") and "ZeroDivisionError" in problems[0]
    )
    # A reader has no use for a warning's file and line: stderr is noise, not content.
    assert problems[1].startswith("errors.html: stderr output") and "only a warning" in problems[1]


def test_scan_flags_progress_bar_widgets(tmp_path):
    state = {
        "a": {"model_name": "FloatProgressModel", "state": {}},
        "b": {"model_name": "IntSliderModel", "state": {}},
    }
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><script type="application/vnd.jupyter.widget-state+json">'
        + json.dumps({"state": state})
        + '</script></head><body><script type="application/vnd.jupyter.widget-view+json">'
        + '{"model_id": "b"}</script></body></html>'
    )
    assert html_check.page_problems(page) == [
        "1 progress bar widget(s): pass progress=False in chapters"
    ]


def test_scan_flags_external_and_doubled_assets(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><script src="https://cdn.example.org/x.js"></script>'
        '<script src="_static/a.js?v=1"></script><script src="_static/a.js?v=2"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/f.css"></head><body></body></html>'
    )
    problems = html_check.page_problems(page)
    assert any("https://cdn.example.org/x.js" in p for p in problems)
    assert any("//fonts.example.org/f.css" in p for p in problems)
    assert any("_static/a.js 2 times" in p for p in problems)
    assert len(problems) == 3


# ---------------------------------------------------------------- chapter hygiene


def test_demo_chapter_is_clean():
    assert sources.notebook_problems(DEMO_NOTEBOOK) == []


@pytest.mark.parametrize(
    "params, expected",
    [
        (
            "QUICK = not True\nSEED = 0\nDEVICE = 'auto'",
            "`QUICK = not True` is not `NAME = literal`",
        ),
        ("QUICK = False\nSEED = int('0')\nDEVICE = 'auto'", "`SEED = int('0')` is not"),
        ("import os\nQUICK = False\nSEED = 0\nDEVICE = 'auto'", "`import os` is not"),
        ("QUICK, SEED = False, 0\nDEVICE = 'auto'", "is not `NAME = literal`"),
        ("QUICK = False\nSEED = 0", "does not set DEVICE"),
        ("QUICK = True\nSEED = 0\nDEVICE = 'auto'", "must set QUICK = False"),
        ("QUICK = False\nSEED = 0\nDEVICE = 'auto'\nif", "does not parse"),
    ],
)
def test_parameters_must_be_plain_literals(params, expected):
    problems = sources.parameters_problems(params)
    assert any(expected in p for p in problems), problems


def test_parameters_accept_literal_containers():
    assert (
        sources.parameters_problems(PARAMS + "\nSIZES = (64, 128)\nSTYLE = {'a': [1.5, -2]}") == []
    )


def test_notebook_needs_exactly_one_hidden_parameters_cell(tmp_path):
    nb = chapter()
    nb.cells.append(nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}))
    nbformat.write(nb, tmp_path / "two.ipynb")
    assert any("2 cells are tagged" in p for p in sources.notebook_problems(tmp_path / "two.ipynb"))
    nbformat.write(chapter(tags=("parameters",)), tmp_path / "shown.ipynb")
    assert any("hide-cell" in p for p in sources.notebook_problems(tmp_path / "shown.ipynb"))


# ---------------------------------------------------------------- frame_slider


def png_size(image_widget) -> tuple[int, int]:
    return Image.open(io.BytesIO(image_widget.value)).size


def test_frame_slider_takes_every_kind_of_frame():
    import matplotlib.pyplot as plt
    import torch

    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1])
    plt.close(fig)
    frames = [
        Image.new("RGB", (40, 30), (255, 0, 0)),
        np.zeros((30, 40, 3), np.uint8),
        np.ones((30, 40), np.float32) * 0.5,
        torch.rand(1, 3, 30, 40, generator=torch.Generator().manual_seed(0)),
        fig,
    ]
    box = frame_slider(frames, labels=list("abcde"), description="kind", caption="made in a test")
    assert box.slider.max == 4 and not box.slider.readout  # labels replace the readout
    assert [png_size(im) for im in box.stack.children[:4]] == [(40, 30)] * 4
    assert bytes(box.stack.children[0].value).startswith(b"\x89PNG")
    # Red frame stays red; the tensor frame is the tensor, scaled to 0..255.
    first = np.asarray(Image.open(io.BytesIO(box.stack.children[0].value)))
    assert (first == [255, 0, 0]).all()
    decoded = np.asarray(Image.open(io.BytesIO(box.stack.children[3].value)))
    expected = (frames[3][0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(decoded, expected)


def test_frame_slider_links_slider_to_frames_and_labels():
    box = frame_slider([np.full((8, 8, 3), i, np.uint8) for i in range(3)], labels=["x", "y", "z"])
    (frames_link, labels_link) = box.links
    assert frames_link.source == (box.slider, "value")
    assert frames_link.target == (box.stack, "selected_index")
    assert labels_link.source == (box.slider, "value")
    readout = labels_link.target[0]
    assert [c.value for c in readout.children] == [
        "<code>x</code>",
        "<code>y</code>",
        "<code>z</code>",
    ]
    assert box.stack.selected_index == readout.selected_index == box.slider.value == 0
    assert "stylelab-frame-slider" in box._dom_classes


def test_frame_slider_caps_the_longest_side():
    box = frame_slider([np.zeros((300, 1000, 3), np.uint8)], max_side=384)
    assert png_size(box.stack.children[0]) == (384, 115)
    assert (box.stack.children[0].width, box.stack.children[0].height) == ("384", "115")


@pytest.mark.parametrize(
    "frames, kwargs, match",
    [
        ([], {}, "no frames"),
        ([np.zeros((4, 4, 3), np.uint8)] * 2, {"labels": ["one"]}, "2 frames but 1 labels"),
        ([np.zeros((4, 4, 3), np.uint8)], {"value": 1}, "not a frame index"),
        ([np.full((4, 4, 3), np.nan, np.float32)], {}, "NaN or Inf"),
        ([np.zeros((4, 4, 5), np.uint8)], {}, r"shape \(4, 4, 5\)"),
        ([np.zeros((4, 4, 3), np.int64)], {}, "integer dtype int64"),
        ([np.zeros((4, 4, 3), np.uint8)] * 65, {}, "at most 64"),
    ],
)
def test_frame_slider_rejects_bad_input(frames, kwargs, match):
    with pytest.raises(StylelabError, match=match):
        frame_slider(frames, **kwargs)


def test_tensor_batches_are_refused():
    import torch

    with pytest.raises(StylelabError, match="batch of 2 images"):
        as_rgb_array(torch.zeros(2, 3, 4, 4))


# ---------------------------------------------------------------- show_images


def test_show_images_titles_and_caption():
    import matplotlib.pyplot as plt

    images = [np.zeros((20, 30, 3), np.uint8), Image.new("RGB", (30, 20))]
    fig = show_images(images, ["content", "style"], "encoder: test; quick mode: True")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["content", "style"]
    assert fig._supxlabel.get_text() == "encoder: test; quick mode: True"
    assert fig not in map(plt.figure, plt.get_fignums())  # closed: shown once, as the value
    with pytest.raises(StylelabError, match="2 images but 1 titles"):
        show_images(images, ["one"])


def test_show_images_fits_the_book_column():
    """A row too wide for the column gets smaller panels, not a figure the page shrinks."""
    from stylelab.book.figures import MAX_WIDTH_IN

    wide = [np.zeros((20, 30, 3), np.uint8)] * 7  # aspect 1.5, 7 in a row at 3 in high: 31.5 in
    width, height = show_images(wide, size=3.0).get_size_inches()
    assert width == pytest.approx(MAX_WIDTH_IN)
    assert height == pytest.approx(MAX_WIDTH_IN / (7 * 1.5) + 0.6)
    narrow = show_images(wide[:2], size=2.0).get_size_inches()  # 6 in: left alone
    assert tuple(narrow) == pytest.approx((6.0, 2.6))
