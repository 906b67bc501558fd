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
