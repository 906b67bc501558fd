"""`stylelab bench text`: StyleMamba vs CLIPstyler, steps and seconds to a directional loss.

    stylelab bench text --json data/bench/text.json --threads 2

For each prompt in PROMPTS and each held-out photo (chelsea, coffee, at --size, default 256 px)
both methods optimise per prompt (`stylelab.text.optimise.stylize_text`, seed 0) for --steps
steps. Per run it records the global directional loss and content loss at every step, the first
step (and its seconds) where the directional loss reaches --threshold, seconds per step, and
the final losses. The summary: per method the median steps to the threshold (runs that never
reach it count as not reached and are listed) and the ratio CLIPstyler / StyleMamba, against
the paper's claim (about 5x fewer iterations; the goal here is >= 3x).

Seconds are wall time on this machine (noisy); steps are the claim's unit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from stylelab.core.errors import StylelabError

PROMPTS = (
    "a stained glass window",
    "pointillism, dots of pure colour",
    "neon lights in a city at night",
)  # fmt: skip  (two in the zoo's vocabulary, one not)
PHOTOS = ("chelsea", "coffee")
METHODS = ("stylemamba", "clipstyler")
THRESHOLD = 0.5  # directional loss: the image moved within 60 degrees of ΔT
STEPS = 100
GOAL_RATIO = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--plot", type=Path, help="the convergence figure (default: JSON's .png)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"steps per run ({STEPS})")
    parser.add_argument("--size", type=int, default=256, help="photo's longest side (256)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help=f"directional loss to reach ({THRESHOLD})")  # fmt: skip
    parser.add_argument("--images", type=Path, help="final images (default: JSON's folder/"
                        "<stem>_images)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="one prompt, 64 px, 3 steps (tests)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")[:40]


def measure(prompts, photos, steps: int, size: int, threshold: float, image_dir: Path,
            say=print) -> dict:  # fmt: skip
    from stylelab.core import images
    from stylelab.text.optimise import stylize_text
    from stylelab.text.space import load_space
    from stylelab.training import zoo

    space, adain = load_space(), zoo.load("adain")
    runs = []
    for photo in photos:
        content = images.sample_content(photo, max_side=size)
        for prompt in prompts:
            for method in METHODS:
                run = stylize_text(content, prompt, method, steps=steps, space=space, seed=0,
                                   progress=False, adain=adain)  # fmt: skip
                hit = run.first_step_below("dir", threshold)
                name = f"{photo}-{slug(prompt)}-{method}.png"
                images.save_image(run.image, image_dir / name, force=True)
                h = run.history
                runs.append({
                    "photo": photo, "prompt": prompt, "method": method, "image": name,
                    "steps_to_threshold": hit,
                    "seconds_to_threshold": h[hit - 1]["seconds"] if hit else None,
                    "seconds_per_step": h[-1]["seconds"] / len(h),
                    "final_dir": h[-1]["dir"], "final_content": h[-1]["content"],
                    "dir": [round(r["dir"], 5) for r in h],
                    "content": [round(r["content"], 5) for r in h],
                })  # fmt: skip
                say(f"{photo:8s} {method:10s} {prompt[:32]:32s} steps to {threshold}: "
                    f"{hit}  final dir {h[-1]['dir']:.3f} content {h[-1]['content']:.3f}  "
                    f"{runs[-1]['seconds_per_step']:.2f} s/step")  # fmt: skip
    return {"runs": runs, "summary": summarise(runs, steps)}


def summarise(runs: list[dict], steps: int) -> dict:
    """Per method: medians over runs (not reached = steps + 1, said); the ratio of medians."""
    out = {}
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        reached = [r["steps_to_threshold"] for r in mine if r["steps_to_threshold"]]
        out[method] = {
            "runs": len(mine),
            "reached": len(reached),
            "median_steps_to_threshold": statistics.median(
                [r["steps_to_threshold"] or steps + 1 for r in mine]),
            "median_seconds_per_step": statistics.median(r["seconds_per_step"] for r in mine),
            "mean_final_dir": statistics.mean(r["final_dir"] for r in mine),
            "mean_final_content": statistics.mean(r["final_content"] for r in mine),
        }  # fmt: skip
    a, b = out["clipstyler"], out["stylemamba"]
    ratio = a["median_steps_to_threshold"] / b["median_steps_to_threshold"]
    out["step_ratio_clipstyler_over_stylemamba"] = ratio
    out["ratio_is_lower_bound"] = a["reached"] < a["runs"]  # CLIPstyler runs cut at `steps`
    out["goal"] = f"StyleMamba reaches the threshold in >= {GOAL_RATIO:g}x fewer steps"
    out["goal_met"] = ratio >= GOAL_RATIO
    return out


def run(args: argparse.Namespace) -> int:
    import torch

    from stylelab.bench.record import machine_info

    plot = args.plot or args.json.with_suffix(".png")
    image_dir = args.images or args.json.parent / f"{args.json.stem}_images"
    for path in (args.json, plot, image_dir):
        if path.exists() and not args.force:
            raise StylelabError(f"{path} exists; pass --force to overwrite it")
    if args.steps < 1 or args.size < 64:
        raise StylelabError("--steps must be >= 1 and --size >= 64")
    if args.threads:
        torch.set_num_threads(args.threads)
    prompts, photos = (PROMPTS[:1], PHOTOS[:1]) if args.quick else (PROMPTS, PHOTOS)
    steps, size = (3, 64) if args.quick else (args.steps, args.size)
    start = time.perf_counter()
    result = {"machine": machine_info(), "threads": torch.get_num_threads(), "size": size,
              "steps": steps, "threshold": args.threshold, "prompts": list(prompts),
              "photos": list(photos), "quick": args.quick, "seed": 0}  # fmt: skip
    result["images"] = image_dir.name
    result.update(measure(prompts, photos, steps, size, args.threshold, image_dir))
    result["wall_seconds"] = time.perf_counter() - start
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    from stylelab.bench.text_report import plot_convergence

    plot_convergence(result, plot)
    s = result["summary"]
    print(f"wrote {args.json} and {plot}; median steps to dir <= {args.threshold}: StyleMamba "
          f"{s['stylemamba']['median_steps_to_threshold']}, CLIPstyler "
          f"{s['clipstyler']['median_steps_to_threshold']} (ratio "
          f"{s['step_ratio_clipstyler_over_stylemamba']:.1f}, goal met: {s['goal_met']})")  # fmt: skip
    return 0
