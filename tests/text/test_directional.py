"""The text-guided losses on hand-made embeddings whose answers are known."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stylelab.core.errors import StylelabError
from stylelab.text import directional as d
from stylelab.text.prompts import SOURCE_TEXT, TEMPLATES, check_prompt, templated

E = torch.eye(4, dtype=torch.float64)  # four orthonormal embedding axes


def test_a_direction_along_the_text_costs_nothing():
    source, direction = E[0], E[1]
    image = source + 3.0 * direction  # moved exactly along ΔT, any distance
    assert d.directional_loss(image, source, direction).item() == pytest.approx(0.0, abs=1e-12)
    assert d.directional_loss(source - direction, source, direction).item() == pytest.approx(2.0)
    assert d.directional_loss(source + E[2], source, direction).item() == pytest.approx(1.0)


def test_text_direction_is_the_unit_difference():
    got = d.text_direction(torch.tensor([3.0, 4.0]), torch.zeros(2))
    assert torch.allclose(got, torch.tensor([0.6, 0.8]))
    with pytest.raises(StylelabError, match="shapes differ"):
        d.text_direction(torch.zeros(3), torch.zeros(2))


def test_patch_threshold_zeroes_the_aligned_crops():
    source, direction = E[0], E[1]
    angles = torch.tensor([0.0, 0.25, 0.5, 0.75]) * math.pi  # terms 1 - cos: 0, .29, 1, 1.71
    crops = source + torch.cos(angles)[:, None] * E[1] + torch.sin(angles)[:, None] * E[2]
    terms = 1 - torch.cos(angles)
    want = terms.where(terms >= 0.7, torch.zeros_like(terms)).mean()  # the first two rejected
    assert d.patch_loss(crops, source, direction).item() == pytest.approx(want.item())
    assert d.patch_loss(crops, source, direction, threshold=0.0).item() == pytest.approx(
        terms.mean().item()
    )
    assert d.patch_loss(crops[:2], source, direction).item() == 0.0  # all aligned: nothing


def test_masks_are_applied_identically_and_never_empty():
    g = torch.Generator().manual_seed(0)
    masks = d.random_masks(64, 32, 48, grid=8, keep=0.05, generator=g)
    assert masks.shape == (64, 1, 32, 48) and set(masks.unique().tolist()) <= {0.0, 1.0}
    assert (masks.flatten(1).sum(1) > 0).all()  # keep 5 %: some boards drew no cell
    y, x = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48)
    my, mx = d.apply_masks(masks, y, x)
    assert torch.equal(my == 0, (masks == 0).expand_as(my) | (y == 0))  # zero exactly off-mask
    assert torch.equal((my != 0) & (mx != 0), (masks != 0).expand_as(my) & (y != 0) & (x != 0))
    with pytest.raises(StylelabError, match="share H and W"):
        d.apply_masks(masks, y, x[..., :40])
    with pytest.raises(StylelabError, match="keep"):
        d.random_masks(1, 8, 8, keep=0.0)


def test_masked_loss_is_the_mean_of_the_pairs():
    direction = E[1]
    contents = torch.stack([E[0], E[2]])
    outputs = torch.stack([E[0] + E[1], E[2] - E[1]])  # along ΔT (0), against it (2)
    assert d.masked_directional_loss(outputs, contents, direction).item() == pytest.approx(1.0)
    with pytest.raises(StylelabError, match="pair up"):
        d.masked_directional_loss(outputs, contents[:1], direction)


def test_second_order_losses():
    direction, previous = E[1], d.unit(E[1] + E[2])  # half-way: ΔT - ΔI_{k-1} is what is left
    step_right = previous + 0.1 * d.unit(direction - previous)
    assert d.second_order_steps(step_right, previous, direction).item() == pytest.approx(0.0)
    assert d.second_order_steps(previous - 0.1 * (direction - previous), previous, direction).item(
    ) == pytest.approx(2.0)  # fmt: skip
    xa, xb = E[0], E[2]
    assert d.second_order_pairs(xa + E[3], xb + E[3], xa, xb).item() == pytest.approx(0.0)
    assert d.second_order_pairs(xb, xa, xa, xb).item() == pytest.approx(2.0)  # swapped


def test_second_order_steps_does_not_backpropagate_into_the_past():
    previous = torch.tensor([1.0, 0.0, 0.0], requires_grad=True)
    delta = torch.tensor([0.5, 0.5, 0.0], requires_grad=True)
    d.second_order_steps(delta, previous, torch.tensor([0.0, 1.0, 0.0])).backward()
    assert previous.grad is None and delta.grad is not None


@settings(deadline=None)  # a Python loop over pixels: slow by design, and it is the spec
@given(st.integers(1, 3), st.integers(2, 8), st.integers(2, 8))
def test_total_variation_matches_a_loop(n, h, w):
    g = torch.Generator().manual_seed(n * 100 + h * 10 + w)
    img = torch.randn(n, 2, h, w, generator=g, dtype=torch.float64)
    sums = [0.0, 0.0, 0.0, 0.0]
    for b in range(n):
        for c in range(2):
            for i in range(h):
                for j in range(w):
                    if j + 1 < w:
                        sums[0] += (img[b, c, i, j] - img[b, c, i, j + 1]).item() ** 2
                    if i + 1 < h:
                        sums[1] += (img[b, c, i, j] - img[b, c, i + 1, j]).item() ** 2
                    if i + 1 < h and j + 1 < w:
                        sums[2] += (img[b, c, i + 1, j] - img[b, c, i, j + 1]).item() ** 2
                        sums[3] += (img[b, c, i, j] - img[b, c, i + 1, j + 1]).item() ** 2
    want = sum(math.sqrt(s) for s in sums)
    assert d.total_variation(img).item() == pytest.approx(want, rel=1e-10)
    assert d.total_variation(torch.ones(1, 3, h, w)).item() == 0.0


def test_bad_shapes_and_prompts_are_refused():
    with pytest.raises(StylelabError, match=r"\(N, D\)"):
        d.directional_loss(torch.zeros(2, 3), torch.zeros(3), torch.zeros(4))
    with pytest.raises(StylelabError, match="non-empty"):
        check_prompt("   ")
    assert len(TEMPLATES) == 79 and all(t.count("{}") == 1 for t in TEMPLATES)
    assert templated(SOURCE_TEXT)[0] == "a bad photo of a a Photo."
