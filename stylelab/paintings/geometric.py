"""Painters of shapes and patterns: grids, cells, rings, waves."""

from __future__ import annotations

import numpy as np

from stylelab.paintings.canvas import _Fbm, _jittered_grid, _Noise, _pick, _ramp, _smooth, _strokes


def _mondrian(cv, rng, colors):
    rects = [(0.0, 0.0, 1.0, 1.0)]  # x0, y0, x1, y1
    for _ in range(rng.integers(7, 12)):  # split the largest rectangles, Mondrian-like
        areas = [(r[2] - r[0]) * (r[3] - r[1]) for r in rects]
        x0, y0, x1, y1 = rects.pop(
            int(np.argmax(np.array(areas) * rng.uniform(0.5, 1, len(areas))))
        )
        s = rng.uniform(0.3, 0.7)
        if (x1 - x0) > (y1 - y0) * rng.uniform(0.6, 1.4):
            m = x0 + s * (x1 - x0)
            rects += [(x0, y0, m, y1), (m, y0, x1, y1)]
        else:
            m = y0 + s * (y1 - y0)
            rects += [(x0, y0, x1, m), (x0, m, x1, y1)]
    r = np.array(rects, np.float32)
    # Most blocks off-white; 2-4 in the palette's middle colours, sometimes one black.
    fill = colors[-1] * rng.uniform(0.92, 1.0, (len(r), 1))
    perm, n_col, black = rng.permutation(len(r)), rng.integers(2, 5), rng.random() < 0.4
    fill[perm[:n_col]] = colors[1 + np.arange(n_col) % (len(colors) - 2)]
    if black:
        fill[perm[n_col]] = colors[0]
    warp = _Fbm(rng, 6, 2)
    x = np.clip(cv.X + 0.004 * warp.at(cv.X, cv.Y), 0, 0.9999)  # hand-drawn: wobbly edges
    y = np.clip(cv.Y + 0.004 * warp.at(cv.Y + 3, cv.X), 0, 0.9999)
    inside = (x[None] >= r[:, 0, None, None]) & (y[None] >= r[:, 1, None, None])
    inside &= (x[None] < r[:, 2, None, None]) & (y[None] < r[:, 3, None, None])
    rid = np.argmax(inside, axis=0)  # (H, W) which block
    x0, y0, x1, y1 = (r[rid, i] for i in range(4))
    big = np.float32(9.0)  # canvas edges carry no black line
    d = np.minimum.reduce(
        [
            np.where(x0 > 0, x - x0, big),
            np.where(y0 > 0, y - y0, big),
            np.where(x1 < 1, x1 - x, big),
            np.where(y1 < 1, y1 - y, big),
        ]
    )
    lw = rng.uniform(0.005, 0.009)  # half width
    vertical = ((x1 - x0) < (y1 - y0))[..., None]  # brush along the block's long side
    streak_h, streak_v = _Fbm(rng, 8, 3), _Fbm(rng, 8, 3)
    brush = np.where(
        vertical[..., 0],
        streak_v.at(cv.X * 8, cv.Y * 0.5, None),
        streak_h.at(cv.X * 0.5, cv.Y * 8, None),
    )
    img = fill[rid] * (1 + 0.07 * brush[..., None])
    line = np.clip((lw - d) * cv.s + 0.5, 0, 1)[..., None]
    img = img + line * (colors[0] * (1 + 0.1 * brush[..., None]) - img)
    size = "a few large" if len(r) <= 9 else "many"
    return img, f"{size} Mondrian-like colour blocks between thick black lines, flat brushed paint"


def _voronoi(cv, rng, colors):
    from scipy.spatial import cKDTree  # on use: scipy.spatial takes ~0.3 s to import

    n = rng.integers(12, 20)
    sx, sy = _jittered_grid(rng, n, margin=0.1, jitter=0.9)
    tone = _Fbm(rng, 2, 2)
    t = 0.5 + 0.6 * tone.at(sx, sy) + rng.normal(0, 0.12, len(sx))
    tile = _ramp(colors, t) + rng.normal(0, 0.04, (len(sx), 3))
    seeds = np.stack([sx, sy], 1)
    pts = np.stack([cv.X.ravel(), cv.Y.ravel()], 1)
    _, nearest = cKDTree(seeds).query(pts, k=2)  # (P, 2)
    i1, i2 = nearest[:, 0].reshape(cv.h, cv.w), nearest[:, 1].reshape(cv.h, cv.w)
    # Exact distance to the bisector between the two nearest seeds: the grout line.
    p1, p2 = seeds[i1], seeds[i2]
    mid = (p1 + p2) / 2
    nrm = (p2 - p1) / np.linalg.norm(p2 - p1, axis=-1, keepdims=True)
    edge = ((mid[..., 0] - cv.X) * nrm[..., 0] + (mid[..., 1] - cv.Y) * nrm[..., 1]).astype(
        np.float32
    )
    gw = rng.uniform(0.004, 0.008)
    bevel = _smooth(0, 0.02, edge - gw)[..., None]  # tiles darken toward their edges
    glass = _Fbm(rng, 24, 3).at(cv.X, cv.Y, cv)[..., None]
    img = tile[i1] * (0.8 + 0.2 * bevel) * (1 + 0.15 * glass)
    grout = np.clip((gw - edge) * cv.s + 0.5, 0, 1)[..., None]
    img = img + grout * (colors[0] * 0.7 - img)
    size = "large" if n < 15 else "small"
    return img, f"a stained-glass mosaic of {size} irregular tiles with dark lead lines"


def _rings(cv, rng, colors):
    n = int(rng.choice([3, 4]))
    cell = 1 / n
    ci, cj = (
        np.minimum((cv.Y / cell).astype(int), n - 1),
        np.minimum((cv.X / cell).astype(int), n - 1),
    )
    k = ci * n + cj  # (H, W) which square
    cx = (cj + 0.5) * cell + rng.uniform(-0.06, 0.06, n * n)[k] * cell
    cy = (ci + 0.5) * cell + rng.uniform(-0.06, 0.06, n * n)[k] * cell
    dx, dy = cv.X - cx, cv.Y - cy
    r, th = np.hypot(dx, dy) / cell, np.arctan2(dy, dx)
    n_ring = 5
    radii = np.sort(rng.uniform(0.08, 0.5, (n * n, n_ring)), axis=1)[:, ::-1]  # outer first
    wob = rng.uniform(0, 2 * np.pi, (n * n, 2))
    r_w = r * (1 + 0.04 * np.sin(2 * th + wob[k, 0]) + 0.03 * np.sin(3 * th + wob[k, 1]))
    # Each ring differs from the one it sits on: step through the palette by at least one
    # colour and at most all but one (steps in units of the palette's [0, 1) range).
    steps = 1 / len(colors) + rng.random((n * n, n_ring + 1)) * (1 - 2 / len(colors))
    tones = np.cumsum(steps, axis=1) % 1.0
    img = _pick(colors, tones[k, 0])  # the square's ground
    for m in range(n_ring):  # paint discs from the outside in
        disc = np.clip((radii[k, m] - r_w) * cell * cv.s + 0.5, 0, 1)[..., None]
        img = img + disc * (_pick(colors, tones[k, m + 1]) - img)
    # Brush marks run around the circles: noise stretched along the angle.
    tang = _Fbm(rng, 4, 3)
    streak = tang.at(r * 40 * cv.fade(cell / 40), (th / (2 * np.pi)) * 3 + k * 0.37)
    img = img * (1 + 0.1 * streak[..., None])
    gap = np.minimum(
        np.abs(cv.X / cell - np.round(cv.X / cell)), np.abs(cv.Y / cell - np.round(cv.Y / cell))
    )
    img = img * (1 - 0.3 * np.clip((0.004 - gap * cell) * cv.s + 0.5, 0, 1))[..., None]
    return img, f"concentric circles in a {n} by {n} grid of squares, Kandinsky-like, hand-painted"


def _waves(cv, rng, colors):
    n = rng.integers(5, 8)
    base = np.sort(rng.uniform(0.25, 1.1, n))
    freq, amp = rng.uniform(1.2, 3.0, n), rng.uniform(0.04, 0.09, n)
    phase, sharp = rng.uniform(0, 2 * np.pi, n), rng.uniform(2.0, 4.0, n)
    swell, foam = _Noise(rng, 3), _Fbm(rng, 16, 3)

    def crest(m, x):  # peaked waves (sharp crests, broad troughs), height varying along x
        s = 0.5 + 0.5 * np.sin(2 * np.pi * freq[m] * x + phase[m])
        return base[m] - amp[m] * (1 + 0.5 * swell.at(x, 0 * x + m / 3)) * s ** sharp[m]

    clouds = _Fbm(rng, 3, 3).at(cv.X * 0.5, cv.Y * 2)
    img = _ramp(colors, 0.92 - 0.25 * cv.Y + 0.1 * clouds)  # sky
    for m in range(n):  # back to front: each wave covers what lies behind it
        below = cv.Y - crest(m, cv.X)  # units under this crest
        body = np.clip(below * cv.s + 0.5, 0, 1)[..., None]
        t = 0.72 - 0.55 * np.clip(below / 0.16, 0, 1) ** 0.7 + 0.08 * foam.at(cv.X * 0.3, cv.Y * 3)
        img = img + body * (_ramp(colors, t) - img)
        lip = 0.008 * (1 + foam.at(cv.X, cv.Y + m))  # foam thickness along the crest
        fingers = foam.at(cv.X * 3, cv.Y * 0.5 + m) > -0.15
        white = np.clip((lip - below) * cv.s + 0.5, 0, 1) * body[..., 0] * fingers
        img = img + white[..., None] * (colors[-1] - img)
        line = np.clip((0.0012 - np.abs(below - lip)) * cv.s + 0.5, 0, 1) * fingers
        img = img + 0.7 * line[..., None] * (colors[0] - img)
    # Long strokes along the water, coloured from the underpainting.
    x, y = _jittered_grid(rng, 28)
    col = img[
        np.clip(((y * cv.s) - (cv.s - cv.h) / 2).astype(int), 0, cv.h - 1),
        np.clip(((x * cv.s) - (cv.s - cv.w) / 2).astype(int), 0, cv.w - 1),
    ]
    col = col + rng.normal(0, 0.03, col.shape)
    ang = rng.normal(0, 0.15, len(x))
    _strokes(img, cv, rng, x, y, ang, 0.08, 0.012, col.astype(np.float32), dry=0.9)
    size = "a few large swells" if n < 7 else "many rolling waves"
    return img, f"{size} with foaming crests, woodblock-print bands, long horizontal strokes"
