"""A tiny random model with open_clip's interface, as an ImageTextSpace (nothing downloads);
imported by the text tests (a conftest here would shadow tests/conftest.py)."""

import torch
from torch import nn

from stylelab.text.space import OpenClipSpace


class TinyClip(nn.Module):
    """open_clip's two methods, random weights: 8-d embeddings."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.visual = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, 8))
        self.words = nn.EmbeddingBag(1000, 8)

    def encode_image(self, x):
        return self.visual(x)

    def encode_text(self, tokens):
        return self.words(tokens)


def tiny_tokenizer(texts):
    ids = [[sum(map(ord, w)) % 1000 for w in t.split()][:12] for t in texts]
    return torch.tensor([row + [0] * (12 - len(row)) for row in ids])


def make_tiny_space():
    return OpenClipSpace(TinyClip(), tiny_tokenizer, dim=8, size=32)
