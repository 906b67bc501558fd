"""Painters that lay down marks: brush strokes, dabs, hatching, washes."""

from __future__ import annotations

import numpy as np

from stylelab.paintings.canvas import (
    _bend,
    _dabs,
    _Fbm,
    _flow_angle,
    _jittered_grid,
    _Noise,
    _ramp,
    _smooth,
    _strokes,
)


def _brush(cv, rng, colors):
    tone = _Fbm(rng, 3, 3)
    n_glow = rng.integers(1, 3)
    glow = np.stack([rng.random(n_glow), rng.random(n_glow) * 0.5, rng.uniform(0.06, 0.12, n_glow)])

    def tone_at(x, y):  # dark at the bottom, glowing moons, fractal clouds
        t = 0.55 + 0.45 * tone.at(x, y) - 0.25 * (y - 0.4)
        for gx, gy, gr in glow.T:
            t = t + 0.7 * np.exp(-((x - gx) ** 2 + (y - gy) ** 2) / gr**2)
        return t

    angle_fn = _flow_angle(rng)
    img = _ramp(colors, tone_at(cv.X, cv.Y)) * 0.9
    scale = rng.uniform(0.8, 1.25)
    for n, length, width in ((12, 0.16, 0.05), (24, 0.10, 0.030), (40, 0.06, 0.018)):
        x, y = _jittered_grid(rng, n, margin=0.05)
        ang = angle_fn(x, y)
        ln = length * scale * rng.uniform(0.7, 1.3, len(x))
        wd = width * scale * rng.uniform(0.7, 1.3, len(x))
        t = tone_at(x, y) + rng.normal(0, 0.08, len(x))
        col = _ramp(colors, t) + rng.normal(0, 0.03, (len(x), 3))
        _strokes(img, cv, rng, x, y, ang, ln, wd, col, bend=_bend(angle_fn, x, y, ang, ln))
    size = "large" if scale > 1.05 else "medium" if scale > 0.9 else "small"
    return img, f"swirling brush strokes, thick impasto, {size} strokes"


def _pointillism(cv, rng, colors):
    horizon = rng.uniform(0.5, 0.65)
    sun = np.array([rng.uniform(0.2, 0.8), horizon * rng.uniform(0.35, 0.7)])
    tone, shore = _Fbm(rng, 4, 3), _Noise(rng, 5)
    trees = np.stack(
        [rng.random(4), horizon + rng.uniform(-0.05, 0.05, 4), rng.uniform(0.04, 0.09, 4)]
    )

    def tone_at(x, y):  # a river landscape: sky and sun, reflection, dark trees on the bank
        h = horizon + 0.03 * shore.at(x, 0 * x)
        glow = np.exp(-((x - sun[0]) ** 2 + (y - sun[1]) ** 2) / 0.012)
        reflect = np.exp(-((x - sun[0]) ** 2) / 0.004 - (y - h) / 0.2) * (y > h)
        t = np.where(y < h, 0.78 - 0.25 * y + 0.5 * glow, 0.45 + 0.4 * reflect - 0.3 * (y - h))
        for tx, ty, tr in trees.T:
            t = t - 0.5 * _smooth(1.0, 0.7, np.hypot((x - tx) * 1.6, (y - ty + tr) / 1.4) / tr)
        return t + 0.15 * tone.at(x, y)

    img = 0.4 * _ramp(colors, tone_at(cv.X, cv.Y)) + 0.6 * colors[-1]  # light ground shows through
    for n, dot in ((55, 0.011), (70, 0.009)):
        x, y = _jittered_grid(rng, n, margin=0.02)
        t = np.clip(tone_at(x, y), 0, 1) * (len(colors) - 1)
        # Divisionism: every dot a pure palette colour, the eye mixes them. The chance of
        # the lighter neighbour is the fractional tone (error-free dithering on average).
        idx = np.floor(t) + (rng.random(len(x)) < t - np.floor(t))
        col = colors[np.clip(idx, 0, len(colors) - 1).astype(int)]
        col = col + rng.normal(0, 0.035, (len(x), 3))
        _dabs(img, cv, rng, x, y, dot * rng.uniform(0.8, 1.2, len(x)), col.astype(np.float32))
    return img, "pointillist dots of pure colour, a river landscape with a low sun, small dabs"


def _still_life(rng, cv):
    """Tone (0 dark .. 1 light) of spheres lit from the top left on a table, and their outlines."""
    n = rng.integers(2, 5)
    r = rng.uniform(0.09, 0.18, n)
    cx, table = rng.uniform(0.15, 0.85, n), rng.uniform(0.62, 0.75)
    cy = table - r * rng.uniform(0.4, 0.8, n)
    light = np.array([-0.5, -0.6, 0.62]) / np.linalg.norm([-0.5, -0.6, 0.62])
    t = np.where(cv.Y < table, 0.8 - 0.3 * cv.Y + 0.15 * cv.X, 0.58 - 0.4 * (cv.Y - table))
    for k in range(n):  # cast shadows on the table, down and to the right
        d = np.hypot(
            (cv.X - cx[k] - 0.6 * r[k]) / (1.5 * r[k]), (cv.Y - cy[k] - r[k]) / (0.35 * r[k])
        )
        t = t - 0.35 * _smooth(1.0, 0.4, d)
    outline = np.full_like(t, 9.0)  # distance to the nearest contour (units)
    for k in np.argsort(cy):  # back to front
        dx, dy = (cv.X - cx[k]) / r[k], (cv.Y - cy[k]) / r[k]
        rho2 = dx * dx + dy * dy
        nz = np.sqrt(np.clip(1 - rho2, 0, 1))
        lambert = np.clip(dx * light[0] + dy * light[1] + nz * light[2], 0, 1)
        inside = rho2 < 1
        t = np.where(inside, 0.05 + 0.9 * lambert, t)
        edge = np.abs(np.sqrt(rho2) - 1) * r[k]
        outline = np.where(inside | (edge < outline), edge, outline)
    return t, outline


def _hatching(cv, rng, colors):
    t, outline = _still_life(rng, cv)
    t = t + 0.1 * _Fbm(rng, 4, 2).at(cv.X, cv.Y)
    paper, ink = colors[-1], colors[0]
    # A pale wash of the palette's middle colours under the ink, like a tinted drawing.
    img = paper + 0.35 * (_ramp(colors, 0.35 + 0.5 * t) - paper)
    wobble, breaks, warp = _Fbm(rng, 3, 2), _Noise(rng, 10), _Fbm(rng, 6, 2)
    spacing = rng.uniform(0.018, 0.024)
    base = rng.uniform(0, np.pi)
    # The hand hatches in patches: in each, straight parallel lines at a slightly
    # different angle and offset. Patches are a grid with wobbly (warped) borders.
    n_patch = 9
    pi_ = np.floor((cv.Y + 0.05 * warp.at(cv.X, cv.Y)) * n_patch)
    pj = np.floor((cv.X + 0.05 * warp.at(cv.Y, cv.X)) * n_patch)
    patch = (np.clip(pi_, -1, n_patch) + 1) * (n_patch + 2) + np.clip(pj, -1, n_patch) + 1
    patch = patch.astype(np.int64)
    px, py = (pj + 0.5) / n_patch, (pi_ + 0.5) / n_patch  # patch centres: rotate about these
    layers = ((0.78, 0.0), (0.58, np.pi / 2), (0.4, np.pi / 4), (0.22, -np.pi / 4))
    for m, (thresh, turn) in enumerate(layers):  # each darker tone adds a direction
        jitter = rng.normal(0, 0.12, (n_patch + 2) ** 2)
        th = base + turn + jitter[patch]
        dx, dy = cv.X - px, cv.Y - py
        across = (dx * np.cos(th) + dy * np.sin(th)) / spacing + 0.3 * wobble.at(cv.Y, cv.X + m)
        along = dy * np.cos(th) - dx * np.sin(th)
        line_id = np.round(across)
        dist = np.abs(across - line_id) * spacing  # to the nearest line (units)
        darkness = np.clip((thresh - t) / 0.15, 0, 1)  # pressure grows with shadow
        half = spacing * (0.05 + 0.13 * darkness)
        pen = breaks.at(along * 1.5, line_id * 0.37 + patch * 0.11 + m) > -0.55  # lifted pen
        line = np.clip((half - dist) * cv.s + 0.5, 0, 1) * np.sqrt(darkness) * pen
        img = img + (0.85 * line * cv.fade(spacing))[..., None] * (ink - img)
    pressure = 0.0015 + 0.0015 * (1 + _Noise(rng, 12).at(cv.X, cv.Y))  # contour line width
    contour = np.clip((pressure - outline) * cv.s + 0.5, 0, 1)[..., None]
    img = img + 0.9 * contour * (ink - img)
    return img, "cross-hatched pen drawing of a still life, fine parallel ink lines, deep shadows"


def _watercolour(cv, rng, colors):
    paper = np.float32([0.97, 0.95, 0.91])
    img = np.broadcast_to(paper, (cv.h, cv.w, 3)).copy()
    shape_a, shape_b, gran = _Fbm(rng, 3, 3), _Fbm(rng, 3, 3), _Fbm(rng, 48, 3).at(cv.X, cv.Y, cv)
    na, nb = shape_a.at(cv.X, cv.Y), shape_b.at(cv.X, cv.Y)
    for _ in range(rng.integers(9, 15)):
        (cx, cy), rad, phi = rng.random(2), rng.uniform(0.12, 0.3), rng.uniform(0, 2 * np.pi)
        pigment = _ramp(colors, rng.uniform(0.0, 0.85))
        f = np.hypot(cv.X - cx, cv.Y - cy) / rad + 0.6 * (np.cos(phi) * na + np.sin(phi) * nb)
        wash = _smooth(1.0, 0.9, f)  # soft inside, ragged outline
        rim = np.exp(-(((f - 0.96) / 0.05) ** 2))  # pigment pools at the drying edge
        density = rng.uniform(0.3, 0.6) * (wash * (0.75 + 0.25 * (1 - f)) + 0.6 * rim * wash)
        density = density * (0.8 + 0.4 * gran)  # granulation: pigment settles in the grain
        img *= 1 - density[..., None] * (1 - pigment)  # layers multiply, like glazes
    img *= 1 + 0.05 * _Fbm(rng, 32, 3).at(cv.X, cv.Y, cv)[..., None]  # cold-pressed paper
    return img, "large transparent watercolour washes with soft bleeding edges and granulation"
