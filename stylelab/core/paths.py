"""Where the repository is, for code that reads its data/ or book/ folders."""

from __future__ import annotations

from pathlib import Path

from stylelab.core.errors import StylelabError


def checkout_root() -> Path:
    """The folder above the package: a clone's root in a checkout or an editable install."""
    return Path(__file__).resolve().parents[2]


def repo_root(require: str = "book/_toc.yml") -> Path:
    """The clone this package was installed from (an editable install), found by `require`.

    A wheel has no clone around it: then the error says to work from one.
    """
    root = checkout_root()
    if not (root / require).exists():
        raise StylelabError(
            f"no {require} under {root}: this needs a clone of the repository with an editable "
            "install (`pip install -e .`)"
        )
    return root
