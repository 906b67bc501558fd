"""The decoder read level by level, as the AdaIN chapter's table shows it."""

from __future__ import annotations

from types import SimpleNamespace

from stylelab.book.decoder_layout import compact, decoder_levels, decoder_table, n_params
from stylelab.nn.decoder import Decoder


def test_compact_counts_runs_of_equal_layers():
    assert compact(["conv 64->64", "conv 64->64", "conv 64->32"]) == "2 x conv 64->64, conv 64->32"
    assert compact(["a", "b", "a"]) == "a, b, a"  # only neighbours merge
    assert compact([]) == ""


def test_the_paper_decoder_reads_as_vgg19_backwards():
    decoder = Decoder(512, stride=8, width=1.0)
    levels = decoder_levels(decoder, stride=8)
    assert list(levels) == [8, 4, 2, 1]
    layers = {s: compact(steps) for s, (steps, _) in levels.items()}
    assert layers == {
        8: "conv 512->256",
        4: "upsample x2, 3 x conv 256->256, conv 256->128",
        2: "upsample x2, conv 128->128, conv 128->64",
        1: "upsample x2, conv 64->64, conv 64->3",
    }
    # conv weights and biases only: 3x3 kernels
    assert levels[8][1] == 512 * 256 * 9 + 256
    assert levels[1][1] == (64 * 64 * 9 + 64) + (64 * 3 * 9 + 3)
    assert sum(params for _, params in levels.values()) == n_params(decoder)


def test_table_lists_the_encoder_taps_at_each_stride():
    decoder = Decoder(32, stride=4, width=0.125)
    encoder = SimpleNamespace(taps=["a", "b", "c"], strides={"a": 2, "b": 4, "c": 4})
    lines = decoder_table(decoder, 4, encoder, side=64).splitlines()
    assert lines[0].startswith("| stride | map at 64 px |")
    assert len(lines) == 2 + 3  # header, rule, strides 4, 2, 1
    assert lines[2].startswith("| 4 | 16x16 | ") and lines[2].endswith("| `b`, `c` |")
    assert lines[3].startswith("| 2 | 32x32 | upsample x2") and lines[3].endswith("| `a` |")
    assert lines[4].endswith("| (the image) |")
