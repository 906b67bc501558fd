"""Ablations as short fine-tunes: change one config key, fine-tune, score like the zoo.

    stylelab ablate style_rwkv --from data/training/style_rwkv --steps 150 \\
        --out runs/ablations --json data/eval/style_rwkv_ablations.json

Every ablation starts from the same trained run (`--init-partial`: a changed shape keeps
what fits, see `runs.load_partial`) and fine-tunes for the same number of steps; so does
"as trained", the control with nothing changed. A row is then the effect of its one change
after `steps` steps of adaptation, next to the control's — not a model trained from scratch
that way, which the budget does not allow (the JSON and the chapter say so).

Each ablation is an ordinary run folder `OUT/<name>` (resumable; a finished one is skipped),
scored with `stylelab.metrics.evaluate` on the held-out photos and painting seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from stylelab.core.errors import StylelabError

# model -> ablation name -> the --set overrides (the paper's Table 4 axes, mechanisms §5.6)
ABLATIONS: dict[str, dict[str, dict]] = {
    "style_rwkv": {
        "as trained": {},  # the control: the same fine-tune with nothing changed
        "q=1": {"recurrence": 1},
        "q=3": {"recurrence": 3},
        "shift=omni": {"shift": "omni"},
        "shift=q-shift": {"shift": "q-shift"},
        "shift=none": {"shift": "none"},
        # the S-scan with p = 1 *is* the raster pass pair (row-major, then column-major)
        "raster (p=1)": {"scan": "raster"},
        "p=4": {"skip": 4},
    },
}
EVAL_STYLES = ("brush", "voronoi", "pointillism", "waves")  # the comparing chapter's, seed 0


def folder_name(name: str) -> str:
    """'shift=q-shift' -> 'shift_q-shift', 'raster (p=1)' -> 'raster_p_1'."""
    return (
        "".join(c if c.isalnum() or c == "-" else "_" for c in name).replace("__", "_").strip("_")
    )


def check_names(model: str, names) -> list[str]:
    known = ABLATIONS.get(model)
    if known is None:
        raise StylelabError(f"no ablations for {model}; there are: {', '.join(ABLATIONS)}")
    names = list(names or known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise StylelabError(f"unknown ablation {unknown}; {model} has: {', '.join(known)}")
    return names


def train_args(model, name, start: Path, out: Path, steps: int, threads: int, extra=()) -> list:
    """The `stylelab train` arguments of one ablation (resuming a run folder it began).

    The book preset, then `extra` (flags win over the preset: the tests train tiny models)."""
    args = ["train", model, "--preset", "book", *extra, "--steps", str(steps), "--out", str(out)]
    args += ["--threads", str(threads), "--checkpoint-every", "50", "--no-progress"]
    if (out / "checkpoint.pt").is_file():
        return [*args, "--resume"]
    for key, value in ABLATIONS[model][name].items():
        args += ["--set", f"{key}={json.dumps(value, separators=(',', ':'))}"]
    return [*args, "--init-from", str(start), "--init-partial"]


def run(model, start: Path, out: Path, steps: int, threads: int, names=None, extra=()) -> None:
    """Fine-tune every ablation in turn (one at a time: two cores)."""
    from stylelab.cli import main

    start = start / "checkpoint.pt" if start.is_dir() else start
    for name in check_names(model, names):
        folder = out / folder_name(name)
        if (folder / "final.safetensors").is_file():
            print(f"{name}: done in {folder}")
            continue
        print(f"{name}: fine-tuning {steps} steps in {folder}", flush=True)
        if main(train_args(model, name, start, folder, steps, threads, extra)) != 0:
            raise StylelabError(f"ablation {name!r} failed; its run folder is {folder}")


def load_run(folder: Path, device="cpu"):
    """The model of a finished run folder (config.json + final.safetensors), eval mode."""
    from safetensors.torch import load_file

    from stylelab.encoders import load_encoder
    from stylelab.training.zoo import builder

    config = json.loads((folder / "config.json").read_text())
    from_config = builder(config["model"])
    final = folder / "final.safetensors"
    if not final.is_file():
        raise StylelabError(f"{folder} has no final.safetensors yet; finish it with `ablate`")
    model = from_config(load_encoder(config["encoder"], device=device), config)
    model.load_trainable_state_dict(load_file(str(final)))
    return model.to(device).eval()


def last_losses(folder: Path, last: int = 50) -> dict:
    """Mean training losses over the run's last `last` logged steps."""
    rows = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    rows = rows[-last:]
    keys = [k for k in rows[0] if k not in ("step", "lr", "seconds")]
    return {k: sum(r[k] for r in rows) / len(rows) for k in keys}


def evaluate(model: str, out: Path, size: int = 256, names=None, device="cpu") -> dict:
    """Score every finished ablation like `stylelab evaluate` scores the zoo."""
    import tempfile

    from stylelab.core.images import sample_content, save_image
    from stylelab.metrics.evaluate import evaluate as evaluate_folders
    from stylelab.paintings import paint
    from stylelab.training.data import EVAL_CONTENT

    names = check_names(model, names)
    folders = {n: out / folder_name(n) for n in names}
    work = Path(tempfile.mkdtemp(prefix="stylelab-ablate-"))
    for photo in EVAL_CONTENT:
        save_image(sample_content(photo, max_side=size), work / "content" / f"{photo}.png")
    for style in EVAL_STYLES:
        save_image(paint(style, size=size, seed=0).tensor(), work / "style" / f"{style}.png")
    report = evaluate_folders(
        work / "content", work / "style", names, size=size, device=device, progress=False,
        load=lambda name, dev: load_run(folders[name], dev), known=names, temporal_frames=0,
    )  # fmt: skip
    for name, folder in folders.items():
        config = json.loads((folder / "config.json").read_text())
        state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
        report["methods"][name].update(
            changed=ABLATIONS[model][name],
            steps=int(state["step"]),
            train_minutes=round(float(state["train_seconds"]) / 60, 1),
            start=config["init_from"]["path"],
            start_steps=config["init_from"]["steps"],
            final_losses=last_losses(folder),
        )
    report["note"] = (
        "each row: the trained model with one change, fine-tuned for the same steps as the "
        "control 'as trained'; short fine-tunes, not models trained from scratch that way"
    )
    return report
