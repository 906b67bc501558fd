"""`--sizes` of the benches that sweep image sides: one parser, each suite its own rules."""

from __future__ import annotations

from collections.abc import Sequence

from stylelab.core.errors import StylelabError


def parse_sizes(
    text: str | None, default: Sequence[int], minimum: int, multiple: int | None = None, why=""
) -> list[int]:
    """'256,512' -> [256, 512] (`default` when None); a one-line StylelabError unless the
    sides are integers >= `minimum`, multiples of `multiple` (`why` says why), ascending."""
    if text is None:
        return list(default)
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise StylelabError(f"--sizes must be integers separated by commas, got {text!r}") from None
    if not sizes or min(sizes) < minimum:
        raise StylelabError(f"--sizes must be at least {minimum} pixels each, got {text!r}")
    if multiple and any(s % multiple for s in sizes):
        raise StylelabError(f"--sizes must be multiples of {multiple} ({why}), got {text!r}")
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise StylelabError(f"--sizes must be ascending without repeats, got {text!r}")
    return sizes
