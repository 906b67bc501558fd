"""Captions and labels of the tower's training pairs; the SigLIP loss on known answers."""

import torch

from stylelab.paintings import PAINTERS, PALETTES
from stylelab.text import corpus
from stylelab.text.corpus import Label
from stylelab.training import text_tower as tower


def test_every_painter_has_synonyms_and_varied_captions():
    assert set(corpus.STYLE_WORDS) == set(PAINTERS)
    caps = corpus.painting_captions("voronoi", "autumn", "own words")
    texts = [t for t, _ in caps]
    assert texts[0] == "own words" and len(set(texts)) == len(texts) > 10
    # a phrasing without the palette is true of every palette of the painter
    general = [lb for t, lb in caps if lb.palette is None]
    assert general and all(lb.painter == "voronoi" for lb in general)


def test_label_matches_and_its_vectorised_twin_agree():
    labels = [Label("brush", "sunset"), Label("brush", "ocean"), Label("voronoi", "sunset"),
              Label(None, None, "chelsea"), Label(None, None, "motorcycle_left")]  # fmt: skip
    captions = [Label("brush", None), Label("brush", "sunset"), Label(None, None, None),
                Label(None, None, "motorcycle_right"), Label("voronoi", "ocean")]  # fmt: skip
    want = torch.tensor([[i.matches(c) for c in captions] for i in labels])
    got = tower.matches(tower.label_codes(labels), tower.label_codes(captions))
    assert torch.equal(got, want)
    assert want[0].tolist() == [True, True, False, False, False]
    assert want[1].tolist() == [True, False, False, False, False]
    # photos: any plain-photo caption, and subject captions by subject (two motorcycle views)
    assert want[3].tolist() == [False, False, True, False, False]
    assert want[4].tolist() == [False, False, True, True, False]


def test_siglip_loss_prefers_the_true_pairs():
    img = torch.eye(3)
    positive = torch.eye(3, dtype=torch.bool)
    scale, bias = torch.tensor(2.3), torch.tensor(-5.0)
    right = tower.siglip_loss(img, torch.eye(3), positive, scale, bias)
    wrong = tower.siglip_loss(img, torch.eye(3)[[1, 2, 0]], positive, scale, bias)
    assert right < wrong
    # the formula by hand for one pair: -log σ(z (e^s cos + b))
    one = tower.siglip_loss(img[:1], img[:1], positive[:1, :1], scale, bias)
    assert torch.isclose(one, -torch.nn.functional.logsigmoid(scale.exp() + bias))


def test_canonical_captions_cover_classes_and_photos():
    classes = corpus.all_classes()
    assert len(classes) == len(PAINTERS) * len(PALETTES)
    assert corpus.canonical_caption(Label(None, None, "chelsea")) == "a photo of a cat"
    assert corpus.canonical_caption(Label(None, None, None)) == "a plain photo"
    assert PALETTES["sunset"].words in corpus.canonical_caption(Label("brush", "sunset"))
