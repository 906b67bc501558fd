"""The book-size StyA2K network: its start, its loss, inference on any size, its recipe."""

from __future__ import annotations

import pytest
import torch

from stylelab.attention.net import StyA2KNet, from_config
from stylelab.core.errors import StylelabError
from stylelab.nn.decoder import Decoder
from stylelab.nn.skip_decoder import SkipDecoder


@pytest.fixture(scope="module")
def encoder():
    from stylelab.encoders import load_encoder

    return load_encoder("mobilenetv2")


def test_skip_decoder_starts_as_the_plain_decoder():
    torch.manual_seed(0)
    plain, skip = Decoder(16, stride=8, width=0.125), SkipDecoder(16, 12, stride=8, width=0.125)
    skip.init_from_decoder(plain.state_dict())
    t, z = torch.randn(2, 16, 3, 4), torch.randn(2, 12, 6, 8)
    torch.testing.assert_close(skip(t, z), plain(t))
    with pytest.raises(StylelabError, match="different image sizes"):
        skip(t, z[..., :5, :])


def test_untrained_network_is_the_adain_decoder_redrawing_the_photo(encoder):
    """Zero fusions, zero projection and skip, identity merge: out = g_AdaIN(f(c)) exactly."""
    from stylelab.core import weights
    from stylelab.training import zoo

    net = StyA2KNet(encoder, width=0.25)
    net.init_from_adain(weights.load_shipped("adain"))
    adain = zoo.load("adain", device="cpu")
    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 64, 128, generator=g), torch.rand(1, 3, 64, 64, generator=g)
    with torch.no_grad():
        expected = adain.decoder(adain.encode(content)[adain.content_tap])
        torch.testing.assert_close(net(content, style), expected, rtol=0, atol=1e-6)


def test_loss_trains_every_part(encoder):
    torch.manual_seed(0)
    net = StyA2KNet(encoder, width=0.125, shift_average=True, identity_weight=1.0)
    batch = (torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))
    loss, terms = net.loss(batch)
    assert set(terms) == {"global_style", "attention", "identity", "total"}
    assert torch.isfinite(loss) and terms["attention"] > 0
    loss.backward()
    grads = {k: p.grad for k, p in net.named_parameters() if not k.startswith("encoder.")}
    # at the start only the zero-initialised layers' gradients can flow: the fusions, the
    # projection, the merge and the decoder; q, k, v learn once the fusions are non-zero
    for name in ("a2k4.fusion1.weight", "a2k4.fusion2.weight", "project5.weight", "merge.1.weight"):
        assert grads[name] is not None and grads[name].abs().sum() > 0, name
    assert all(p.grad is None for k, p in net.named_parameters() if k.startswith("encoder."))


def test_stylize_takes_any_size_and_returns_it(encoder):
    net = StyA2KNet(encoder, width=0.125)
    out = net.stylize(torch.rand(1, 3, 70, 90), torch.rand(1, 3, 100, 50))
    assert out.shape == (1, 3, 70, 90) and out.min() >= 0 and out.max() <= 1


def test_config_round_trip_and_a_foreign_config(encoder):
    net = StyA2KNet(encoder, width=0.125, heads=4)
    again = from_config(encoder, net.config())
    assert again.config() == net.config()
    bad = dict(
        net.config(), levels={"2": "relu2_1", "4": "relu3_1", "8": "relu4_1", "16": "relu5_1"}
    )
    with pytest.raises(StylelabError, match="made for another encoder"):
        from_config(encoder, bad)


def test_train_a2k_runs_and_resumes(tmp_path):
    """Two steps through the CLI with the shared Trainer, then one more from the checkpoint."""
    from stylelab.cli import main

    args = ["train", "a2k", "--size", "64", "--batch", "1", "--out", str(tmp_path / "run")]
    args += ["--threads", "1", "--no-progress", "--sample-every", "100", "--style-pool", "2"]
    assert main([*args, "--steps", "2"]) == 0
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert main([*args, "--steps", "3", "--resume"]) == 0
    bad = ["train", "a2k", "--size", "96", "--steps", "1", "--out", str(tmp_path / "x")]
    assert main(bad) == 2  # one line: crops must be multiples of 64


@pytest.mark.parametrize("attention", ["a2k", "all_to_all"])
def test_both_attentions_start_as_the_identity_layer(encoder, attention):
    """Zero output convs: each attention layer returns its content features untouched."""
    net = StyA2KNet(encoder, width=0.125, heads=4, attention=attention)
    g = torch.Generator().manual_seed(1)
    for layer in net.layers():
        x, y = (torch.randn(1, layer.q.in_channels, 8, 8, generator=g) for _ in range(2))
        torch.testing.assert_close(layer(x, y), x)


def test_all_to_all_takes_an_a2k_networks_weights(encoder):
    """The fine-tune's start: DA's q, k, v, fusion1 become SANet's q, k, v, out; the rest as is."""
    torch.manual_seed(0)
    a2k = StyA2KNet(encoder, width=0.125, heads=4)
    for p in a2k.parameters():
        if p.requires_grad:
            p.data.normal_()
    baseline = StyA2KNet(encoder, width=0.125, heads=4, attention="all_to_all")
    baseline.load_trainable_state_dict(a2k.trainable_state_dict())
    torch.testing.assert_close(baseline.sanet4.q.weight, a2k.a2k4.q.weight)
    torch.testing.assert_close(baseline.sanet5.out.bias, a2k.a2k5.fusion1.bias)
    torch.testing.assert_close(baseline.decoder.state_dict(), a2k.decoder.state_dict())
    with pytest.raises(StylelabError, match="unknown attention 'dense'"):
        StyA2KNet(encoder, attention="dense")


def test_stylize_alpha_mix_and_colour(encoder):
    """alpha 0: the content as its own style; weights (1, 0): the first style alone."""
    torch.manual_seed(0)
    net = StyA2KNet(encoder, width=0.125, heads=4)
    for name in ("fusion1", "fusion2"):  # non-zero, so the styles make a difference
        for layer in net.layers():
            getattr(layer, name).weight.data.normal_(0, 0.05)
    g = torch.Generator().manual_seed(2)
    c, s1, s2 = (torch.rand(1, 3, 64, 128, generator=g) for _ in range(3))
    torch.testing.assert_close(net.stylize(c, s1, alpha=0.0), net.stylize(c, c))
    torch.testing.assert_close(net.stylize(c, [s1, s2], weights=[1, 0]), net.stylize(c, s1))
    assert not torch.allclose(net.stylize(c, s1), net.stylize(c, s2))
    assert net.stylize(c, s1, preserve_color=True).shape == c.shape
    with pytest.raises(StylelabError, match="alpha"):
        net.stylize(c, s1, alpha=1.5)
    with pytest.raises(StylelabError, match="style image 0 must be"):
        net.stylize(c, torch.rand(3, 64, 64))


def test_the_all_to_all_baseline_fine_tunes_a_shipped_a2k(isolated_weights, encoder, tmp_path):
    """Through the CLI: only the SANet layers train and ship; loading puts the pinned A2K
    weights under them; a changed A2K file is refused with the commands that remake both."""
    from stylelab.cli import main
    from stylelab.training import zoo

    torch.manual_seed(0)
    a2k = StyA2KNet(encoder, width=0.125, heads=4)
    meta = {"encoder": encoder.name, "config": a2k.config(), "steps": 7, "train_minutes": 1.5}
    zoo.publish("a2k", a2k, {**meta, "command": "stylelab train a2k (test)"})
    args = ["train", "all_to_all", "--size", "64", "--batch", "1", "--width", "0.125"]
    args += ["--threads", "1", "--no-progress", "--sample-every", "0", "--style-pool", "2"]
    assert main([*args, "--steps", "2", "--out", str(tmp_path / "run"), "--publish"]) == 0
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert ckpt and all(k.startswith(("sanet3.", "sanet4.", "sanet5.")) for k in ckpt)
    entry = zoo._entry("all_to_all")
    assert entry["base"]["name"] == "a2k" and entry["steps"] == 2 + 7
    loaded = zoo.load("all_to_all", device="cpu")
    torch.testing.assert_close(loaded.decoder.state_dict(), a2k.decoder.half().float().state_dict())
    torch.testing.assert_close(loaded.sanet4.q.weight, ckpt["sanet4.q.weight"].half().float())
    zoo.publish("a2k", StyA2KNet(encoder, width=0.125, heads=4), {**meta, "command": "x"})
    hint = r"retrain it with `stylelab train a2k \(test\)` then `stylelab train all_to_all"
    with pytest.raises(StylelabError, match=hint):
        zoo.load("all_to_all", device="cpu")


def test_switches_change_the_layers_and_are_restored(encoder):
    from stylelab.attention.net import switched

    net = StyA2KNet(encoder, width=0.125, heads=4)
    with switched(net, use_pa=False, region=(4, 2, 1), heads=1):
        assert [layer.region for layer in net.layers()] == [4, 2, 1]
        assert not any(layer.use_pa for layer in net.layers())
        assert net.stylize(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)).shape[-1] == 64
    assert [layer.region for layer in net.layers()] == [8, 8, 4]
    assert all(layer.use_pa and layer.heads == 4 for layer in net.layers())
    with pytest.raises(StylelabError, match="unknown switch 'dropout'"):
        with switched(net, dropout=0.1):
            pass
    with pytest.raises(StylelabError, match="cannot be split into 5 heads"):
        with switched(net, heads=5):
            pass
    assert all(layer.heads == 4 for layer in net.layers())
