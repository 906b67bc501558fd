"""`stylelab ablate MODEL --from RUN --steps N --out DIR --json OUT`: the ablation table.

    stylelab ablate style_rwkv --from data/training/style_rwkv --steps 150 \\
        --out runs/ablations --json data/eval/style_rwkv_ablations.json --threads 2

Fine-tunes each ablation of `stylelab.training.ablations.ABLATIONS[MODEL]` from the run's
checkpoint (resumable: run it again to continue; finished ablations are skipped), then scores
them all on the held-out photos and paintings. --json is never overwritten without --force.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stylelab.core.errors import StylelabError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the model whose ablations run (style_rwkv)")
    parser.add_argument(
        "--from", dest="start", required=True, type=Path,
        help="the trained run to start from (a run folder or its checkpoint.pt)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=150, help="fine-tune steps per ablation")
    parser.add_argument("--out", required=True, type=Path, help="folder for the run folders")
    parser.add_argument("--json", required=True, type=Path, help="where to write the table")
    parser.add_argument("--only", default=None, help="comma-separated ablation names")
    parser.add_argument("--size", type=int, default=256, help="evaluation image side")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--force", action="store_true", help="overwrite --json")


def run(args: argparse.Namespace) -> int:
    import torch

    from stylelab.training import ablations

    if args.json.exists() and not args.force:
        raise StylelabError(f"--json {args.json} already exists; pass --force to overwrite it")
    if args.steps < 1:
        raise StylelabError(f"--steps {args.steps}: give at least 1")
    names = ablations.check_names(args.model, args.only.split(",") if args.only else None)
    ablations.run(args.model, args.start, args.out, args.steps, args.threads, names)
    torch.set_num_threads(args.threads)
    report = ablations.evaluate(args.model, args.out, args.size, names)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0
