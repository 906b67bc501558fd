"""Contact sheet of the procedural style zoo: every painter x two palettes, with timings.

python scripts/style_contact_sheet.py [out.png] [--size 256] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from PIL import Image, ImageDraw

from stylelab.paintings import _PAINTERS, PAINTERS, paint

SECOND_PALETTE = {  # a contrasting palette next to each painter's default
    "brush": "sunset",
    "voronoi": "ocean",
    "pointillism": "forest",
    "hatching": "desert",
    "mondrian": "pastel",
    "watercolour": "autumn",
    "rings": "mondrian",
    "waves": "van_gogh_night",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="/tmp/styles_sheet.png")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    s, label = args.size, 16
    sheet = Image.new("RGB", (4 * s, (len(PAINTERS) + 1) // 2 * (s + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(PAINTERS):
        for j, pal in enumerate((_PAINTERS[name][1], SECOND_PALETTE.get(name, "ink"))):
            t0 = time.perf_counter()
            p = paint(name, s, seed=args.seed, palette=pal)
            dt = time.perf_counter() - t0
            x, y = (i % 2 * 2 + j) * s, i // 2 * (s + label)
            sheet.paste(p.image, (x, y + label))
            draw.text((x + 3, y + 2), f"{name} / {pal}  {dt * 1000:.0f} ms", fill="black")
            print(f"{name:12s} {pal:15s} {dt * 1000:6.0f} ms  {p.caption}")
    sheet.save(args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
