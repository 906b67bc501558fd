"""The scores of stylelab.metrics against their definitions (mechanisms §1.3-1.4)."""

from __future__ import annotations

import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.metrics import lpips_metric
from stylelab.metrics.perceptual import content_metric, metric_taps, style_metric
from stylelab.metrics.structure import ssim
from stylelab.stats import mvn


def feats(seed: int, shape=(1, 4, 6, 5), scale=1.0, shift=0.0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.randn(shape, generator=g) * scale + shift}


def test_mvn_standardises_each_channel():
    x = feats(0, scale=3.0, shift=2.0)["a"]
    z = mvn(x)  # (1, 4, 6, 5)
    torch.testing.assert_close(z.mean(dim=(2, 3)), torch.zeros(1, 4), atol=1e-6, rtol=0)
    # unbiased std of mvn(x) is sigma / sqrt(sigma^2 + eps) ~ 1 - eps / (2 sigma^2)
    torch.testing.assert_close(z.std(dim=(2, 3)), torch.ones(1, 4), atol=1e-5, rtol=0)


def test_style_metric_is_the_formula():
    o, s = feats(1)["a"], feats(2, shape=(1, 4, 9, 7))["a"]  # sizes may differ
    mu_o, mu_s = o.mean(dim=(2, 3)), s.mean(dim=(2, 3))
    sd_o = (o.var(dim=(2, 3)) + 1e-5).sqrt()  # unbiased variance + eps, as calc_mean_std
    sd_s = (s.var(dim=(2, 3)) + 1e-5).sqrt()
    expected = ((mu_o - mu_s) ** 2).mean() + ((sd_o - sd_s) ** 2).mean()
    assert style_metric({"a": o}, {"a": s}, ["a"]) == pytest.approx(expected.item(), rel=1e-5)
    assert style_metric({"a": o}, {"a": o}, ["a"]) == 0.0


def test_content_metric_ignores_channel_scale_and_shift():
    """mvn first: a per-channel affine change of the features is not a content change."""
    x = feats(3)["a"]
    assert content_metric({"a": 5 * x + 2}, {"a": x}, ["a"]) == pytest.approx(0.0, abs=1e-9)
    assert content_metric({"a": feats(4)["a"]}, {"a": x}, ["a"]) > 0.5


def test_metric_taps_are_the_papers_on_vgg19():
    class Fake:
        name, content_tap, taps, style_taps = "mobilenetv2", "b6", ("b1", "b6", "b13"), ("b1",)

    assert metric_taps(Fake()) == (("b6", "b13"), ("b1",))
    Fake.name = "vgg19"
    assert metric_taps(Fake()) == (
        ("relu4_1", "relu5_1"),
        ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    )


def test_ssim_is_one_for_the_content_and_drops_with_noise():
    x = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x) == pytest.approx(1.0)
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert ssim(noisy, x) < 0.9
    # An output a pixel or two larger (decoders round) is resized to the content's size; on a
    # smooth image that costs little structure (on white noise any resampling would).
    smooth = torch.nn.functional.interpolate(x[..., :6, :5], size=(48, 40), mode="bilinear")
    bigger = torch.nn.functional.interpolate(smooth, size=(50, 42), mode="bilinear")
    assert ssim(bigger, smooth) > 0.95
    with pytest.raises(StylelabError, match="at least 7x7"):
        ssim(x[..., :5, :5], x[..., :5, :5])


# ---------------------------------------------------------------- LPIPS, offline


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache, and a download function that fails the test if called."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError(f"tried to download {args[:1]}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path / "checkpoints"


def test_lpips_says_why_it_cannot_run(hub):
    reason = lpips_metric.lpips_unavailable()
    assert lpips_metric.ALEXNET_FILE in reason and "nothing is downloaded" in reason
    with pytest.raises(StylelabError, match="LPIPS unavailable: no AlexNet weights"):
        lpips_metric.LPIPSMetric()


def test_lpips_runs_on_a_local_alexnet_file_without_downloading(hub):
    """A seeded random AlexNet written where torchvision looks: LPIPS loads it, downloads nothing."""
    import torchvision

    torch.manual_seed(0)
    hub.mkdir(parents=True)
    state = {k: v.half() for k, v in torchvision.models.alexnet().state_dict().items()}
    torch.save(state, hub / lpips_metric.ALEXNET_FILE)  # fp16: half the bytes; loads as fp32
    assert lpips_metric.lpips_unavailable() is None
    metric = lpips_metric.LPIPSMetric()
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(1, 3, 64, 64, generator=g), torch.rand(1, 3, 64, 64, generator=g)
    assert metric(x, x) == pytest.approx(0.0, abs=1e-6)
    assert metric(y, x) > 0.0
