"""The evaluation protocol (`stylelab evaluate`): folders, methods, the report, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from stylelab.cli import main
from stylelab.core.errors import StylelabError
from stylelab.core.images import sample_content, save_image
from stylelab.metrics.evaluate import check_methods, evaluate, read_folder
from stylelab.paintings import paint
from stylelab.training import zoo


@pytest.fixture
def folders(tmp_path):
    """Two photos, two paintings (64 px) and one text file among the paintings."""
    content, style = tmp_path / "content", tmp_path / "style"
    for name in ("chelsea", "coffee"):
        save_image(sample_content(name, max_side=64), content / f"{name}.png")
    for name in ("brush", "voronoi"):
        save_image(paint(name, size=64, seed=1).tensor(), style / f"{name}.png")
    (style / "notes.txt").write_text("not an image")
    return content, style


class Blur:
    """A stand-in method: the content, box-blurred (deterministic, cheap)."""

    def stylize(self, content, style):
        return torch.nn.functional.avg_pool2d(content, 3, stride=1, padding=1)


class Flicker:
    """A stand-in method that flickers: the content plus fresh noise in every call."""

    def stylize(self, content, style):
        return (content + 0.05 * torch.randn_like(content)).clamp(0, 1)


def load_fake(name, device="cpu"):
    if name == "flicker":
        return Flicker()
    if name == "missing":
        raise StylelabError("no weights for missing; train it with `stylelab train missing`")
    return Blur()


def test_read_folder_skips_what_is_not_an_image(folders):
    images, skipped = read_folder(folders[1], 64, "style")
    assert [name for name, _ in images] == ["brush.png", "voronoi.png"]
    assert len(skipped) == 1 and skipped[0].startswith("notes.txt: ")


def test_read_folder_errors_say_what_to_do(tmp_path):
    with pytest.raises(StylelabError, match="--content .*missing.*give a folder of images"):
        read_folder(tmp_path / "missing", 64, "content")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StylelabError, match="--style .*empty holds no readable image"):
        read_folder(tmp_path / "empty", 64, "style")
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(StylelabError, match=r"1 file\(s\) skipped: a.txt"):
        read_folder(tmp_path / "empty", 64, "style")


def test_unknown_method_is_named():
    with pytest.raises(StylelabError, match="unknown method.*a2k; valid: adain"):
        check_methods(["adain", "a2k"], ("adain",))


def test_report_has_every_key_and_a_missing_method_does_not_stop_the_others(folders):
    report = evaluate(
        *folders, ["blur", "missing"], size=64, progress=False, load=load_fake,
        known=("blur", "missing"), temporal_frames=0,
    )  # fmt: skip
    assert report["pairs"] == 4 and report["size"] == 64
    assert report["encoder"].startswith("MobileNetV2")
    blur = report["methods"]["blur"]
    expected = {"content_loss", "style_loss", "lpips", "ssim", "seconds_per_image", "peak_mib"}
    assert expected <= set(blur)
    assert blur["lpips"] is None or blur["lpips"] >= 0
    assert 0.3 < blur["ssim"] < 1.0  # a blur keeps most of the structure
    assert blur["content_loss"] > 0 and blur["style_loss"] > 0 and blur["seconds_per_image"] > 0
    assert "train it with" in report["methods"]["missing"]["error"]
    assert report["skipped"][0].startswith("notes.txt")


def test_the_shipped_adain_is_scored(folders):
    report = evaluate(*folders, ["adain", "identity"], size=64, progress=False, temporal_frames=0)
    adain = report["methods"]["adain"]
    # measured in a fresh process each: a network's activations against a copy of the photo
    assert adain["peak_mib"] > report["methods"]["identity"]["peak_mib"] >= 0
    assert adain["trained_with"] == "mobilenetv2" and "adain, which it favours" in report["note"]
    # AdaIN moves outputs towards the style: its style loss is below the blur's (the content's)
    blur = evaluate(
        *folders, ["blur"], size=64, progress=False, load=load_fake, known=("blur",),
        temporal_frames=0,
    )  # fmt: skip
    assert adain["style_loss"] < blur["methods"]["blur"]["style_loss"]


def test_cli_writes_json_and_plot_and_never_overwrites(folders, tmp_path, capsys):
    out, png = tmp_path / "eval.json", tmp_path / "eval.png"
    args = ["evaluate", "--content", str(folders[0]), "--style", str(folders[1])]
    args += ["--size", "64", "--json", str(out), "--plot", str(png), "--temporal", "0"]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["methods"]) == set(zoo.names()) and png.stat().st_size > 0  # the default
    printed = capsys.readouterr().out
    assert all(f"| {name} |" in printed for name in zoo.names())
    assert main(args) == 2  # both exist now
    err = capsys.readouterr().err
    assert f"--json {out} already exists; pass --force to overwrite it" in err


def test_cli_refuses_bad_input_before_any_work(folders, tmp_path, capsys):
    base = ["evaluate", "--content", str(folders[0]), "--style", str(folders[1])]
    assert main([*base, "--json", str(tmp_path / "a.json"), "--methods", "sanet"]) == 2
    assert f"unknown method(s) sanet; valid: {', '.join(zoo.names())}" in capsys.readouterr().err
    assert main([*base, "--json", str(tmp_path / "a.json"), "--plot", str(tmp_path / "a.gif")]) == 2
    assert "use a .png, .pdf, .svg file name" in capsys.readouterr().err
    assert not (tmp_path / "a.json").exists()


def test_baselines_frame_the_numbers(folders):
    """identity: the photo itself (SSIM 1, content loss 0); colour transfer moves the style loss."""
    report = evaluate(
        *folders, ["identity", "color_transfer"], size=64, progress=False, temporal_frames=0
    )
    identity, colour = report["methods"]["identity"], report["methods"]["color_transfer"]
    assert identity["ssim"] == pytest.approx(1.0) and identity["content_loss"] == pytest.approx(0)
    assert colour["style_loss"] < identity["style_loss"]
    assert identity["trained_with"] is None and "favours" not in report["note"]


def test_temporal_stability_per_method_with_a_gif(tmp_path):
    """identity costs exactly what resampling costs; a smooth deterministic method a little
    more (the blur's zero padding stays put while the picture moves); noise, far more."""
    content, style = tmp_path / "c", tmp_path / "s"
    save_image(sample_content("chelsea", max_side=160), content / "chelsea.png")
    save_image(paint("brush", size=64, seed=1).tensor(), style / "brush.png")
    report = evaluate(
        content, style, ["blur", "flicker", "identity"], size=160, progress=False,
        load=load_fake, known=("blur", "flicker"), temporal_frames=4, gif_dir=tmp_path / "gifs",
    )  # fmt: skip
    errors = {m: r["warping_error"] for m, r in report["methods"].items()}
    resampling = report["methods"]["identity"]["content_warping_error"]
    assert errors["identity"] == pytest.approx(resampling)
    # flicker: about 2 x 0.05^2 = 5e-3 (two independent noises); the blur stays far below it
    assert resampling < errors["blur"] < errors["flicker"] / 4 and errors["flicker"] > 2e-3
    assert report["temporal"]["frames"] == 4
    assert (tmp_path / "gifs" / "blur.gif").is_file() and (
        tmp_path / "gifs" / "identity.gif"
    ).is_file()
    args = ["evaluate", "--content", str(content), "--style", str(style), "--methods", "identity"]
    args += ["--json", str(tmp_path / "r.json"), "--gif-dir", str(tmp_path / "gifs")]
    assert main(args) == 2 and not (tmp_path / "r.json").exists()  # the GIF exists: no work done
