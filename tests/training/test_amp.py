"""Mixed precision in the shared trainer: bf16 and fp16 autocast on the CPU (the paths a GPU
takes), the fp16 gradient scaler kept in checkpoints, and what --amp auto means."""

from __future__ import annotations

import pytest
import torch
from test_trainer import ToyModel, make_trainer

from stylelab.cli.train import resolve_amp
from stylelab.core.errors import StylelabError
from stylelab.training.trainer import seed_everything


class AutocastProbe(ToyModel):
    """Records the dtype the convolution ran in: autocast must reach the model's loss."""

    def loss(self, batch):
        self.seen = self.net[0](batch[0]).dtype
        return super().loss(batch)


@pytest.mark.parametrize("amp, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_autocast_reaches_the_loss_and_training_moves(tmp_path, amp, dtype):
    seed_everything(0)
    trainer = make_trainer(tmp_path, checkpoint_every=0, amp=amp)
    trainer.model.__class__ = AutocastProbe
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit(3)
    assert trainer.model.seen == dtype
    after = trainer.model.state_dict()
    assert all(after[k].dtype == torch.float32 for k in after)  # the weights stay fp32
    assert any(not torch.equal(before[k], after[k]) for k in after)


def test_fp16_scaler_state_is_checkpointed_and_resume_is_exact(tmp_path):
    seed_everything(0)
    straight = make_trainer(tmp_path / "straight", checkpoint_every=0, amp="fp16")
    straight.fit(4)
    seed_everything(0)
    first = make_trainer(tmp_path / "resumed", checkpoint_every=0, amp="fp16")
    first.fit(2)
    scale = first.scaler.get_scale()
    seed_everything(7)
    second = make_trainer(tmp_path / "resumed", init_seed=3, checkpoint_every=0, amp="fp16")
    assert second.load_checkpoint() == 2 and second.scaler.get_scale() == scale
    second.fit(4)
    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_amp_choices_and_auto(tmp_path):
    assert resolve_amp("auto", torch.device("cpu")) == "off"
    assert resolve_amp("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(StylelabError, match="unknown amp 'fp8'"):
        make_trainer(tmp_path / "run", amp="fp8")
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_the_cli_records_the_precision_it_trained_in(tmp_path):
    import json

    from stylelab.cli import main

    args = ["train", "adain", "--size", "64", "--batch", "1", "--width", "0.125", "--steps", "1"]
    args += ["--threads", "1", "--no-progress", "--sample-every", "0", "--style-pool", "2"]
    assert main([*args, "--out", str(tmp_path / "a"), "--amp", "bf16"]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0  # auto: off on the CPU
    assert json.loads((tmp_path / "a" / "config.json").read_text())["amp"] == "bf16"
    assert json.loads((tmp_path / "b" / "config.json").read_text())["amp"] == "off"
    with pytest.raises(SystemExit) as exit_:  # argparse: one line naming the choices
        main([*args, "--out", str(tmp_path / "c"), "--amp", "fp8"])
    assert exit_.value.code == 2
