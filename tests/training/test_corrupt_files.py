"""A corrupt image in a data-set folder is skipped and counted, not fatal; a folder with no
readable image at all is a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from test_trainer import ToyModel

from stylelab.core.errors import StylelabError
from stylelab.training.data import TrainingData
from stylelab.training.trainer import Trainer

TINY = {"size": 16, "batch": 4, "seed": 0, "pool_size": 2, "extra_content": False}


def folder(tmp_path, good: int, bad: int):
    root = tmp_path / "photos"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(good):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(root / f"{i}.png")
    for i in range(bad):
        (root / f"broken_{i}.jpg").write_bytes(b"\xff\xd8 not a jpeg at all" * 10)
    return root


def test_corrupt_files_are_skipped_counted_and_remembered(tmp_path):
    data = TrainingData(**TINY, content_dir=folder(tmp_path, good=2, bad=1))
    for _ in range(10):  # 40 draws over 6 bundled photos + 3 files: the broken one comes up
        content, _ = next(data)
        assert content.shape == (4, 3, 16, 16) and torch.isfinite(content).all()
    assert list(data.skipped) == [str(tmp_path / "photos" / "broken_0.jpg")]
    again = TrainingData(**TINY, content_dir=tmp_path / "photos")
    again.load_state_dict(data.state_dict())
    assert again.skipped == data.skipped
    torch.testing.assert_close(next(again), next(data))  # the same stream after a resume


def test_the_log_counts_skipped_files(tmp_path):
    data = TrainingData(**TINY, content_dir=folder(tmp_path, good=1, bad=2))
    model = ToyModel()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), data, tmp_path / "run")
    trainer.progress = False
    trainer.fit(8)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["skipped_files"] == 2
    assert all("skipped_files" not in r or r["skipped_files"] <= 2 for r in log)


def test_a_folder_with_nothing_readable_is_an_error(tmp_path):
    data = TrainingData(**{**TINY, "extra_content": False}, content_dir=folder(tmp_path, 0, 2))
    data.content_images = []  # only the folder: every draw is a broken file
    with pytest.raises(StylelabError, match="none of the 2 content files can be read"):
        next(data)
