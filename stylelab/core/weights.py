"""Shipped weights: a sha256 manifest over `data/weights/*.safetensors`.

Every weight file the repository ships is listed in `data/weights/manifest.json`:

    {"<name>": {"file": "<file>.safetensors", "sha256": "...", "bytes": N,
                "license": "...", "source": "...", "notes": "...", ...}}

`load_shipped(name)` verifies the hash before it trusts a byte, so a truncated
download, a git-lfs pointer or a stray edit becomes a clear error that says how
to get the file back, instead of a silent garbage network.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from stylelab.core.errors import StylelabError
from stylelab.core.paths import checkout_root

ENV_VAR = "STYLELAB_WEIGHTS_DIR"  # point at another folder (tests, a read-only install)
MANIFEST = "manifest.json"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (weight files can be 500 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_dir() -> Path:
    """The folder holding shipped weights.

    `$STYLELAB_WEIGHTS_DIR` if set; else the repo's `data/weights/` (a checkout or an
    editable install); else `<prefix>/share/stylelab/weights`, where a wheel puts them.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    in_repo = checkout_root() / "data" / "weights"
    installed = Path(sys.prefix) / "share" / "stylelab" / "weights"
    return installed if not in_repo.is_dir() and installed.is_dir() else in_repo


def read_manifest() -> dict[str, dict]:
    """The manifest as a dict (empty when there is none yet)."""
    path = weights_dir() / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise StylelabError(
            f"{path} is not valid JSON ({err}); restore it with `git checkout data/weights/{MANIFEST}`"
        ) from err
    if not isinstance(manifest, dict):
        raise StylelabError(f"{path} must hold a JSON object of name -> entry")
    return manifest


def add_to_manifest(name: str, path: str | os.PathLike, **meta) -> dict:
    """Record (or update) `name` -> `path` with its sha256 and size; other entries are kept.

    `path` must lie inside `weights_dir()`; `meta` adds keys such as license,
    source, notes, command. Written atomically (temp file + rename) so a crash
    never leaves half a manifest behind. Returns the new entry.
    """
    folder = weights_dir().resolve()
    path = Path(path).resolve()
    if not path.is_file():
        raise StylelabError(f"cannot add {path} to the manifest: no such file")
    try:
        relative = path.relative_to(folder)
    except ValueError as err:
        raise StylelabError(
            f"cannot add {path} to the manifest: shipped weights must live in {folder}"
        ) from err
    entry = {"file": relative.as_posix(), "sha256": sha256_file(path), "bytes": path.stat().st_size}
    entry.update(meta)
    manifest = read_manifest()  # read-modify-write: never drop someone else's entry
    manifest[name] = entry
    text = json.dumps(dict(sorted(manifest.items())), indent=2) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o644)  # NamedTemporaryFile makes 0600; the manifest is shared
    os.replace(tmp.name, folder / MANIFEST)
    return entry


def manifest_entry(name: str) -> dict:
    """The manifest entry for `name`, or a clear error listing the names there are."""
    manifest = read_manifest()
    if name not in manifest:
        known = ", ".join(sorted(manifest)) or "none"
        raise StylelabError(
            f"no shipped weights named {name!r} in {weights_dir() / MANIFEST} (known: {known})"
        )
    return manifest[name]


def shipped_path(name: str) -> Path:
    """Where the file for `name` should be (it may be missing)."""
    return weights_dir() / manifest_entry(name)["file"]


def verify_shipped(name: str, retrain_hint: str | None = None) -> Path:
    """Check the file for `name` exists and matches its sha256; return its path."""
    entry = manifest_entry(name)
    path = weights_dir() / entry["file"]
    hint = retrain_hint or entry.get("command")
    fix = f"restore it with `git checkout data/weights/{entry['file']}`"
    if hint:
        fix += f" or retrain with `{hint}`"
    if not path.is_file():
        raise StylelabError(f"weights {name!r}: {path} is missing; {fix}")
    if sha256_file(path) != entry["sha256"]:
        raise StylelabError(f"weights {name!r}: {path} is corrupted (sha256 mismatch); {fix}")
    return path


def load_shipped(name: str, retrain_hint: str | None = None) -> dict[str, torch.Tensor]:
    """Verify and load the safetensors file `name` (tensors on CPU, dtype as stored)."""
    from safetensors.torch import load_file  # imported on use: keeps `import stylelab` light

    return load_file(str(verify_shipped(name, retrain_hint)))
