"""The painters' tools, all vectorised with numpy, in normalised coordinates (the longer side
of the canvas spans [0, 1]):

  _Noise     smooth value noise on a periodic lattice (textures, colour fields, flow)
  _strokes   a batch of brush strokes: soft-edged, curved, with bristle streaks,
             dry-brush gaps and a one-sided impasto highlight
  _dabs      thousands of small round dabs (pointillism), composited per pixel
  _finish    large-scale colour drift, canvas weave and paper grain

The names keep their underscore: they are the painters' tools, not the package's API.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Canvas:
    """Pixel-centre coordinates of an (h, w) canvas; the longer side spans [0, 1]."""

    h: int
    w: int

    def __post_init__(self):
        self.s = max(self.h, self.w)  # pixels per unit length
        self.xs = ((np.arange(self.w) + 0.5 + (self.s - self.w) / 2) / self.s).astype(np.float32)
        self.ys = ((np.arange(self.h) + 0.5 + (self.s - self.h) / 2) / self.s).astype(np.float32)
        self.X, self.Y = np.meshgrid(self.xs, self.ys)  # (H, W) each

    def fade(self, period: float) -> float:
        """Amplitude for a pattern of this period (units): 0 below 2 px, 1 above 3 px.

        Patterns finer than the pixel grid would alias into moire; drop them instead.
        """
        return float(np.clip(period * self.s - 2, 0, 1))


class _Noise:
    """Smooth value noise: random values on a periodic lattice with `cells` cells per unit,
    blended with a smoothstep. n.at(x, y) has x's shape, values in [-1, 1].

    The lattice is turned by a random angle: value noise on an upright grid shows
    horizontal and vertical edges, which the eye picks out at once.
    """

    def __init__(self, rng: np.random.Generator, cells: int):
        self.cells = cells
        lat = rng.random((cells, cells), dtype=np.float32) * 2 - 1
        self.lat = np.pad(lat, ((0, 1), (0, 1)), mode="wrap").ravel()  # +1 row/col: no wrap below
        turn = rng.uniform(0, 2 * np.pi)
        self.cos, self.sin = np.float32(np.cos(turn) * cells), np.float32(np.sin(turn) * cells)

    def at(self, x, y) -> np.ndarray:
        x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
        tx, ty = x * self.cos - y * self.sin, x * self.sin + y * self.cos  # lattice units
        fx, fy = tx - np.floor(tx), ty - np.floor(ty)
        ix = np.floor(tx).astype(np.int64) % self.cells
        iy = np.floor(ty).astype(np.int64) % self.cells
        i = iy * (self.cells + 1) + ix
        a, b = self.lat.take(i), self.lat.take(i + 1)
        c, d = self.lat.take(i + self.cells + 1), self.lat.take(i + self.cells + 2)
        fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy


class _Fbm:
    """Fractal noise: octaves of _Noise, each twice as fine and `gain` times as strong."""

    def __init__(self, rng: np.random.Generator, cells: int, octaves: int, gain: float = 0.5):
        self.octaves = [(_Noise(rng, cells * 2**k), gain**k) for k in range(octaves)]
        self.norm = sum(g for _, g in self.octaves)

    def at(self, x, y, cv: _Canvas | None = None) -> np.ndarray:
        """With a canvas, octaves finer than its pixels are faded out (see _Canvas.fade)."""
        out = 0.0
        for n, g in self.octaves:
            g = g * (cv.fade(1 / n.cells) if cv is not None else 1.0)
            if g > 0:
                out = out + g * n.at(x, y)
        return out / self.norm + np.zeros_like(x, dtype=np.float32)


def _ramp(colors: np.ndarray, t) -> np.ndarray:
    """Continuous palette lookup: t in [0, 1] (any shape) -> RGB (..., 3), blending neighbours."""
    t = np.clip(np.asarray(t, np.float32), 0, 1) * (len(colors) - 1)
    i = np.minimum(t.astype(np.int64), len(colors) - 2)
    f = (t - i)[..., None]
    return colors[i] * (1 - f) + colors[i + 1] * f


def _pick(colors: np.ndarray, t) -> np.ndarray:
    """Discrete palette lookup: t in [0, 1) -> one of the palette's colours."""
    return colors[np.minimum((np.asarray(t) * len(colors)).astype(np.int64), len(colors) - 1)]


def _smooth(edge_lo, edge_hi, x):
    t = np.clip((x - edge_lo) / (edge_hi - edge_lo), 0, 1)
    return t * t * (3 - 2 * t)


def _jittered_grid(rng: np.random.Generator, n: int, margin: float = 0.0, jitter: float = 1.0):
    """n x n points, one per cell of a grid over [-margin, 1 + margin]^2, shuffled."""
    step = (1 + 2 * margin) / n
    gy, gx = np.mgrid[0:n, 0:n].reshape(2, -1) * step - margin
    x = gx + step * (0.5 + jitter * (rng.random(n * n) - 0.5))
    y = gy + step * (0.5 + jitter * (rng.random(n * n) - 0.5))
    order = rng.permutation(n * n)  # paint in random order, not row by row
    return x[order].astype(np.float32), y[order].astype(np.float32)


NQ = 64  # samples of a bristle profile across a stroke


def _strokes(img, cv, rng, x, y, angle, length, width, color, bend=0.0, dry=0.6):
    """Paint B brush strokes onto img (H, W, 3) in place.

    x, y: centres; angle: direction (radians); length, width; bend: curvature (1/units),
    the stroke's spine follows v = bend * u^2 / 2. All (B,) or scalars, in units;
    color (B, 3). In each stroke's frame (u along, v across) the footprint is the
    superellipse (2u/length)^4 + (2v/width)^2 < 1, with a ~1 px antialiased edge.
    A profile across the stroke (random stripes: the bristles) shades it, and towards
    the end the paint runs out between the bristles (`dry`: how much).
    """
    b = len(x)
    f32 = lambda v: np.broadcast_to(np.asarray(v, np.float32), (b,)).copy()  # noqa: E731
    x, y, ang, a, c, k = f32(x), f32(y), f32(angle), f32(length) / 2, f32(width) / 2, f32(bend)
    cos, sin = np.cos(ang), np.sin(ang)
    shade_lut, bristle_lut = _bristle_profiles(rng, cos, sin, c, cv)  # (B, NQ) each
    opacity = rng.uniform(0.85, 1.0, b).astype(np.float32)
    # Chunks of strokes with similar bounding boxes share one window size (batching).
    # Sorting by extents in units (not pixels) keeps the paint order resolution-free.
    ex = a * np.abs(cos) + c * np.abs(sin) + np.abs(k) * a * a / 2  # half extents (units)
    ey = a * np.abs(sin) + c * np.abs(cos) + np.abs(k) * a * a / 2
    order = np.lexsort((ey, ex))
    chunks = np.array_split(order, max(1, b // 48))
    # Strokes may start up to 0.1 units off the canvas; pad so every window fits.
    pad = int(np.ceil((max(ex.max(), ey.max()) + 0.1) * cv.s)) + 2
    canvas = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    ox, oy = (cv.s - cv.w) / 2 + 0.5, (cv.s - cv.h) / 2 + 0.5  # pixel j has x = (j + ox) / s
    for ci in rng.permutation(len(chunks)):  # chunks in random order: no orientation on top
        ids = chunks[ci]
        rx, ry = (int(np.ceil(e[ids].max() * cv.s)) + 1 for e in (ex, ey))
        j0 = np.round(x[ids] * cv.s - ox).astype(np.int64) - rx  # window corners (pixels)
        i0 = np.round(y[ids] * cv.s - oy).astype(np.int64) - ry
        dx = ((j0[:, None] + np.arange(2 * rx + 1) + ox) / cv.s - x[ids, None])[:, None, :]
        dy = ((i0[:, None] + np.arange(2 * ry + 1) + oy) / cv.s - y[ids, None])[:, :, None]
        cs, sn = cos[ids, None, None], sin[ids, None, None]
        u = (dx * cs + dy * sn) / a[ids, None, None]  # (B, Ky, Kx), -1..1 along the stroke
        v = dy * cs - dx * sn  # across, units
        v -= k[ids, None, None] / 2 * (u * a[ids, None, None]) ** 2
        v /= c[ids, None, None]  # -1..1 across
        u2 = u * u
        alpha = np.clip((1 - u2 * u2 - v * v) * (c[ids, None, None] * cv.s / 2) + 0.5, 0, 1)
        qi = np.clip((v + 1) * ((NQ - 1) / 2) + 0.5, 0, NQ - 1).astype(np.intp)
        qi = qi.reshape(len(ids), -1)
        shade = np.take_along_axis(shade_lut[ids], qi, 1).reshape(v.shape)
        bristle = np.take_along_axis(bristle_lut[ids], qi, 1).reshape(v.shape)
        run_out = dry * np.clip(u * 0.5 + 0.5, 0, 1) ** 3  # 0 at the start, `dry` at the end
        alpha *= np.clip((bristle - run_out) * 4 + 0.4, 0, 1) * opacity[ids, None, None]
        for t, s in enumerate(ids):
            win = canvas[
                i0[t] + pad : i0[t] + pad + 2 * ry + 1, j0[t] + pad : j0[t] + pad + 2 * rx + 1
            ]
            if win.shape[:2] != alpha.shape[1:] or min(i0[t], j0[t]) + pad < 0:
                continue  # far off the canvas: nothing of it is visible
            win += alpha[t, :, :, None] * (color[s] * shade[t, :, :, None] - win)
    img[:] = canvas[pad : pad + cv.h, pad : pad + cv.w]


def _bristle_profiles(rng, cos, sin, c, cv):
    """Per stroke, brightness and paint load across its width, sampled at NQ points.

    Stripes are three sines of random frequency; a stripe finer than 2 px would
    alias, so each sine fades out by its period in pixels. The one-sided term is
    impasto: a ridge of paint lit from the top left.
    """
    b = len(c)
    freqs = rng.uniform([7, 17, 35], [11, 26, 50], size=(b, 3)).astype(np.float32)
    phases = rng.uniform(0, 2 * np.pi, size=(b, 3)).astype(np.float32)
    q = np.linspace(-1, 1, NQ, dtype=np.float32)  # across the stroke
    period_px = (2 * np.pi / freqs) * c[:, None] * cv.s
    amp = np.clip(period_px / 2 - 1, 0, 1) * np.float32([0.5, 0.3, 0.2])  # (B, 3)
    stripes = np.einsum("bm,bmq->bq", amp, np.sin(q * freqs[..., None] + phases[..., None]))
    bristle = 0.5 + 0.5 * stripes  # (B, NQ), about 0..1
    facing = ((sin - cos) * np.sqrt(0.5)).astype(np.float32)  # normal (-sin, cos) . light
    shade = 0.86 + 0.24 * bristle - 0.12 * q * facing[:, None]
    return shade.astype(np.float32), bristle.astype(np.float32)


def _dabs(img, cv, rng, x, y, radius, color, elong=1.3, k=8):
    """Round dabs of paint (pointillism): each pixel composites its k nearest dabs in
    paint order. Vectorised over pixels (a KD-tree) instead of looping over dabs."""
    from scipy.spatial import cKDTree  # on use: scipy.spatial takes ~0.3 s to import

    n = len(x)
    ang = rng.uniform(0, np.pi, n)
    cos, sin = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
    px, py = cv.X.ravel(), cv.Y.ravel()
    _, idx = cKDTree(np.stack([x, y], 1)).query(np.stack([px, py], 1), k=k)
    idx = np.sort(idx, axis=1)  # (P, k), earlier dabs first
    out = img.reshape(-1, 3)
    for j in range(k):
        i = idx[:, j]
        dx, dy = px - x[i], py - y[i]
        u = (dx * cos[i] + dy * sin[i]) / elong
        v = dy * cos[i] - dx * sin[i]
        dist = np.sqrt(u * u + v * v) / radius[i]  # 1 on the dab's rim
        alpha = np.clip((1 - dist) * radius[i] * cv.s + 0.5, 0, 1)[:, None]
        shade = (1 - 0.1 * (dx + dy) / radius[i])[:, None]  # lit from the top left
        out += alpha * (color[i] * shade - out)
    img[:] = out.reshape(img.shape)


def _finish(img, cv, rng, weave=0.05, grain=0.05, drift=0.06):
    """Large-scale colour drift, canvas weave and grain; img (H, W, 3) in [0, 1] -> uint8."""
    for ch in range(3):  # each channel drifts on its own: slow warm/cool variation
        img[..., ch] *= 1 + drift * _Fbm(rng, 2, 2).at(cv.X, cv.Y)
    threads = 110.0  # canvas threads per unit length
    warp = 0.15 * _Noise(rng, 40).at(cv.X, cv.Y)
    wx, wy = np.sin(2 * np.pi * (cv.X * threads + warp)), np.sin(2 * np.pi * (cv.Y * threads))
    texture = weave * cv.fade(1 / threads) * (np.abs(wx) * np.abs(wy) - 0.4)
    texture = texture + grain * _Fbm(rng, 64, 3).at(cv.X, cv.Y, cv)
    img *= 1 + texture[..., None]
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _flow_angle(rng):
    """A van Gogh sky: a steady wind plus a few vortices plus turbulence -> angle(x, y)."""
    n = rng.integers(2, 5)
    cx, cy = rng.random(n), rng.random(n) * 0.8
    spin = rng.choice([-1.0, 1.0], n) * rng.uniform(1.5, 3.0, n)
    rad = rng.uniform(0.12, 0.25, n)
    wind = rng.uniform(0, 2 * np.pi)
    turb = [_Fbm(rng, 3, 2), _Fbm(rng, 3, 2)]

    def angle(x, y):
        vx = np.cos(wind) + 1.2 * turb[0].at(x, y)
        vy = np.sin(wind) * 0.3 + 1.2 * turb[1].at(x, y)
        for k in range(n):
            dx, dy = x - cx[k], y - cy[k]
            g = spin[k] * np.exp(-(dx * dx + dy * dy) / rad[k] ** 2) / rad[k]
            vx, vy = vx - g * dy, vy + g * dx
        return np.arctan2(vy, vx)

    return angle


def _bend(angle_fn, x, y, ang, length):
    """Curvature of the flow along a stroke: d(angle)/ds, at most 2 radians over its length."""
    h = length / 2
    a1 = angle_fn(x - h * np.cos(ang), y - h * np.sin(ang))
    a2 = angle_fn(x + h * np.cos(ang), y + h * np.sin(ang))
    turn = np.angle(np.exp(1j * (a2 - a1)))  # wrapped to (-pi, pi]
    return np.clip(turn / length, -2 / length, 2 / length)
