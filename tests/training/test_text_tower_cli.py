"""`stylelab text-space`: what it refuses before any rendering (the run itself takes minutes and
is recorded in data/training/text_space; its pieces are tested in tests/text)."""

import pytest
from conftest import run_cli

from stylelab.cli import text_space
from stylelab.core.errors import StylelabError


def test_refuses_to_retrain_over_a_run_without_force(tmp_path):
    (tmp_path / "head.safetensors").write_bytes(b"trained")
    with pytest.raises(StylelabError, match="--force"):
        run_cli(text_space, "--out", str(tmp_path))
    assert (tmp_path / "head.safetensors").read_bytes() == b"trained"


def test_refuses_zero_steps(tmp_path):
    with pytest.raises(StylelabError, match="at least 1"):
        run_cli(text_space, "--out", str(tmp_path), "--steps", "0")
