"""The papers' data path: every sample a function of (seed, index), so DataLoader workers,
torchrun shares and resumes all see the same batches; unreadable files skipped and counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylelab.core.errors import StylelabError
from stylelab.training.folders import FolderBatches


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for name, count in (("coco", 5), ("wikiart", 4)):
        (root / name).mkdir()
        for i in range(count):
            shape = (int(rng.integers(30, 60)), int(rng.integers(30, 60)), 3)
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )
    (root / "coco" / "broken.jpg").write_bytes(b"not an image" * 20)
    return root / "coco", root / "wikiart"


def batches(folders, steps=3, **kwargs):
    settings = {"size": 16, "batch": 4, "seed": 0, "load_size": 24, **kwargs}
    data = FolderBatches(*folders, **settings)
    return data, [next(data) for _ in range(steps)]


def test_workers_and_process_shares_see_the_same_samples(folders):
    _, alone = batches(folders)
    _, with_workers = batches(folders, workers=2)
    _, rank0 = batches(folders, rank=0, world=2)
    _, rank1 = batches(folders, rank=1, world=2)
    for a, b, r0, r1 in zip(alone, with_workers, rank0, rank1):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert r0[0].shape == (2, 3, 16, 16)
        torch.testing.assert_close(a[0], torch.cat([r0[0], r1[0]]), rtol=0, atol=0)
        torch.testing.assert_close(a[1], torch.cat([r0[1], r1[1]]), rtol=0, atol=0)
    assert 0 <= float(alone[0][0].min()) and float(alone[0][0].max()) <= 1


def test_resume_continues_the_stream_and_corrupt_files_are_counted(folders):
    data, first = batches(folders, steps=6)
    assert list(data.skipped) == [str(folders[0] / "broken.jpg")]  # met in 24 draws of 6
    again, _ = batches(folders, steps=0)
    partial, _ = batches(folders, steps=4)
    again.load_state_dict(partial.state_dict())
    torch.testing.assert_close(next(again), first[4], rtol=0, atol=0)
    assert FolderBatches(*folders, size=16, batch=4).describe().startswith("content: 6 files")


def test_bad_settings_are_named(folders, tmp_path):
    with pytest.raises(StylelabError, match="does not split over 3"):
        FolderBatches(*folders, batch=4, world=3)
    with pytest.raises(StylelabError, match="smaller than the crop"):
        FolderBatches(*folders, size=64, load_size=32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(StylelabError, match="no images"):
        FolderBatches(tmp_path / "empty", folders[1])
