"""The shipped-weights registry: sha256 manifest, verified loading, clear errors."""

import hashlib
import json
import shutil

import pytest
import torch
from safetensors.torch import save_file

from stylelab.core import weights
from stylelab.core.errors import StylelabError
from stylelab.encoders import MOBILENETV2_WEIGHTS, MobileNetV2Encoder

REPO_WEIGHTS = weights.weights_dir()


@pytest.fixture
def weights_copy(tmp_path, monkeypatch):
    """A copy of the shipped weights folder, made the active one through the env var."""
    folder = tmp_path / "weights"
    shutil.copytree(REPO_WEIGHTS, folder)
    monkeypatch.setenv(weights.ENV_VAR, str(folder))
    return folder


@pytest.fixture
def empty_dir(tmp_path, monkeypatch):
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.setenv(weights.ENV_VAR, str(folder))
    return folder


def test_sha256_file_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 5000  # > 1 MiB: crosses the chunk boundary
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert weights.sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_weights_dir_is_the_repo_folder_unless_overridden(tmp_path, monkeypatch):
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    assert weights.weights_dir() == REPO_WEIGHTS
    assert REPO_WEIGHTS.parts[-2:] == ("data", "weights")
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path))
    assert weights.weights_dir() == tmp_path


def test_shipped_files_match_their_manifest():
    manifest = weights.read_manifest()
    assert MOBILENETV2_WEIGHTS in manifest
    for name, entry in manifest.items():
        path = REPO_WEIGHTS / entry["file"]
        assert path.stat().st_size == entry["bytes"], name
        assert weights.sha256_file(path) == entry["sha256"], name
        for key in ("license", "source"):
            assert entry.get(key), f"{name} lacks {key}"


def test_load_shipped_gives_the_encoder_state():
    state = weights.load_shipped(MOBILENETV2_WEIGHTS)
    expected = MobileNetV2Encoder("test").state_dict()
    assert set(state) == set(expected)
    for key, tensor in state.items():
        assert tensor.shape == expected[key].shape, key
        assert torch.isfinite(tensor).all(), key


def test_corrupted_file_is_detected(weights_copy):
    entry = weights.read_manifest()[MOBILENETV2_WEIGHTS]
    path = weights_copy / entry["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of a tensor
    path.write_bytes(bytes(data))
    with pytest.raises(StylelabError) as err:
        weights.load_shipped(MOBILENETV2_WEIGHTS, retrain_hint="make weights")
    message = str(err.value)
    assert "corrupted (sha256 mismatch)" in message
    assert f"git checkout data/weights/{entry['file']}" in message
    assert "retrain with `make weights`" in message


def test_missing_file_names_the_fix(weights_copy):
    entry = weights.read_manifest()[MOBILENETV2_WEIGHTS]
    (weights_copy / entry["file"]).unlink()
    with pytest.raises(StylelabError) as err:
        weights.load_shipped(MOBILENETV2_WEIGHTS)
    message = str(err.value)
    assert "is missing" in message
    assert entry["command"] in message  # the manifest's own command is the default hint


def test_unknown_name_lists_known_ones(weights_copy):
    with pytest.raises(StylelabError, match=MOBILENETV2_WEIGHTS):
        weights.load_shipped("no-such-net")


def test_add_to_manifest_keeps_other_entries(empty_dir):
    (empty_dir / weights.MANIFEST).write_text(json.dumps({"other": {"file": "o.safetensors"}}))
    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    path = empty_dir / "tiny.safetensors"
    save_file(tensors, str(path))
    entry = weights.add_to_manifest("tiny", path, license="MIT", source="test", notes="n")
    manifest = weights.read_manifest()
    assert set(manifest) == {"other", "tiny"}
    assert manifest["tiny"] == entry
    assert entry["sha256"] == weights.sha256_file(path)
    assert entry["bytes"] == path.stat().st_size
    assert entry["file"] == "tiny.safetensors" and entry["license"] == "MIT"
    assert torch.equal(weights.load_shipped("tiny")["w"], tensors["w"])
    # re-adding after a retrain replaces only that entry
    save_file({"w": torch.zeros(2, 3)}, str(path))
    weights.add_to_manifest("tiny", path, license="MIT")
    manifest = weights.read_manifest()
    assert set(manifest) == {"other", "tiny"}
    assert manifest["tiny"]["sha256"] == weights.sha256_file(path)
    assert "notes" not in manifest["tiny"]


def test_add_to_manifest_refuses_files_outside_the_folder(empty_dir, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    save_file({"w": torch.ones(1)}, str(outside))
    with pytest.raises(StylelabError, match="must live in"):
        weights.add_to_manifest("x", outside)
    with pytest.raises(StylelabError, match="no such file"):
        weights.add_to_manifest("x", empty_dir / "nope.safetensors")


def test_broken_manifest_is_a_clear_error(empty_dir):
    (empty_dir / weights.MANIFEST).write_text("{not json")
    with pytest.raises(StylelabError, match="not valid JSON"):
        weights.read_manifest()


def test_no_manifest_reads_as_empty(empty_dir):
    assert weights.read_manifest() == {}
