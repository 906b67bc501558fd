"""The ImageTextSpace interface: the CLIP adapter on a tiny random model of open_clip's
interface, the offline text tower, and the image head on the frozen encoder."""

import pytest
import torch
from tiny_clip import make_tiny_space

from stylelab.core.errors import StylelabError
from stylelab.text.prompts import TEMPLATES, templated
from stylelab.text.space import MiniLMText, OpenClipSpace, StatsImageHead


@pytest.fixture
def tiny_space():
    return make_tiny_space()


def test_adapter_gives_unit_rows(tiny_space):
    images = torch.rand(3, 3, 40, 56)
    e = tiny_space.encode_image(images)
    assert e.shape == (3, 8) and torch.allclose(e.norm(dim=1), torch.ones(3))
    t = tiny_space.encode_text(["a cat", "stained glass"])
    assert t.shape == (2, 8) and torch.allclose(t.norm(dim=1), torch.ones(2))


def test_prompt_embedding_is_the_template_mean(tiny_space):
    want = tiny_space.encode_text(templated("stained glass")).mean(0)
    got = tiny_space.prompt_embedding("stained glass")
    assert torch.allclose(got, want / want.norm()) and len(TEMPLATES) == 79
    direction = tiny_space.text_direction("stained glass")
    assert torch.isclose(direction.norm(), torch.tensor(1.0))


def test_adapter_refuses_bad_input(tiny_space, tmp_path):
    with pytest.raises(StylelabError, match="non-empty"):
        tiny_space.encode_text(["a cat", ""])
    with pytest.raises(StylelabError):
        tiny_space.encode_image(torch.rand(3, 40, 56) * 5)
    with pytest.raises(StylelabError, match="no CLIP checkpoint"):
        OpenClipSpace.from_local("ViT-B-32", tmp_path / "missing.bin")


def test_offline_text_tower_puts_related_prompts_together():
    tower = MiniLMText()
    e = tower(
        ["a stained glass window", "stained glass mosaic with lead lines", "a photo of a cat"]
    )
    assert e.shape == (3, 384) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


def test_image_head_trains_only_its_mlp():
    from stylelab.encoders import load_encoder

    head = StatsImageHead(load_encoder("mobilenetv2"), dim=16, hidden=32).train()
    out = head(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 16) and torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-6)
    out.sum().backward()
    assert all(p.grad is None for p in head.encoder.parameters())
    assert all(p.grad is not None for p in head.mlp.parameters())
    assert not head.encoder.training
