"""The model zoo: trained book-size networks, verified and ready to use.

    model = zoo.load("adain")                 # AdaINNet in eval mode, on CPU
    out = model.stylize(content, style, alpha=0.8)

Weights ship in `data/weights/<name>.safetensors` (fp16: half the bytes, and a
decoder's output changes by far less than one 8-bit grey level) with an entry
in `data/weights/manifest.json`: sha256, the encoder the network expects, its
config (width, taps...), steps, training time, data used, and the command that
retrains it. `weights.load_shipped` checks the hash before anything is loaded;
a missing or corrupted file is a `StylelabError` naming that command.
"""

from __future__ import annotations

import torch
from torch import nn

from stylelab.core.errors import StylelabError

# name -> how to rebuild it; the command is the fallback hint when the manifest has none
ZOO = {
    "adain": {
        "description": "AdaIN decoder (Huang & Belongie 2017), book-size, trained here",
        # the book-size run (the CLI defaults are the paper's: size 256, batch 8, lr 1e-4)
        "command": "stylelab train adain --steps 16000 --size 128 --batch 4 --width 0.25 "
        "--lr 1e-3 --threads 1 --out runs/adain-mnv2 --publish",
    },
    "a2k": {
        "description": "StyA2K (Zhu et al. 2023): A2K at strides 4/8/16 and a skip decoder, "
        "book-size, trained here from the AdaIN decoder",
        "command": "stylelab train a2k --steps 3744 --size 128 --batch 4 --width 0.25 "
        "--lr 2e-4 --threads 2 --out data/training/a2k --publish",
    },
    "all_to_all": {
        "description": "the all-to-all baseline: the shipped StyA2K network with SANet layers "
        "(8 heads) in place of A2K, only they fine-tuned here",
        "command": "stylelab train all_to_all --steps 672 --size 128 --batch 4 --width 0.25 "
        "--lr 2e-4 --threads 2 --out data/training/all_to_all --publish",
    },
    "mamba_st": {
        "description": "Mamba-ST (Botti et al. 2025): patch embedding, SS2D token encoders, "
        "ST-VSSM decoder blocks and a CNN decoder, book-size, trained here from scratch",
        "command": "stylelab train mamba_st --preset book --threads 2 "
        "--out data/training/mamba_st --publish",
    },
    "style_rwkv": {
        "description": "StyleRWKV (Dai et al. 2025, reconstructed): a 4-level RWKV encoder "
        "(Re-WKV over S-scans, Deform-Shifting), AdaIN at every level, an RWKV decoder with "
        "skips and a CNN head, book-size, trained here from scratch",
        "command": "stylelab train style_rwkv --preset book --threads 2 "
        "--out data/training/style_rwkv --publish",
    },
}


def names() -> tuple[str, ...]:
    """The models whose weights ship (have a manifest entry), in the zoo's order.

    A zoo model not yet published is left out here (so `stylelab evaluate` and the book run
    what exists); `load` on it says how to train it."""
    from stylelab.core import weights

    shipped = weights.read_manifest()
    return tuple(name for name in ZOO if name in shipped)


def _check_name(name: str) -> None:
    if name not in ZOO:
        raise StylelabError(f"unknown model {name!r}; the zoo has {', '.join(ZOO)}")


def _entry(name: str) -> dict:
    from stylelab.core import weights

    try:
        return weights.manifest_entry(name)
    except StylelabError as err:
        raise StylelabError(f"{err}; train it with `{ZOO[name]['command']}`") from err


def builder(name: str):
    """The `from_config(encoder, config)` that builds zoo model `name` (shipped or a run's)."""
    _check_name(name)
    if name == "adain":
        from stylelab.adain import from_config
    elif name == "mamba_st":
        from stylelab.ssm.mamba_st import from_config
    elif name == "style_rwkv":
        from stylelab.rwkv.style_rwkv import from_config
    else:  # a2k, all_to_all
        from stylelab.attention.net import from_config
    return from_config


def load(name: str, device: str = "auto") -> nn.Module:
    """A ready model (eval mode, on `device`) from verified shipped weights."""
    from stylelab.core import weights
    from stylelab.core.devices import resolve_device
    from stylelab.encoders import load_encoder

    _check_name(name)
    device = resolve_device(device)
    entry = _entry(name)
    from stylelab.training.runs import init_chain

    # a fine-tuned model: every stage's command, in order
    stages = [i["command"] for i in init_chain(entry) if i.get("command")]
    hint = "` then `".join([*stages, entry.get("command", ZOO[name]["command"])])
    state = weights.load_shipped(name, retrain_hint=hint)  # verifies the sha256 first
    from_config = builder(name)
    encoder = load_encoder(entry["encoder"], device=device)
    try:
        model = from_config(encoder, entry["config"])
    except StylelabError as err:
        raise StylelabError(f"shipped {name}: {err}; retrain it with `{hint}`") from err
    base = None
    if entry.get("base"):  # fine-tuned on a shipped model: its weights go in first
        from stylelab.training.runs import base_weights

        try:
            base = base_weights(entry["base"])
        except StylelabError as err:
            raise StylelabError(f"shipped {name}: {err} with `{hint}`") from err
    try:
        if base is not None:
            model.load_trainable_state_dict(base)
        model.load_trainable_state_dict({k: v.float() for k, v in state.items()})
    except (RuntimeError, StylelabError) as err:  # keys/shapes disagree with the config
        raise StylelabError(
            f"the shipped {name} weights do not fit their manifest config ({err}); "
            f"retrain with `{hint}`"
        ) from err
    return model.to(device).eval()


def publish(name: str, model: nn.Module, meta: dict) -> dict:
    """Ship `model`'s trainable weights as fp16 safetensors + a manifest entry; returns it."""
    from safetensors.torch import save_file

    from stylelab.core import weights

    _check_name(name)
    getter = getattr(model, "trainable_state_dict", model.state_dict)
    state = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in getter().items()}
    folder = weights.weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.safetensors"
    save_file(state, str(path), metadata={"name": name, "dtype": "float16"})
    meta = {
        "description": ZOO[name]["description"],
        "dtype": "float16",
        "license": "MIT (trained in this repository)",
        "source": "stylelab train",
        **meta,
    }
    return weights.add_to_manifest(name, path, **meta)
