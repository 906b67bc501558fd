"""`stylelab stylize`: driven through cli.main with temporary files; exit codes and stderr."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from stylelab.adain import build_adain
from stylelab.cli import main
from stylelab.core import weights
from stylelab.encoders import load_encoder
from stylelab.training import zoo


@pytest.fixture
def shipped(isolated_weights):
    """A weights folder with the real encoder (linked) and a tiny untrained AdaIN decoder, so
    the CLI runs end to end without depending on a training run."""
    folder = isolated_weights
    torch.manual_seed(0)
    model = build_adain(load_encoder("mobilenetv2"), width=0.125)
    zoo.publish("adain", model, {"encoder": "mobilenetv2", "config": model.config(), "steps": 0})
    return folder


@pytest.fixture
def files(tmp_path):
    content, s1, s2 = tmp_path / "content.png", tmp_path / "s1.png", tmp_path / "s2.jpg"
    Image.effect_mandelbrot((90, 60), (-2, -1.2, 1, 1.2), 50).convert("RGB").save(content)
    Image.effect_noise((64, 64), 40).convert("RGB").save(s1)
    Image.linear_gradient("L").resize((70, 50)).convert("RGB").save(s2)
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    return {
        "content": str(content),
        "s1": str(s1),
        "s2": str(s2),
        "bad": str(not_image),
        "out": str(tmp_path / "out.png"),
    }


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stylelab stylize: error:"), err
    return err[0]


def test_stylize_writes_the_output_and_refuses_to_overwrite(shipped, files, capsys):
    f = files
    args = [
        "stylize",
        f["content"],
        f["s1"],
        f["s2"],
        "-o",
        f["out"],
        "--mix",
        "0.7,0.3",
        "--alpha",
        "0.8",
        "--size",
        "64",
        "--preserve-color",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and " s" in out  # the time taken
    assert Image.open(f["out"]).size == (64, 43)  # longest side 64, aspect kept (90x60)
    before = open(f["out"], "rb").read()
    assert main(args) == 2
    assert "already exists" in one_error_line(capsys) and open(f["out"], "rb").read() == before
    Image.new("RGB", (5, 5), "white").save(f["out"])  # a different file: --force replaces it
    assert main([*args, "--force"]) == 0
    assert Image.open(f["out"]).size == (64, 43)


def test_bundled_inputs(shipped, tmp_path, capsys):
    from stylelab import paintings as styles

    out = tmp_path / "cat.png"
    painter = "rings" if "rings" in styles.PAINTERS else styles.PAINTERS[0]  # a fast painter
    assert (
        main(["stylize", "sample:chelsea", f"style:{painter}:3", "-o", str(out), "--size", "64"])
        == 0
    )
    assert Image.open(out).size[0] == 64


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--mix", "1"], "1 mixing weights for 2 style"),
        (["--mix", "1,2,3"], "3 mixing weights for 2 style"),
        (["--mix", "0,0"], "sum to a positive number"),
        (["--mix", "a,b"], "comma-separated numbers"),
        (["--mix", "1,-1"], "non-negative"),
        (["--size", "10"], "out of range; use 64..4096"),
        (["--size", "100000"], "out of range; use 64..4096"),
        (["--alpha", "1.5"], r"alpha .* \[0, 1\]"),
    ],
)
def test_bad_options_exit_with_one_line(files, capsys, extra, match):
    f = files
    code = main(["stylize", f["content"], f["s1"], f["s2"], "-o", f["out"], *extra])
    assert code == 2
    import re

    assert re.search(match, one_error_line(capsys))


@pytest.mark.parametrize(
    "which, match",
    [
        ("missing_content", "does not exist"),
        ("missing_style", "does not exist"),
        ("bad_style", "not an image"),
        ("bad_painter", "unknown painter"),
    ],
)
def test_bad_inputs_exit_with_one_line(files, tmp_path, capsys, which, match):
    f = files
    content, style = f["content"], f["s1"]
    if which == "missing_content":
        content = str(tmp_path / "nope.jpg")
    elif which == "missing_style":
        style = str(tmp_path / "nope.jpg")
    elif which == "bad_style":
        style = f["bad"]
    else:
        style = "style:no-such-painter"
    assert main(["stylize", content, style, "-o", f["out"]]) == 2
    assert match in one_error_line(capsys)


def test_missing_weights_name_the_training_command(files, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(weights.ENV_VAR, str(empty))
    assert main(["stylize", files["content"], files["s1"], "-o", files["out"]]) == 2
    assert "stylelab train adain" in one_error_line(capsys)


def test_method_mamba_st(isolated_weights, files, capsys):
    """--method mamba_st runs a published Mamba-ST (a tiny untrained one here) end to end."""
    from stylelab.ssm.mamba_st import MambaST

    torch.manual_seed(0)
    model = MambaST(load_encoder("mobilenetv2"), d_model=16, depth=1, d_state=4, width=0.125)
    zoo.publish("mamba_st", model, {"encoder": "mobilenetv2", "config": model.config(), "steps": 0})
    f = files
    args = ["stylize", f["content"], f["s1"], "-o", f["out"], "--method", "mamba_st",
            "--size", "64", "--alpha", "0.5"]  # fmt: skip
    assert main(args) == 0
    assert Image.open(f["out"]).size == (64, 43)  # not a multiple of 8: padded, cropped back


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--text", ""], "non-empty"),
        (["--text", "   "], "non-empty"),
        (["STYLE", "--text", "ink"], "either style images or --text"),
        (["--text", "ink", "--method", "adain"], "with --text use stylemamba or clipstyler"),
        (["STYLE", "--method", "stylemamba"], "needs --text"),
        (["STYLE", "--steps", "5"], "--steps is for --text"),
        (["--text", "ink", "--steps", "0"], "at least 1"),
        ([], "at least one style image, or --text"),
    ],
)
def test_text_requests_that_make_no_sense_exit_with_one_line(files, capsys, argv, match):
    argv = [files["s1"] if a == "STYLE" else a for a in argv]
    assert main(["stylize", files["content"], *argv, "-o", files["out"]]) == 2
    assert match in one_error_line(capsys)


def test_text_stylize_writes_and_refuses_to_overwrite(files, capsys):
    """The shipped offline space and AdaIN decoder, 64 px, 2 steps: the real path, small."""
    f = files
    argv = ["stylize", f["content"], "--text", "a stained glass window", "-o", f["out"],
            "--size", "64", "--steps", "2"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stylemamba, 2 steps" in out and "directional loss" in out
    assert Image.open(f["out"]).size == (64, 43)
    assert main(argv) == 2 and "already exists" in one_error_line(capsys)
    assert main([*argv, "--force", "--method", "clipstyler"]) == 0
