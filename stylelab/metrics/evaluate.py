"""The evaluation protocol: every (content, style) pair through every image method.

    report = evaluate(content_dir, style_dir, methods=["adain"], size=256)
    report["methods"]["adain"]["style_loss"]

Per method, means over the pairs of:

    content_loss, style_loss   StyTr²'s losses (perceptual.py) on the offline encoder, and on
                               ImageNet VGG-19 too when its weights are on disk
    lpips                      AlexNet-LPIPS against the content, or None with the reason
    ssim                       SSIM of the luminance against the content (structure.py)
    seconds_per_image          wall time of one `model.stylize(content, style)`, after a warm-up
    peak_mib                   the memory one stylization of the largest content needs, in a
                               fresh process (peak.py; CUDA: allocated GPU memory)

A method whose weights are missing is reported with its reason and does not stop the others.
Files in the folders that are not readable images are skipped and listed in the report.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from stylelab.core.errors import StylelabError
from stylelab.core.images import load_image
from stylelab.core.memory import PeakMemory
from stylelab.metrics.baselines import BASELINES, Baseline
from stylelab.metrics.lpips_metric import LPIPSMetric, lpips_unavailable
from stylelab.metrics.peak import probe_peak_mib
from stylelab.metrics.perceptual import PerceptualMetrics
from stylelab.metrics.structure import ssim

MIN_SIDE = 32  # the encoders' deepest taps need 32 px
MAX_SKIPPED_SHOWN = 5


def read_folder(folder, size: int, what: str) -> tuple[list[tuple[str, torch.Tensor]], list[str]]:
    """([(file name, (1, 3, H, W))], [skipped files with why]) for the images in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        kind = "a file" if folder.exists() else "missing"
        raise StylelabError(f"--{what} {folder}: not a folder ({kind}); give a folder of images")
    images, skipped = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name.startswith("."):
            continue  # .DS_Store and friends are not images anyone put there
        try:
            images.append((path.name, load_image(path, max_side=size, min_side=MIN_SIDE)))
        except StylelabError as err:
            skipped.append(f"{path.name}: {err}")
    if not images:
        why = f" ({len(skipped)} file(s) skipped: {'; '.join(skipped[:MAX_SKIPPED_SHOWN])})"
        raise StylelabError(
            f"--{what} {folder} holds no readable image{why if skipped else ''}; "
            "give a folder of PNG or JPEG files"
        )
    return images, skipped


def check_methods(methods, known) -> list[str]:
    """The methods asked for, each known; a clear error names the unknown ones."""
    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        what = f"unknown method(s) {', '.join(unknown)}" if unknown else "no method given"
        raise StylelabError(f"{what}; valid: {', '.join(known)}")
    return methods


# ---------------------------------------------------------------- the protocol


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def evaluate_method(model, pairs, scorers, device, progress=None) -> dict:
    """Scores of one loaded model over `pairs` [(content, style, c_feats, s_feats), ...]."""
    first_content, first_style = pairs[0][0][1], pairs[0][1][1]
    rows, seconds = [], []
    with PeakMemory(device) as peak:  # in this process: see peak.py for the fresh-process probe
        with torch.inference_mode():
            model.stylize(first_content.to(device), first_style.to(device))  # warm-up
        for (_, c), (_, s), feats in pairs:
            start = time.perf_counter()
            with torch.inference_mode():
                out = model.stylize(c.to(device), s.to(device))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - start)
            rows.append(score(out.float().cpu(), c, feats, scorers))
            if progress is not None:
                progress.update(1)
    report = {key: _mean([r[key] for r in rows]) for key in rows[0] if key != "imagenet_vgg19"}
    if "imagenet_vgg19" in rows[0]:
        report["imagenet_vgg19"] = {
            key: _mean([r["imagenet_vgg19"][key] for r in rows])
            for key in ("content_loss", "style_loss")
        }
    report["seconds_per_image"] = _mean(seconds)
    report["peak_mib"] = peak.mib
    return report


def score(out, content, feats, scorers) -> dict:
    """All metrics of one output (1, 3, H, W) against its content and style."""
    row = {}
    row["content_loss"], row["style_loss"] = scorers["offline"](out, *feats["offline"])
    if "imagenet_vgg19" in scorers:
        c, s = scorers["imagenet_vgg19"](out, *feats["imagenet_vgg19"])
        row["imagenet_vgg19"] = {"content_loss": c, "style_loss": s}
    row["lpips"] = scorers["lpips"](out, content) if scorers.get("lpips") else None
    row["ssim"] = ssim(out, content)
    return row


def temporal_stability(model, content, style, frames: int, device, gif=None, force=False):
    """Warping error of `model` on a synthetic pan-and-zoom video of `content` (temporal.py).

    Returns {"warping_error", "content_warping_error"}; writes content | stylized to `gif`.
    """
    from stylelab.metrics import temporal

    video = temporal.synthetic_video(content, frames=frames)  # (T, 3, h, w) with exact motion

    def stylize(frame, s):
        return model.stylize(frame.to(device), s.to(device)).float().cpu()

    stylized = temporal.stylize_video(stylize, video, style, progress=False)  # (T, 3, h, w)
    errors = temporal.warping_error(stylized, video)
    if gif is not None:
        temporal.write_gif(temporal.side_by_side(video, stylized), gif, force=force)
    return {k: errors[k] for k in ("warping_error", "content_warping_error")}


def build_scorers(device: torch.device) -> tuple[dict, dict]:
    """The metric networks available here, and what the report says about each."""
    from stylelab.encoders import load_encoder
    from stylelab.encoders.base import OFFLINE_CHOICES, OFFLINE_DEFAULT
    from stylelab.encoders.vgg19 import VGG19_FILE, find_imagenet_vgg19

    name, weights = OFFLINE_CHOICES[OFFLINE_DEFAULT]
    offline = load_encoder(name, weights=weights, device=device)
    scorers = {"offline": PerceptualMetrics(offline)}
    info = {"encoder": offline.description, "encoder_name": offline.name}
    if find_imagenet_vgg19() is not None:
        vgg = load_encoder("vgg19", weights="imagenet", device=device)
        scorers["imagenet_vgg19"] = PerceptualMetrics(vgg)
        info["imagenet_vgg19"] = vgg.description
    else:
        info["imagenet_vgg19"] = None
        info["imagenet_vgg19_reason"] = f"no ImageNet {VGG19_FILE} in torch hub's cache"
    reason = lpips_unavailable()
    scorers["lpips"] = None if reason else LPIPSMetric(device)
    info["lpips_reason"] = reason
    return scorers, info


def _features(image, scorers) -> dict:
    return {
        key: scorers[key].features(image) for key in ("offline", "imagenet_vgg19") if key in scorers
    }


def evaluate(
    content_dir,
    style_dir,
    methods=None,
    size: int = 256,
    device="cpu",
    progress: bool = True,
    load=None,
    known=None,
    temporal_frames: int = 30,
    gif_dir=None,
    force: bool = False,
) -> dict:
    """The report (see the module docstring) of `methods` (default: every image method).

    load: name, device -> model (default `stylelab.training.zoo.load`), and known: the
    methods run by default (`zoo.names()`); tests pass their own. The BASELINES run only
    when asked for by name. temporal_frames: the length of the synthetic video each
    method stylizes (the first content and style; 0: skip); gif_dir: write each method's
    video there as <method>.gif (existing files kept unless force).
    """
    from tqdm.auto import tqdm

    from stylelab.core.devices import resolve_device
    from stylelab.training import zoo

    if int(size) < MIN_SIDE:
        raise StylelabError(f"--size {size}: give at least {MIN_SIDE} pixels")
    if temporal_frames and int(temporal_frames) < 2:
        raise StylelabError(f"--temporal {temporal_frames}: give 0 (off) or at least 2 frames")
    default = tuple(known or zoo.names())
    methods = check_methods(methods or default, (*default, *BASELINES))
    contents, skipped = read_folder(content_dir, size, "content")
    styles, skipped_styles = read_folder(style_dir, size, "style")
    device = resolve_device(device)
    scorers, info = build_scorers(device)
    c_feats = [_features(c, scorers) for _, c in contents]
    s_feats = [_features(s, scorers) for _, s in styles]
    pairs = [
        (content, style, {k: (cf[k], sf[k]) for k in cf})
        for content, cf in zip(contents, c_feats)
        for style, sf in zip(styles, s_feats)
    ]
    report = {
        **info,
        "size": int(size),
        "pairs": len(pairs),
        "contents": [name for name, _ in contents],
        "styles": [name for name, _ in styles],
        "skipped": skipped + skipped_styles,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "temporal": {
            "frames": int(temporal_frames),
            "video": f"{contents[0][0]} panned (1.5, 1.0) px and zoomed 1.01x per frame",
            "style": styles[0][0],
        }
        if temporal_frames
        else None,
        "methods": {},
    }
    bar = tqdm(total=len(pairs) * len(methods), desc="evaluate", unit="pair", disable=not progress)
    for name in methods:
        bar.set_postfix_str(name)
        try:
            model = Baseline(name) if name in BASELINES else (load or zoo.load)(name, str(device))
        except StylelabError as err:  # missing or corrupt weights: say why, go on
            report["methods"][name] = {"error": str(err)}
            bar.update(len(pairs))
            continue
        result = evaluate_method(model, pairs, scorers, device, bar)
        if load is None:  # a zoo method or a baseline: measure its peak in a fresh process
            h, w = max((c.shape[-2:] for _, c in contents), key=lambda hw: hw[0] * hw[1])
            result["peak_mib"] = probe_peak_mib(name, h, w, str(device))
        result["warping_error"] = result["content_warping_error"] = None
        if temporal_frames:
            gif = Path(gif_dir) / f"{name}.gif" if gif_dir is not None else None
            first = (contents[0][1], styles[0][1])
            result.update(temporal_stability(model, *first, temporal_frames, device, gif, force))
        result["trained_with"] = getattr(getattr(model, "encoder", None), "name", None)
        report["methods"][name] = result
    bar.close()
    favoured = [
        m for m, r in report["methods"].items() if r.get("trained_with") == info["encoder_name"]
    ]
    trained = f"trained with it: {', '.join(favoured)}, which it favours. " if favoured else ""
    report["note"] = (
        f"content_loss and style_loss are measured with {info['encoder_name']}; {trained}"
        "Compare methods within one report, not with the papers' VGG-19 numbers."
    )
    return report
