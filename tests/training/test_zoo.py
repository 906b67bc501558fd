"""The zoo: publish -> verified load round trip, and clear errors for missing/corrupt weights."""

from __future__ import annotations

import json

import pytest
import torch

from stylelab.adain import build_adain
from stylelab.core import weights
from stylelab.core.errors import StylelabError
from stylelab.encoders import load_encoder
from stylelab.training import zoo


def publish_tiny(seed: int = 0):
    torch.manual_seed(seed)
    model = build_adain(load_encoder("mobilenetv2"), width=0.125, shift_average=True)
    meta = {
        "encoder": "mobilenetv2",
        "config": model.config(),
        "steps": 0,
        "train_minutes": 0.0,
        "data": "none (test)",
        "command": "stylelab train adain --test",
    }
    return model, zoo.publish("adain", model, meta)


@pytest.fixture
def wdir(isolated_weights):
    return isolated_weights


def test_publish_then_load_round_trip(wdir):
    model, entry = publish_tiny()
    assert (wdir / entry["file"]).is_file()
    for key in ("sha256", "encoder", "config", "steps", "train_minutes", "data", "command"):
        assert key in entry
    assert entry["config"]["width"] == 0.125 and entry["dtype"] == "float16"
    loaded = zoo.load("adain")
    assert not loaded.training and loaded.shift_average
    content, style = torch.rand(1, 3, 40, 48), torch.rand(1, 3, 32, 32)
    want, got = model.stylize(content, style), loaded.stylize(content, style)
    # fp16 storage: relative weight error <= 2^-11 per layer; the output moves by far less
    # than one 8-bit grey level (1/255)
    assert (want - got).abs().max() < 1 / 255


def test_missing_and_corrupt_weights_name_the_retrain_command(wdir):
    with pytest.raises(StylelabError, match="stylelab train adain"):
        zoo.load("adain")  # not in the manifest yet
    _, entry = publish_tiny()
    path = wdir / entry["file"]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StylelabError, match=r"corrupted.*stylelab train adain --test"):
        zoo.load("adain")
    path.unlink()
    with pytest.raises(StylelabError, match=r"missing.*stylelab train adain --test"):
        zoo.load("adain")


def test_a_fine_tuned_model_names_every_training_stage(wdir):
    _, entry = publish_tiny()
    first = "stylelab train adain --steps 9 --out runs/first"
    manifest = json.loads((wdir / "manifest.json").read_text())
    manifest["adain"]["init_from"] = {"path": "runs/first/checkpoint.pt", "command": first}
    (wdir / "manifest.json").write_text(json.dumps(manifest))
    (wdir / entry["file"]).unlink()
    with pytest.raises(StylelabError, match=r"runs/first` then `stylelab train adain --test"):
        zoo.load("adain")
    # three stages: the second started from the first; all three commands, in order
    second = "stylelab train adain --steps 5 --init-from runs/first/checkpoint.pt --out runs/2nd"
    manifest["adain"]["init_from"] = {
        "path": "runs/2nd/checkpoint.pt",
        "command": second,
        "init_from": {"path": "runs/first/checkpoint.pt", "command": first},
    }
    (wdir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        StylelabError, match=r"runs/first` then `stylelab train .* --out runs/2nd` then `stylelab"
    ):
        zoo.load("adain")


def test_config_mismatch_and_unknown_names(wdir):
    _, entry = publish_tiny()
    manifest = json.loads((wdir / "manifest.json").read_text())
    manifest["adain"]["config"]["width"] = 0.5  # the file no longer fits the config
    (wdir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StylelabError, match="do not fit their manifest config"):
        zoo.load("adain")
    with pytest.raises(StylelabError, match="unknown model 'nope'"):
        zoo.load("nope")


def test_shipped_weights_stay_small():
    """All of data/weights must stay under 40 MB (the repository ships them)."""
    total = sum(p.stat().st_size for p in weights.weights_dir().glob("*") if p.is_file())
    assert total < 40 * 2**20


def test_load_accepts_auto_device_and_rejects_unknown(wdir):
    publish_tiny()
    assert next(zoo.load("adain", device="auto").parameters()).device.type in ("cpu", "cuda")
    with pytest.raises(StylelabError, match="unknown device 'gpu0'"):
        zoo.load("adain", device="gpu0")
