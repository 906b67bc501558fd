"""The book-size Mamba-ST network: its loss, inference on any size, the shuffle, its recipe."""

from __future__ import annotations

import json

import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.ssm.mamba_st import MambaST, from_config, shuffle_tokens


@pytest.fixture(scope="module")
def encoder():
    from stylelab.encoders import load_encoder

    return load_encoder("mobilenetv2")


def tiny(encoder, **kw) -> MambaST:
    torch.manual_seed(0)
    return MambaST(encoder, d_model=16, depth=1, d_state=4, width=0.125, **kw)


def test_loss_has_the_four_terms_and_trains_every_part(encoder):
    net = tiny(encoder)
    batch = (torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64))
    loss, terms = net.loss(batch)
    assert set(terms) == {"content", "style", "identity_pixels", "identity_features", "total"}
    w = net.loss_weights
    expected = sum(w[k] * terms[k] for k in w)
    assert terms["total"] == pytest.approx(expected, rel=1e-5)
    loss.backward()
    for name, p in net.named_parameters():
        if name.startswith("encoder."):
            assert p.grad is None, name  # frozen
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_identity_pairs_are_the_network_on_c_c_and_s_s(encoder):
    """The batched loss forward equals three separate forwards (no shuffle, no drop path)."""
    net = tiny(encoder, shuffle=False).eval()
    c, s = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        outs = [net(a, b) for a, b in ((c, s), (c, c), (s, s))]
        both = torch.cat([c, s])
        ec = net.encode_tokens(net.embed(both), net.encoder_c)
        es = net.encode_tokens(net.embed(both), net.encoder_s)
        batched = net.decode(
            net.transform(torch.cat([ec[:1], ec[:1], ec[1:]]), torch.cat([es[1:], es[:1], es[1:]]))
        )
    torch.testing.assert_close(batched, torch.cat(outs), rtol=1e-4, atol=1e-5)


def test_shuffle_keeps_the_tokens_and_is_seeded(encoder):
    s = torch.arange(2 * 3 * 4 * 5.0).view(2, 3, 4, 5)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = shuffle_tokens(s, g1), shuffle_tokens(s, g2)
    assert torch.equal(a, b) and not torch.equal(a, s)
    # the same permutation for the whole batch, and the same set of tokens
    assert torch.equal(a.flatten(1, 2).sort(dim=1).values, s.flatten(1, 2).sort(dim=1).values)
    net = tiny(encoder)
    c, st = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 64, 64)
    out1, out2 = net.stylize(c, st, seed=1), net.stylize(c, st, seed=1)
    assert torch.equal(out1, out2)  # deterministic with a seed
    assert not torch.equal(out1, net.stylize(c, st, seed=2))  # the shuffle matters


def test_stylize_any_size_and_the_options(encoder):
    net = tiny(encoder)
    c = torch.rand(2, 3, 37, 50)  # not multiples of 8: padded, then cropped back
    styles = [torch.rand(1, 3, 64, 30), torch.rand(1, 3, 20, 90)]  # resized to the content
    out = net.stylize(c, styles, alpha=0.5, weights=[3, 1])
    assert out.shape == c.shape and out.min() >= 0 and out.max() <= 1
    assert net.stylize(c[:1], styles[0], preserve_color=True).shape == (1, 3, 37, 50)
    assert net.training  # restored


def test_bad_input_is_a_clear_error(encoder):
    net = tiny(encoder)
    with pytest.raises(StylelabError, match=r"\(N, 3, H, W\)"):
        net.stylize(torch.rand(1, 4, 32, 32), torch.rand(1, 3, 32, 32))
    with pytest.raises(StylelabError, match="at least one style"):
        net.stylize(torch.rand(1, 3, 32, 32), [])
    with pytest.raises(StylelabError, match="alpha"):
        net.stylize(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), alpha=2)
    with pytest.raises(StylelabError, match="loss weights"):
        MambaST(net.encoder, d_model=16, loss_weights={"styel": 1.0})
    with pytest.raises(StylelabError, match="missing"):
        net.load_trainable_state_dict({})


def test_config_round_trip(encoder):
    net = tiny(encoder, init="official")
    config = json.loads(json.dumps(net.config()))
    again = from_config(encoder, config)
    again.load_trainable_state_dict(net.trainable_state_dict())
    assert again.config() == net.config()
    # the CLI's weight flags go through config keys
    flagged = from_config(encoder, {**config, "style_weight": 3.0, "identity_weight": 0.5})
    assert flagged.loss_weights["style"] == 3.0 and flagged.loss_weights["identity_pixels"] == 0.5


def test_train_and_resume_from_the_cli(tmp_path):
    """Two steps, then two more resumed: the recipe runs under the shared trainer."""
    from stylelab.cli import main

    out = tmp_path / "run"
    argv = ["train", "mamba_st", "--steps", "2", "--size", "32", "--batch", "1", "--width",
            "0.125", "--threads", "1", "--out", str(out), "--no-progress", "--encoder",
            "mobilenetv2", "--style-pool", "2"]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "mamba_st" and config["identity_weight"] == 70.0
    argv[argv.index("--steps") + 1] = "4"
    assert main([*argv, "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 4


def test_size_not_a_multiple_of_the_patch_is_refused(tmp_path, capsys):
    from stylelab.cli import main

    argv = ["train", "mamba_st", "--steps", "1", "--size", "36", "--batch", "1",
            "--out", str(tmp_path / "x"), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    assert "multiples of 8" in capsys.readouterr().err
