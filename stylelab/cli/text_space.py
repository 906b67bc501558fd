"""`stylelab text-space --out DIR [--publish]`: train the offline image tower (chapter 7).

    stylelab text-space --out data/training/text_space --threads 2 --publish

Renders the captioned pairs (procedural paintings, AdaIN-stylized photos, plain photos), runs
the frozen MobileNetV2 over them once, fits the MLP head with a SigLIP loss against the frozen
all-MiniLM-L6-v2 text tower, scores retrieval on held-out seeds and photos (OUT/retrieval.json)
and, with --publish, ships the head as data/weights/text_space.safetensors.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="run folder (log, retrieval.json, head)")
    parser.add_argument("--steps", type=int, default=3000, help="MLP steps (default 3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--publish", action="store_true", help="ship the head in data/weights")
    parser.add_argument("--force", action="store_true", help="retrain over an existing run")


def run(args) -> int:
    import torch

    from stylelab.core.errors import StylelabError
    from stylelab.training import text_tower_run as tower_run

    if args.steps < 1:
        raise StylelabError(f"--steps must be at least 1, got {args.steps}")
    if args.threads:
        torch.set_num_threads(args.threads)
    scores = tower_run.run(args.out, steps=args.steps, seed=args.seed, publish=args.publish,
                           force=args.force)  # fmt: skip
    print(json.dumps({k: v for k, v in scores.items() if "to" in k}, indent=1))
    return 0
