"""The book-size StyleRWKV network: its loss, inference on any size, config, its recipe."""

from __future__ import annotations

import json

import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.rwkv.style_rwkv import StyleRWKV, from_config


@pytest.fixture(scope="module")
def encoder():
    from stylelab.encoders import load_encoder

    return load_encoder("mobilenetv2")


def tiny(encoder, **kw) -> StyleRWKV:
    torch.manual_seed(0)
    kw = {"dim": 4, "blocks": (1, 1, 1, 1), "patch": 2, "width": 0.125, **kw}
    return StyleRWKV(encoder, **kw)


def test_loss_has_the_four_terms_and_trains_every_part(encoder):
    net = tiny(encoder)
    batch = (torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    loss, terms = net.loss(batch)
    assert set(terms) == {"content", "style", "identity_pixels", "identity_features", "total"}
    w = net.loss_weights
    assert terms["total"] == pytest.approx(sum(w[k] * terms[k] for k in w), rel=1e-5)
    loss.backward()
    for name, p in net.named_parameters():
        if name.startswith("encoder."):
            assert p.grad is None, name  # frozen
        elif "offset" in name or "mask" in name:
            # zero-initialised offset/mask convs: their gradient flows (bilinear weights
            # differ from 0 only through the sampled image's slope); checked to be finite
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_identity_pairs_are_the_network_on_c_c_and_s_s(encoder):
    """The batched loss forward equals three separate forwards."""
    net = tiny(encoder).eval()
    c, s = torch.rand(1, 3, 16, 32), torch.rand(1, 3, 16, 32)
    from stylelab.adain.op import blend

    with torch.no_grad():
        outs = torch.cat([net(a, b) for a, b in ((c, s), (c, c), (s, s))])
        feats = net.features(torch.cat([c, s]))
        targets = [
            torch.cat([blend(f[:1], f[1:]), blend(f[:1], f[:1]), blend(f[1:], f[1:])])
            for f in feats
        ]
        torch.testing.assert_close(net.decode(targets), outs, rtol=1e-4, atol=1e-5)


def test_level_shapes(encoder):
    net = tiny(encoder)
    feats = net.features(torch.rand(1, 3, 32, 48))
    assert [tuple(f.shape[1:]) for f in feats] == [(4, 16, 24), (8, 8, 12), (16, 4, 6), (32, 2, 3)]


@pytest.mark.parametrize("shift, scan", [("deform", "s-scan"), ("omni", "raster")])
def test_stylize_any_size_and_the_options(encoder, shift, scan):
    net = tiny(encoder, shift=shift, scan=scan)
    c = torch.rand(2, 3, 37, 50)  # not multiples of 16: padded, then cropped back
    styles = [torch.rand(1, 3, 64, 30), torch.rand(1, 3, 20, 90)]  # any size: statistics only
    out = net.stylize(c, styles, alpha=0.5, weights=[3, 1])
    assert out.shape == c.shape and out.min() >= 0 and out.max() <= 1
    assert net.stylize(c[:1], styles[0], preserve_color=True).shape == (1, 3, 37, 50)
    assert torch.equal(net.stylize(c, styles[0]), net.stylize(c, styles[0]))  # deterministic
    assert net.training  # restored


def test_alpha_zero_is_the_autoencoder(encoder):
    """alpha = 0 gives every level its content features back: the style cannot matter."""
    net = tiny(encoder)
    c = torch.rand(1, 3, 32, 32)
    a = net.stylize(c, torch.rand(1, 3, 32, 32), alpha=0.0)
    b = net.stylize(c, torch.rand(1, 3, 48, 32), alpha=0.0)
    torch.testing.assert_close(a, b)


def test_bad_input_is_a_clear_error(encoder):
    net = tiny(encoder)
    with pytest.raises(StylelabError, match=r"\(N, 3, H, W\)"):
        net.stylize(torch.rand(1, 4, 32, 32), torch.rand(1, 3, 32, 32))
    with pytest.raises(StylelabError, match="at least one style"):
        net.stylize(torch.rand(1, 3, 32, 32), [])
    with pytest.raises(StylelabError, match="alpha"):
        net.stylize(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), alpha=2)
    with pytest.raises(StylelabError, match="loss weights"):
        StyleRWKV(net.encoder, dim=4, loss_weights={"styel": 1.0})
    with pytest.raises(StylelabError, match="4 block counts"):
        StyleRWKV(net.encoder, blocks=(1, 1, 1))
    with pytest.raises(StylelabError, match="missing"):
        net.load_trainable_state_dict({})


def test_config_round_trip(encoder):
    net = tiny(encoder, shift="q-shift", recurrence=3, skip=3)
    config = json.loads(json.dumps(net.config()))
    again = from_config(encoder, config)
    again.load_trainable_state_dict(net.trainable_state_dict())
    assert again.config() == net.config()
    flagged = from_config(encoder, {**config, "style_weight": 3.0})
    assert flagged.loss_weights["style"] == 3.0


def test_train_and_resume_from_the_cli(tmp_path):
    """Two steps, then two more resumed, with --set overriding the architecture."""
    from stylelab.cli import main

    out = tmp_path / "run"
    argv = ["train", "style_rwkv", "--steps", "2", "--size", "32", "--batch", "1", "--width",
            "0.125", "--threads", "1", "--out", str(out), "--no-progress", "--encoder",
            "mobilenetv2", "--style-pool", "2", "--set", "dim=4", "--set", "patch=2",
            "--set", "shift=omni"]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "style_rwkv" and config["shift"] == "omni" and config["dim"] == 4
    argv[argv.index("--steps") + 1] = "4"
    assert main([*argv, "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 4


def test_bad_set_and_size_are_refused(tmp_path, capsys):
    from stylelab.cli import main

    base = ["train", "style_rwkv", "--steps", "1", "--batch", "1", "--no-progress",
            "--out", str(tmp_path / "x")]  # fmt: skip
    assert main([*base, "--size", "40"]) == 2
    assert "multiples of 64" in capsys.readouterr().err
    assert main([*base, "--size", "64", "--set", "depth=3"]) == 2
    assert "config keys" in capsys.readouterr().err


def test_small_images_are_padded_until_the_deepest_level_has_a_variance(encoder):
    """At patch 8 a 64-px image is one token at level 4, where AdaIN has no variance: the
    padding makes every side at least 2 x 64 px, and the output is cropped back."""
    torch.manual_seed(0)
    net = from_config(encoder, {"dim": 4, "patch": 8, "width": 0.125})
    assert net.multiple == 64
    for h, w in ((64, 64), (40, 130), (33, 33)):
        out = net.stylize(torch.rand(1, 3, h, w), torch.rand(1, 3, 48, 48))
        assert out.shape == (1, 3, h, w) and torch.isfinite(out).all()
