"""Which offline encoder should be the default? A fixed protocol, measured.

Gatys optimisation (stylelab.losses.gatys.gatys_transfer) of every content x style pair with
each encoder configuration, then encoder-independent metrics of the outputs:

  palette   sliced Wasserstein-1 distance between the RGB pixels of output and style
            (lower = the output uses the style's colours)
  texture   sliced Wasserstein-1 distance between 5x5 RGB patches of output and style
            (lower = the output has the style's local texture; no network involved)
  ssim      structural similarity of output and content, grayscale (skimage)
            (higher = the content's structure survives); ssim_coarse: the same at 1/4 scale,
            which ignores the fine strokes a style adds and keeps only the layout
  checker   spectral power of the output (grayscale) on the Nyquist lines over that in the
            band just below, 0.4-0.5 cycles/px (about 1 for photos; >> 1 for a 2-px
            checkerboard)
  LPIPS     not computed: the `lpips` package ships only its linear heads; the AlexNet
            backbone comes from a torchvision download, which no machine here can do.

Palette and texture are also reported as *gains*: 1 - d(output, style) / d(content, style),
the fraction of the content->style distance that the optimisation closed.

Runs are cached (one JSON + PNG per run under --work), so the protocol can be split over
processes (--configs) and resumed; `--report` then writes results.json and the figures
to --out. The protocol used for the book (about 25 CPU-minutes, 1 thread per process):

    python scripts/compare_encoders.py --configs vgg19-random &
    python scripts/compare_encoders.py --configs mobilenetv2,mobilenetv2-noshift
    python scripts/compare_encoders.py --report --force
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylelab.core.errors import StylelabError

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "encoder_comparison"
WORK = Path("/tmp/stylelab_encoder_comparison")

CONTENTS = ("astronaut", "chelsea", "coffee")
PAINTED = ("brush", "voronoi", "pointillism")  # stylelab.paintings painters, seed 0
IMAGE_STYLES = ("ihc",)  # skimage's immunohistochemistry photo: the one colourful texture
STYLES = PAINTED + IMAGE_STYLES
# name -> (encoder name, weights, shift_average)
CONFIGS = {
    "vgg19-random": ("vgg19", "random", False),
    "mobilenetv2": ("mobilenetv2", "magenta", True),
    "mobilenetv2-noshift": ("mobilenetv2", "magenta", False),
}
STYLE_WEIGHTS = (0.3, 3.0)
ABLATION_WEIGHTS = {"mobilenetv2-noshift": (3.0,)}  # the checkerboard ablation: one weight
SIZE, STEPS, SEED = 192, 100, 0
TV_WEIGHT = 0.3  # the same small total-variation term for every run (gatys_transfer's default)

METRICS = ("palette", "texture", "palette_gain", "texture_gain", "ssim", "ssim_coarse",
           "checker", "checker_content", "checker_style")  # fmt: skip
CHECKER_BAND = 0.4  # cycles/pixel: the reference band below Nyquist (0.5) for checker_score
N_PROJECTIONS, N_PATCHES, PATCH = 64, 4096, 5


# --------------------------------------------------------------------------- inputs


def load_style(name: str, size: int) -> torch.Tensor:
    """(1, 3, h, w) style image: a seeded painting, or a photo from scikit-image."""
    from stylelab.core.images import load_image
    from stylelab.paintings import paint

    if name in PAINTED:
        return paint(name, size=size, seed=SEED).tensor()
    if name == "ihc":
        import skimage.data

        return load_image(skimage.data.immunohistochemistry(), max_side=size)
    raise StylelabError(f"unknown style {name!r}; choose one of {', '.join(STYLES)}")


def load_content(name: str, size: int) -> torch.Tensor:
    from stylelab.core.images import sample_content

    return sample_content(name, max_side=size)


# --------------------------------------------------------------------------- metrics


def _sliced_w1(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> float:
    """Sliced Wasserstein-1 between point clouds a (n, d) and b (m, d).

    Hand-written (15 lines) rather than a dependency: POT would add a compiled package for
    one function. Each random unit direction projects both clouds to 1-D, where W1 is the
    mean gap between matching quantiles.
    """
    dirs = rng.normal(size=(a.shape[1], N_PROJECTIONS))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)  # (d, P) unit columns
    q = np.linspace(0.0, 1.0, 256)
    pa = np.quantile(a @ dirs, q, axis=0)  # (256, P)
    pb = np.quantile(b @ dirs, q, axis=0)
    return float(np.abs(pa - pb).mean())


def _pixels(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).reshape(-1, 3).double().numpy()  # (HW, 3)


def _patches(x: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    p = torch.nn.functional.unfold(x.double(), PATCH)[0].T.numpy()  # (L, 3*PATCH^2)
    keep = rng.choice(len(p), size=min(N_PATCHES, len(p)), replace=False)
    return p[keep]


def palette_distance(x: torch.Tensor, style: torch.Tensor) -> float:
    rng = np.random.default_rng(SEED)  # the same directions for every image pair
    return _sliced_w1(_pixels(x), _pixels(style), rng)


def texture_distance(x: torch.Tensor, style: torch.Tensor) -> float:
    rng = np.random.default_rng(SEED)
    return _sliced_w1(_patches(x, rng), _patches(style, rng), rng)


def _gray(x: torch.Tensor) -> np.ndarray:
    from skimage.color import rgb2gray

    return rgb2gray(x[0].permute(1, 2, 0).double().numpy())  # (H, W) in [0, 1]


def ssim_to(x: torch.Tensor, content: torch.Tensor, scale: int = 1) -> float:
    """Grayscale SSIM of x and content, after shrinking both by `scale` (antialiased).

    scale=4 keeps only the layout (where the face, the cup, the edges are) and ignores the
    fine strokes a style adds; scale=1 counts both.
    """
    from skimage.metrics import structural_similarity

    if scale > 1:
        x, content = (torch.nn.functional.interpolate(t, scale_factor=1 / scale, mode="bilinear",
                      antialias=True) for t in (x, content))  # fmt: skip
    return float(structural_similarity(_gray(x), _gray(content), data_range=1.0))


def checker_score(x: torch.Tensor) -> float:
    """Peak of the grayscale spectrum at the Nyquist frequency, against the band just below.

    Mean power on the Nyquist lines (|f_y| or |f_x| at its largest bin, 0.5 cycles/px for
    even sizes) divided by the mean power elsewhere in 0.4 <= max(|f_y|, |f_x|) < Nyquist.
    Natural images have smooth spectra there (about 1); a 2-pixel checkerboard is a sharp
    peak on those lines (>> 1). A ratio, so a style's fine texture, which raises the whole
    band, does not count as an artefact.
    """
    g = _gray(x)
    power = np.abs(np.fft.fft2(g - g.mean())) ** 2
    fy = np.abs(np.fft.fftfreq(g.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(g.shape[1]))[None, :]
    lines = (fy == fy.max()) | (fx == fx.max())
    band = (np.maximum(fy, fx) >= CHECKER_BAND) & ~lines
    return float(power[lines].mean() / max(power[band].mean(), 1e-30))


def metrics(out: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> dict:
    pal0, tex0 = palette_distance(content, style), texture_distance(content, style)
    pal, tex = palette_distance(out, style), texture_distance(out, style)
    return {
        "palette": pal,
        "texture": tex,
        "palette_gain": 1 - pal / pal0,
        "texture_gain": 1 - tex / tex0,
        "ssim": ssim_to(out, content),
        "ssim_coarse": ssim_to(out, content, scale=4),
        "checker": checker_score(out),
        "checker_content": checker_score(content),
        "checker_style": checker_score(style),
    }


# --------------------------------------------------------------------------- runs


def run_key(config: str, content: str, style: str, weight: float) -> str:
    return f"{config}__{content}__{style}__sw{weight:g}"


def planned_runs(configs) -> list[tuple[str, str, str, float]]:
    runs = []
    for config in configs:
        for weight in ABLATION_WEIGHTS.get(config, STYLE_WEIGHTS):
            for style in STYLES:
                for content in CONTENTS:
                    runs.append((config, content, style, weight))
    return runs


def do_runs(configs, work: Path, size: int, steps: int) -> None:
    from stylelab.core.images import save_image
    from stylelab.encoders import load_encoder
    from stylelab.losses.gatys import gatys_transfer

    work.mkdir(parents=True, exist_ok=True)
    encoders = {}
    for config, content, style, weight in planned_runs(configs):
        key = run_key(config, content, style, weight)
        if (work / f"{key}.json").exists():
            continue  # cached: the protocol is resumable
        name, weights, shift = CONFIGS[config]
        if config not in encoders:
            encoders[config] = load_encoder(name, weights=weights, seed=SEED)
        c, s = load_content(content, size), load_style(style, size)
        r = gatys_transfer(
            c, s, encoders[config], steps=steps, size=size, style_weight=weight,
            tv_weight=TV_WEIGHT, shift_average=shift, seed=SEED, progress=False,
        )  # fmt: skip
        save_image(r.image, work / f"{key}.png", force=True)
        record = dict(
            config=config, content=content, style=style, style_weight=weight, size=size,
            steps=steps,
            seconds=r.seconds, final_loss=r.losses[-1], encoder=r.settings["encoder"],
        )  # fmt: skip
        (work / f"{key}.json").write_text(json.dumps(record, indent=1))
        m = metrics(r.image, c, s)
        print(f"{key}: {r.seconds:.1f}s ssim={m['ssim']:.3f} palette_gain={m['palette_gain']:.3f} "
              f"checker={m['checker']:.2f}", flush=True)  # fmt: skip


# --------------------------------------------------------------------------- report


def summarise(records: list[dict]) -> dict:
    """Mean (and min/max) of each metric per (config, style weight)."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(f"{r['config']} sw={r['style_weight']:g}", []).append(r)
    out = {}
    for name, rs in sorted(groups.items()):
        out[name] = {"runs": len(rs)}
        for m in METRICS + ("seconds",):
            v = np.array([r[m] for r in rs])
            out[name][m] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
    return out


def _tile(image, cell: int) -> Image.Image:
    """`image` (PIL or (1,3,H,W) tensor) fitted into a white cell x cell square."""
    from stylelab.core.images import to_pil

    im = image if isinstance(image, Image.Image) else to_pil(image)
    im = im.copy()
    im.thumbnail((cell, cell), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (cell, cell), "white")
    canvas.paste(im, ((cell - im.width) // 2, (cell - im.height) // 2))
    return canvas


def grid_figure(work: Path, weight: float, size: int, cell: int = 144) -> Image.Image:
    """Columns: the content, then one per style. Rows: per content, VGG then MobileNetV2.

    Drawn with PIL rather than matplotlib: exact pixels, one label strip, no margins.
    """
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=12)
    pad, label = 4, 16
    names = {"vgg19-random": "VGG-19 random", "mobilenetv2": "MobileNetV2"}
    ncols, nrows = 1 + len(STYLES), 1 + 2 * len(CONTENTS)
    step = cell + label + pad
    fig = Image.new("RGB", (ncols * (cell + pad) + pad, nrows * step + pad), "white")
    draw = ImageDraw.Draw(fig)

    def put(img, text, row, col):
        x, y = pad + col * (cell + pad), pad + row * step
        draw.text((x, y), text, fill="black", font=font)
        fig.paste(_tile(img, cell), (x, y + label))

    draw.text(
        (pad, pad + label + cell // 2 - 8), f"style weight {weight:g}", fill="black", font=font
    )
    for j, style in enumerate(STYLES, start=1):
        put(load_style(style, size), f"style: {style}", 0, j)
    for i, content in enumerate(CONTENTS):
        c = load_content(content, size)
        for k, config in enumerate(names):
            row = 1 + 2 * i + k
            put(c, f"{content} / {names[config]}", row, 0)
            for j, style in enumerate(STYLES, start=1):
                put(Image.open(work / f"{run_key(config, content, style, weight)}.png"), "", row, j)
    return fig


def checker_figure(work: Path, records: list[dict], weight: float):
    """Zoomed crops (nearest-neighbour, 4x) of MobileNetV2 with and without shift averaging."""
    import matplotlib.pyplot as plt

    pairs = [("astronaut", "brush"), ("chelsea", "pointillism"), ("coffee", "voronoi")]
    fig, axes = plt.subplots(2, len(pairs), figsize=(len(pairs) * 2.2, 4.6))
    for j, (content, style) in enumerate(pairs):
        for i, config in enumerate(("mobilenetv2-noshift", "mobilenetv2")):
            img = Image.open(work / f"{run_key(config, content, style, weight)}.png")
            rec = next(
                r
                for r in records
                if run_key(r["config"], r["content"], r["style"], r["style_weight"])
                == run_key(config, content, style, weight)
            )
            w, h = img.size
            crop = img.crop((w // 2 - 24, h // 2 - 24, w // 2 + 24, h // 2 + 24))
            ax = axes[i, j]
            ax.imshow(crop.resize((192, 192), Image.Resampling.NEAREST))
            ax.set_xticks([])
            ax.set_yticks([])
            label = "no shift averaging" if i == 0 else "shift-averaged loss"
            ax.set_title(f"{content} x {style}\n{label}, checker {rec['checker']:.2f}", fontsize=7)
    fig.tight_layout()
    return fig


def tradeoff_figure(records: list[dict]):
    """Palette gain against SSIM (full and 1/4 scale): one small point per run, and the mean
    of each configuration per style weight as a large marker, joined per configuration."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharex=True)
    styles = {
        "vgg19-random": ("tab:red", "VGG-19 random"),
        "mobilenetv2": ("tab:blue", "MobileNetV2 (shift-averaged)"),
        "mobilenetv2-noshift": ("tab:gray", "MobileNetV2, no shift averaging"),
    }
    markers = dict(zip(STYLE_WEIGHTS, "o^"))
    for ax, metric in zip(axes, ("ssim", "ssim_coarse")):
        for config, (color, label) in styles.items():
            means = []
            for weight, marker in markers.items():
                rs = [r for r in records if r["config"] == config and r["style_weight"] == weight]
                if not rs:
                    continue
                x, y = [r["palette_gain"] for r in rs], [r[metric] for r in rs]
                ax.scatter(x, y, color=color, marker=marker, alpha=0.3, s=14)
                means.append((np.mean(x), np.mean(y)))
                ax.scatter(*means[-1], color=color, marker=marker, s=90, edgecolors="black",
                           label=f"{label}, sw={weight:g}")  # fmt: skip
            ax.plot(*zip(*means), color=color, lw=1.5)
        ax.set_xlabel("palette gain (0 = content's colours, 1 = style's)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SSIM to the content")
    axes[1].set_ylabel("SSIM at 1/4 scale (layout only)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def scored_records(work: Path, size: int) -> list[dict]:
    """Every planned run's record, with its metrics computed now from its saved 8-bit PNG.

    Computing them here (not during the runs) scores every output the same way and lets a
    metric change without re-running the optimisations.
    """
    from stylelab.core.images import load_image

    expected = planned_runs(CONFIGS)
    missing = [run_key(*r) for r in expected if not (work / f"{run_key(*r)}.json").exists()]
    if missing:
        raise StylelabError(
            f"{len(missing)} runs missing in {work} (e.g. {missing[0]}); run the protocol first"
        )
    records = []
    for config, content, style, weight in expected:
        key = run_key(config, content, style, weight)
        record = json.loads((work / f"{key}.json").read_text())
        if record.get("size", size) != size:
            raise StylelabError(
                f"{key} was run at --size {record['size']}; report with the same --size"
            )
        out = load_image(work / f"{key}.png")
        record.update(metrics(out, load_content(content, size), load_style(style, size)))
        records.append(record)
    return records


def step_cost(config: str, side: int = 256, repeats: int = 3) -> float:
    """CPU seconds (process time, so other jobs on the machine barely count) of one
    forward + backward pass of the Gatys objective at side x side, on the current threads."""
    from stylelab.encoders import load_encoder
    from stylelab.losses.gatys import GatysObjective

    name, weights, shift = CONFIGS[config]
    enc = load_encoder(name, weights=weights, seed=SEED)
    c, s = load_content("astronaut", side), load_style("brush", side)
    objective = GatysObjective(enc, c, s, shift_average=shift)
    x = c.clone().requires_grad_(True)
    objective(x)[0].backward()  # warm-up: first calls allocate
    start = time.process_time()
    for _ in range(repeats):
        objective(x)[0].backward()
    return (time.process_time() - start) / repeats


def report(work: Path, out: Path, size: int, steps: int, force: bool) -> dict:
    records = scored_records(work, size)
    out.mkdir(parents=True, exist_ok=True)
    names = ["results.json", "checkerboard.png", "tradeoff.png"]
    targets = [out / n for n in names + [f"grid_sw{w:g}.png" for w in STYLE_WEIGHTS]]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise StylelabError(f"{existing[0]} exists; pass --force to overwrite the report")
    encs = sorted({r["encoder"] for r in records})
    result = {
        "protocol": {
            "method": "Gatys optimisation, stylelab.losses.gatys.gatys_transfer, init=content, "
            "L-BFGS (no line search), Gram style loss with per-tap 1/energy weights, content "
            "weight 1",
            "size": size,
            "steps": steps,
            "tv_weight": TV_WEIGHT,
            "seed": SEED,
            "contents": list(CONTENTS),
            "styles": list(STYLES),
            "style_weights": list(STYLE_WEIGHTS),
            "configs": {
                k: dict(zip(("encoder", "weights", "shift_average"), v)) for k, v in CONFIGS.items()
            },
            "ablation_weights": ABLATION_WEIGHTS,
            "threads_per_process": torch.get_num_threads(),
            "seconds": "wall time per run, on a shared 2-core machine (load about 6): noisy; "
            "cpu_seconds_per_step_256px is the cleaner cost",
            "encoders": encs,
            "metrics": {
                "palette": "sliced W1 of RGB pixels, output vs style (64 directions)",
                "texture": f"sliced W1 of {PATCH}x{PATCH} RGB patches, output vs style",
                "palette_gain, texture_gain": "1 - d(output, style) / d(content, style)",
                "ssim": "skimage structural_similarity, grayscale, output vs content",
                "ssim_coarse": "the same after shrinking both 4x (antialiased): layout only",
                "checker": "mean spectral power on the Nyquist lines / mean power at "
                f"{CHECKER_BAND}-0.5 cycles/px (grayscale output; about 1 for photos)",
                "lpips": "skipped: lpips needs torchvision's AlexNet download (offline here)",
            },
        },  # fmt: skip
        "summary": summarise(records),
        "cpu_seconds_per_step_256px": {c: step_cost(c) for c in CONFIGS},
        "runs": records,
    }
    (out / "results.json").write_text(json.dumps(result, indent=1))
    for weight in STYLE_WEIGHTS:
        grid_figure(work, weight, size).save(out / f"grid_sw{weight:g}.png", optimize=True)
    checker_figure(work, records, ABLATION_WEIGHTS["mobilenetv2-noshift"][0]).savefig(
        out / "checkerboard.png", dpi=110
    )
    tradeoff_figure(records).savefig(out / "tradeoff.png", dpi=110)
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--configs", default=",".join(CONFIGS), help="comma-separated: " + ", ".join(CONFIGS)
    )
    ap.add_argument("--work", type=Path, default=WORK, help="cache of per-run results")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--size", type=int, default=SIZE)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", action="store_true", help="write results.json and figures")
    ap.add_argument("--force", action="store_true", help="overwrite an existing report")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown config {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    start = time.perf_counter()
    try:
        run(args, configs)
    except StylelabError as err:
        print(f"error: {err}")
        return 2
    print(f"done in {time.perf_counter() - start:.0f}s")
    return 0


def run(args, configs) -> None:
    if args.report:
        result = report(args.work, args.out, args.size, args.steps, args.force)
        shown = ("palette_gain", "texture_gain", "ssim", "ssim_coarse", "checker", "seconds")
        for name, s in result["summary"].items():
            print(f"{name:28s} " + " ".join(f"{m}={s[m]['mean']:.3f}" for m in shown))
    else:
        do_runs(configs, args.work, args.size, args.steps)


if __name__ == "__main__":
    raise SystemExit(main())
