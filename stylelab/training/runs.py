"""Run folders and their lineage: what a run wrote, how it started, how to make it again.

A run folder holds config.json, checkpoint.pt, log.jsonl, samples/ and, once it reaches
--steps, final.safetensors (see `stylelab.training.trainer`). A run may start from another
run's weights (`--init-from`): config.json then records that checkpoint's path, sha256,
steps, minutes and the command that makes it, nested for a fine-tune of a fine-tune, so the
published manifest can count every stage and name every command in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from stylelab.core.errors import StylelabError
from stylelab.training.trainer import (
    CHECKPOINT,
    CONFIG,
    RUN_FILES,
    SAMPLES,
    load_trainable_state,
    trainable_state,
)


def describe_init(path: Path) -> dict:
    """What `--init-from` starts from: path, sha256, and the steps/minutes already in it."""
    from stylelab.core.weights import sha256_file

    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise StylelabError(f"--init-from {path}: no such checkpoint (give a run's {CHECKPOINT})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        steps, seconds = int(state["step"]), float(state["train_seconds"])
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StylelabError(
            f"--init-from {path} is not a stylelab checkpoint ({first_line})"
        ) from err
    init = {
        "path": str(path),
        "sha256": sha256_file(path),
        "steps": steps,
        "train_minutes": round(seconds / 60, 1),
    }
    if (path.parent / CONFIG).is_file():  # a run folder: say how to make the checkpoint again
        earlier = json.loads((path.parent / CONFIG).read_text())
        init["command"] = retrain_command(earlier, steps, str(path.parent), publish=False)
        if earlier.get("init_from"):  # itself a fine-tune: keep the whole chain of stages
            init["init_from"] = earlier["init_from"]
    return init


def describe_base(name: str) -> dict:
    """A shipped zoo model that a run fine-tunes on (config "base", e.g. the all-to-all
    baseline on A2K): its name, its weights' sha256, and the steps, minutes and command in it."""
    from stylelab.core import weights

    try:
        entry = weights.manifest_entry(name)
    except StylelabError as err:
        raise StylelabError(f"this run fine-tunes the shipped {name} weights: {err}") from err
    return {
        "name": name,
        "sha256": entry["sha256"],
        "steps": entry.get("steps", 0),
        "train_minutes": entry.get("train_minutes", 0.0),
        "command": entry.get("command"),
    }


def base_weights(base: dict) -> dict[str, torch.Tensor]:
    """The shipped weights `describe_base` recorded, checked to be the same file."""
    from stylelab.core import weights

    entry = weights.manifest_entry(base["name"])
    if entry["sha256"] != base["sha256"]:
        raise StylelabError(
            f"fine-tuned on the {base['name']} weights with sha256 {base['sha256'][:12]}, but "
            f"the shipped {base['name']} weights are now {entry['sha256'][:12]}: retrain it"
        )
    return {k: v.float() for k, v in weights.load_shipped(base["name"]).items()}


def init_chain(config: dict) -> list[dict]:
    """The stages a run (or manifest entry) started from, earliest first: its `base` (a
    shipped model it fine-tunes), then the `init_from` records."""
    chain, init = [], config.get("init_from")
    while init:
        chain.insert(0, init)
        init = init.get("init_from")
    if config.get("base"):  # a shipped model it fine-tunes: the first stage
        chain.insert(0, config["base"])
    return chain


def init_weights(model: nn.Module, init: dict) -> dict | None:
    """Load the trainable weights of the checkpoint `describe_init` recorded; with
    init["partial"], only what fits (`load_partial`), and return its report."""
    state = torch.load(init["path"], map_location="cpu", weights_only=True)
    if init.get("partial"):
        return load_partial(model, state["model"])
    try:
        load_trainable_state(model, state["model"])
    except RuntimeError as err:
        raise StylelabError(
            f"--init-from {init['path']} does not fit this model ({err}); use a run with the "
            "same encoder and width, or --init-partial for an ablation that changes shapes"
        ) from err
    return None


def load_partial(model: nn.Module, state: dict[str, torch.Tensor]) -> dict:
    """Copy into `model` every trainable tensor of `state` that fits; for the ablations,
    which change a config key and fine-tune from the shipped model.

    A tensor whose shape differs only in its first dimension gets the overlapping rows
    (Re-WKV's per-pass decay and bonus are (q, C): q = 1 keeps pass 0, q = 3 keeps passes
    0-1 and leaves pass 2 at its initialisation). Everything else that does not match keeps
    its initialisation. Returns {"copied", "rows", "fresh", "unused"}: key counts and lists.
    """
    own = trainable_state(model)
    new = {}
    report = {"copied": 0, "rows": [], "fresh": [], "unused": sorted(set(state) - set(own))}
    for key, mine in own.items():
        theirs = state.get(key)
        if theirs is not None and theirs.shape == mine.shape:
            new[key], report["copied"] = theirs.to(mine.dtype), report["copied"] + 1
        elif theirs is not None and theirs.ndim == mine.ndim and theirs.shape[1:] == mine.shape[1:]:
            rows = min(len(theirs), len(mine))  # (q, C): the passes both models have
            new[key] = mine.clone()
            new[key][:rows] = theirs[:rows].to(mine.dtype)
            report["rows"].append(key)
        else:
            new[key] = mine
            report["fresh"].append(key)
    if not report["copied"]:
        raise StylelabError("--init-partial: no tensor of the checkpoint fits this model")
    load_trainable_state(model, new)
    return report


def _prepare_out(out: Path, resume: bool, force: bool, check_only: bool = False) -> None:
    """Refuse a run folder that would lose work; with --force, delete our own run files
    (unless `check_only`: under torchrun every rank checks, rank 0 alone deletes)."""
    existing = [p for p in out.iterdir()] if out.is_dir() else []
    if resume:
        if not (out / CHECKPOINT).is_file():
            raise StylelabError(f"nothing to resume in {out} (no {CHECKPOINT}); drop --resume")
        return
    if existing and not force:
        raise StylelabError(
            f"{out} is not empty; add --resume to continue that run or --force to start afresh"
        )
    if check_only:
        return
    for name in RUN_FILES:  # only our own files: --force never deletes anything else
        (out / name).unlink(missing_ok=True)
    for png in (out / SAMPLES).glob("step_*.png") if (out / SAMPLES).is_dir() else []:
        png.unlink()


def retrain_command(config: dict, steps: int, out: str, publish: bool = True) -> str:
    """The command line that reproduces this run from scratch (for the manifest)."""
    shift = {True: "on", False: "off"}.get(config.get("shift_average"), "auto")
    parts = [
        f"stylelab train {config['model']} --steps {steps} --size {config['size']}",
        f"--batch {config['batch']} --width {config['width']} --lr {config['lr']}",
        f"--style-weight {config['style_weight']} --shift-average {shift}",
        f"--encoder {config['encoder']} --style-pool {config['style_pool']}",
        f"--seed {config['seed']}",
    ]
    if config.get("identity_weight"):
        parts.append(f"--identity-weight {config['identity_weight']}")
    for key in ("content_dir", "style_dir", "load_size"):
        if config.get(key):
            parts.append(f"--{key.replace('_', '-')} {config[key]}")
    for key, value in config.get("set", {}).items():  # the --set KEY=VALUE it was given
        parts.append(f"--set {key}={json.dumps(value, separators=(',', ':'))}")
    if config.get("init_from"):
        parts.append(f"--init-from {config['init_from']['path']}")
        if config["init_from"].get("partial"):
            parts.append("--init-partial")
    parts.append(f"--out {out}" + (" --publish" if publish else ""))
    return " ".join(parts)


def save_final(model: nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().float().cpu().contiguous() for k, v in trainable_state(model).items()}
    save_file(state, str(path))
