"""StyleMamba's conditional SSM and CLIPstyler's U-Net."""

import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.ssm.ss2d import SS2D
from stylelab.text.fusion import ConditionalSS2D, StyleFusion, StyleNet


def test_zero_text_projection_is_plain_ss2d():
    torch.manual_seed(0)
    cond = ConditionalSS2D(8, text_dim=5, d_state=4).double()
    plain = SS2D(8, d_state=4).double()
    plain.load_state_dict({k: v for k, v in cond.state_dict().items() if "text_proj" not in k})
    torch.nn.init.zeros_(cond.text_proj.weight)
    x = torch.randn(1, 3, 4, 8, dtype=torch.float64)
    cond.condition(torch.randn(5, dtype=torch.float64))
    assert torch.allclose(cond(x, backend="torch"), plain(x, backend="torch"), atol=1e-12)


def test_text_conditions_delta_and_b_additively():
    torch.manual_seed(0)
    cond = ConditionalSS2D(8, text_dim=5, d_state=4).double()
    x = torch.randn(1, 3, 4, 8, dtype=torch.float64)
    t = torch.randn(5, dtype=torch.float64)
    cond.condition(torch.zeros(5, dtype=torch.float64))
    base = cond.scan_inputs(x)
    cond.condition(t)
    moved = cond.scan_inputs(x)
    r, n = cond.dt_rank, cond.d_state
    w = cond.text_proj(t).view(4, r + n)
    bias = cond.text_proj(torch.zeros(5, dtype=torch.float64)).view(4, r + n)
    # B moves by the same vector at every token; u and C do not move
    assert torch.allclose(
        moved["B"] - base["B"], (w - bias)[None, :, r:, None].expand_as(base["B"])
    )
    assert torch.equal(moved["u"], base["u"]) and torch.equal(moved["C"], base["C"])
    assert not torch.allclose(moved["dt"], base["dt"])
    with_text = cond(x, backend="torch")
    cond.condition(torch.zeros(5, dtype=torch.float64))
    assert not torch.allclose(with_text, cond(x, backend="torch"))


def test_condition_is_checked():
    cond = ConditionalSS2D(8, text_dim=5)
    with pytest.raises(StylelabError, match="condition"):
        cond(torch.randn(1, 2, 2, 8))
    with pytest.raises(StylelabError, match="5 values"):
        cond.condition(torch.randn(7))


def test_fusion_starts_as_identity_and_trains():
    torch.manual_seed(0)
    fusion = StyleFusion(12, text_dim=5, width=8)
    z = torch.randn(1, 12, 4, 6)
    out = fusion(z, torch.randn(5))
    assert torch.equal(out, z)
    out.square().sum().backward()
    assert fusion.proj_out.weight.grad.abs().sum() > 0


def test_stylenet_shapes_and_range():
    net = StyleNet(width=4)
    y = net(torch.rand(2, 3, 40, 24))
    assert y.shape == (2, 3, 40, 24) and 0 < y.min() and y.max() < 1
