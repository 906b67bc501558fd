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
}


def names() -> tuple[str, ...]:
    return tuple(ZOO)


def _check_name(name: str) -> None:
    if name not in ZOO:
        raise StylelabError(f"unknown model {name!r}; the zoo has {', '.join(ZOO)}")


def _entry(name: str) -> dict:
    from stylelab.core import weights

    try:
        return weights.manifest_entry(name)
    except StylelabError as err:
        raise StylelabError(f"{err}; train it with `{ZOO[name]['command']}`") from err


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
    if name == "adain":
        from stylelab.adain import from_config

        encoder = load_encoder(entry["encoder"], device=device)
        try:
            model = from_config(encoder, entry["config"])
        except StylelabError as err:
            raise StylelabError(f"shipped {name}: {err}; retrain it with `{hint}`") from err
        try:
            model.load_trainable_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as err:  # shapes/keys disagree with the manifest's config
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
