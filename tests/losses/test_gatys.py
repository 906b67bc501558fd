"""Gatys optimisation on tiny images: it descends, it is deterministic, it refuses bad input."""

import time

import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.encoders import load_encoder
from stylelab.losses.gatys import INIT_MARGIN, GatysObjective, Result, gatys_transfer

SIZE = 40  # the smallest comfortable size: encoders need 32 px, shift averaging crops one more


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny images: a second thread only adds synchronisation (5x slower on a busy 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def vgg():
    return load_encoder("vgg19", weights="random", seed=0)


@pytest.fixture(scope="module")
def mnv2():
    return load_encoder("mobilenetv2")


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    # A smooth "photo" (gradients and a disc) and a high-contrast striped "style".
    yy, xx = torch.meshgrid(torch.linspace(0, 1, SIZE), torch.linspace(0, 1, SIZE), indexing="ij")
    disc = (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.1).float()
    content = torch.stack([yy, xx, disc])[None]  # (1, 3, 40, 40)
    stripes = (torch.sin(xx * 40 + yy * 10) > 0).float()
    style = torch.stack([stripes, 0.2 + 0.1 * torch.rand(SIZE, SIZE, generator=g), 1 - stripes])
    return content, style[None]


@pytest.mark.parametrize("enc_name", ["vgg", "mnv2"])
def test_loss_decreases_and_output_is_a_valid_image(enc_name, images, request):
    enc = request.getfixturevalue(enc_name)
    content, style = images
    after_step = []  # the image after each step, as the callback sees it
    start = time.perf_counter()
    r = gatys_transfer(content, style, enc, steps=8, size=SIZE, style_weight=10, progress=False,
                       callback=lambda step, img, loss: after_step.append(img.clone()))  # fmt: skip
    wall = time.perf_counter() - start
    assert isinstance(r, Result)
    assert r.image.shape == content.shape and r.image.dtype == torch.float32
    assert torch.isfinite(r.image).all() and r.image.min() >= 0 and r.image.max() <= 1
    assert torch.equal(r.image, after_step[-1])  # the returned image is the last step's
    assert r.settings["shift_average"] is (enc_name == "mnv2")  # auto: on for MobileNetV2 only
    assert 0 < r.seconds <= wall  # seconds, measured inside the call

    # The recorded curve is the objective, recomputed from scratch: step k's entry is the
    # loss at the image step k started from (the content squeezed into the sigmoid's range,
    # then the image after step k - 1), and its total is the sum of its weighted terms.
    assert [d["step"] for d in r.losses] == list(range(1, 9))
    obj = GatysObjective(enc, content, style, style_weight=10, shift_average=enc_name == "mnv2")
    first = content.clamp(INIT_MARGIN, 1 - INIT_MARGIN)
    with torch.no_grad():
        recomputed = [obj(img) for img in [first, *after_step]]
    for d, (total, parts) in zip(r.losses, recomputed):
        # same float32 computation in the same order, with and without autograd: 1e-5
        assert d["total"] == pytest.approx(total.item(), rel=1e-5), d["step"]
        for term in ("content", "style", "tv"):
            assert d[term] == pytest.approx(parts[term].item(), rel=1e-5, abs=1e-7), term
        assert d["total"] == pytest.approx(d["content"] + d["style"] + d["tv"], rel=1e-6)
    # ...and the image returned is better than the start: at least halved, recomputed too
    assert recomputed[-1][0].item() < 0.5 * recomputed[0][0].item()


def test_same_seed_same_image_other_seed_other_image(vgg, images):
    content, style = images
    kw = dict(steps=3, size=SIZE, init="noise", progress=False)
    a = gatys_transfer(content, style, vgg, seed=1, **kw)
    b = gatys_transfer(content, style, vgg, seed=1, **kw)
    c = gatys_transfer(content, style, vgg, seed=2, **kw)
    assert torch.equal(a.image, b.image)
    assert [d["total"] for d in a.losses] == [d["total"] for d in b.losses]
    assert not torch.equal(a.image, c.image)


@pytest.mark.parametrize("kind", ["gram", "mean_std"])
def test_adam_and_both_style_losses_descend(vgg, images, kind):
    content, style = images
    r = gatys_transfer(content, style, vgg, steps=6, size=SIZE, optimizer="adam", lr=0.1,
                       style_loss=kind, init="noise", progress=False)  # fmt: skip
    assert r.losses[-1]["total"] < r.losses[0]["total"]


def test_callback_sees_every_step(mnv2, images):
    content, style = images
    seen = []
    gatys_transfer(content, style, mnv2, steps=3, size=SIZE, progress=False,
                   callback=lambda step, img, loss: seen.append((step, img.shape, loss["step"])))  # fmt: skip
    assert seen == [(k, content.shape, k) for k in (1, 2, 3)]


@pytest.mark.parametrize("shift", [False, True])
def test_objective_is_zero_when_image_content_and_style_coincide(mnv2, images, shift):
    """The targets line up with the image: same shifts for content, same statistics for style."""
    content, _ = images
    obj = GatysObjective(mnv2, content, content, style_weight=10, tv_weight=0, shift_average=shift)
    total, parts = obj(content)
    assert parts["content"].item() == 0
    if not shift:  # with shifts the style target is the mean over the 4 views' statistics
        assert total.item() == 0
    else:
        assert parts["style"].item() < 1e-2 * obj(torch.rand_like(content))[1]["style"].item()


def test_style_weight_trades_content_for_style(vgg, images):
    content, style = images
    kw = dict(steps=8, size=SIZE, progress=False)
    low = gatys_transfer(content, style, vgg, style_weight=0.01, **kw)
    high = gatys_transfer(content, style, vgg, style_weight=100, **kw)
    dist = [float((r.image - content).abs().mean()) for r in (low, high)]
    assert dist[0] < dist[1]


def test_size_shrinks_inputs(vgg, images):
    content, style = images
    big = torch.nn.functional.interpolate(content, scale_factor=2)  # (1, 3, 80, 80)
    r = gatys_transfer(big, style, vgg, steps=1, size=SIZE, progress=False)
    assert r.image.shape[-2:] == (SIZE, SIZE)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps must be a positive int"),
        (dict(init="zeros"), "unknown init 'zeros'"),
        (dict(optimizer="sgd"), "unknown optimizer 'sgd'"),
        (dict(style_loss="cosine"), "unknown style_loss 'cosine'"),
        (dict(style_weight=-1.0), "style_weight must be a finite number >= 0"),
        (dict(content_weight=float("nan")), "content_weight must be"),
        (dict(size=0), "size must be a positive int"),
        (dict(size=24), "needs at least 33"),
        (dict(encoder=torch.nn.Identity()), "encoder must be an Encoder"),
    ],
)
def test_bad_input_gets_a_clear_error(vgg, images, kwargs, match):
    content, style = images
    kwargs = {"encoder": vgg, "steps": 1, "size": SIZE, "progress": False, **kwargs}
    with pytest.raises(StylelabError, match=match):
        gatys_transfer(content, style, **kwargs)


def test_non_image_input_is_refused(vgg, images):
    _, style = images
    with pytest.raises(StylelabError):
        gatys_transfer(torch.full((1, 3, SIZE, SIZE), float("nan")), style, vgg, steps=1,
                       progress=False)  # fmt: skip


def test_a_diverging_run_stops_with_a_hint(vgg, images, monkeypatch):
    """A loss that turns NaN (an overflow, a bad weight) stops the run with advice."""
    content, style = images
    real = GatysObjective.__call__
    calls = []

    def flaky(self, image):
        total, parts = real(self, image)
        calls.append(1)
        return (total * float("nan"), parts) if len(calls) >= 3 else (total, parts)

    monkeypatch.setattr(GatysObjective, "__call__", flaky)
    with pytest.raises(StylelabError, match=r"diverged at step 3 \(loss nan\); lower style_weight"):
        gatys_transfer(content, style, vgg, steps=5, size=SIZE, progress=False)
