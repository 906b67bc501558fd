"""Training logs as one story: a run's log.jsonl, and the runs it was fine-tuned from.

A run started with `--init-from` counts its steps from 1 again and logs only its own steps.
A published run folder ships the runs it started from in stage1/, stage2/, ... (earliest
first, each with its config.json and log.jsonl) and the last stage at the top of the folder.
`read_stages` reads them all, in order, on one step axis: stage k's steps are shifted by the
steps of every stage before it, as recorded in the `init_from` chain of the run's config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from stylelab.core.errors import StylelabError
from stylelab.training.runs import init_chain
from stylelab.training.trainer import CONFIG, LOG


@dataclass
class Stage:
    """One training run of a chain: its config, where it starts on the shared step axis, its log."""

    number: int  # 1 for the run that started from scratch
    config: dict
    start: int  # steps done before this stage; its first record has step start + 1
    records: list[dict]  # one dict per step, "step" already shifted by `start`
    command: str | None  # the command that made it, when known

    @property
    def last_step(self) -> int:
        return self.records[-1]["step"] if self.records else self.start


def read_log(path: Path, offset: int = 0) -> list[dict]:
    """A log.jsonl as records sorted by step, each step shifted by `offset`.

    A resumed run may log a step twice (it restarts from its last checkpoint): the last
    record of a step wins, as it is the one the saved weights continued from.
    """
    if not Path(path).is_file():
        raise StylelabError(f"no training log at {path}")
    records = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            record["step"] = int(record["step"]) + offset
        except (ValueError, KeyError, TypeError) as err:
            raise StylelabError(f"{path}, line {n}: not a training-log record ({err})") from err
        records[record["step"]] = record
    return [records[k] for k in sorted(records)]


def read_stages(run_dir: Path, command: str | None = None) -> list[Stage]:
    """Every stage of the run in `run_dir`, earliest first, on one step axis.

    `command`: how the last stage was made (a run's config does not hold its own command;
    the published manifest does). The earlier stages' commands come from the chain. A
    shipped model the run fine-tunes (config "base") is another model's run, in its own
    folder: it is not a stage here, and the steps count from this run's first.
    """
    run_dir = Path(run_dir)
    config = _read_config(run_dir)
    stages, offset = [], 0
    chain = [init for init in init_chain(config) if init is not config.get("base")]
    for k, init in enumerate(chain, start=1):
        stage_dir = run_dir / f"stage{k}"
        stage_config = _read_config(stage_dir)
        records = read_log(stage_dir / LOG, offset)
        stages.append(Stage(k, stage_config, offset, records, init.get("command")))
        offset += int(init["steps"])  # the next stage started from this many steps
    last = Stage(len(stages) + 1, config, offset, read_log(run_dir / LOG, offset), command)
    return [*stages, last]


def all_records(stages: list[Stage]) -> list[dict]:
    """The records of every stage, in step order."""
    return [r for stage in stages for r in stage.records]


def _read_config(folder: Path) -> dict:
    path = folder / CONFIG
    if not path.is_file():
        raise StylelabError(
            f"no {CONFIG} in {folder}: a fine-tuned run folder keeps each earlier stage in "
            "stage1/, stage2/, ... with its config.json and log.jsonl"
        )
    return json.loads(path.read_text())
