"""A procedural style zoo: seeded, resolution-free "paintings" with text captions.

Style transfer needs style images. Downloading WikiArt is not an option offline, so
the book paints its own. Every painter works in normalised coordinates: the longer
side of the canvas spans [0, 1], and positions, stroke sizes and noise frequencies
are all given in those units. So the same seed at 256 and 512 pixels is the same
painting at two resolutions, and a non-square canvas is a centre crop of the square one.

    paint("brush", size=256, seed=3, palette="sunset")  ->  Painting(.image, .caption, ...)

A painting is built from four tools, all vectorised with numpy:
  _Noise     smooth value noise on a periodic lattice (textures, colour fields, flow)
  _strokes   a batch of brush strokes: soft-edged, curved, with bristle streaks,
             dry-brush gaps and a one-sided impasto highlight
  _dabs      thousands of small round dabs (pointillism), composited per pixel
  _finish    large-scale colour drift, canvas weave and paper grain
Each painter is a short function that composes them. Resolution-free also means
band-limited: a pattern finer than 2 px at the asked size is faded out, not aliased.
Palettes are ordered dark -> light, so a number t in [0, 1] picks a tone; the random
draws never depend on the palette, so changing it recolours the same composition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

from stylelab.errors import StylelabError

__all__ = ["PAINTERS", "PALETTES", "Painting", "Palette", "paint"]

MIN_SIZE, MAX_SIZE = 16, 4096


@dataclass(frozen=True)
class Palette:
    colors: tuple[str, ...]  # hex colours, ordered dark -> light
    words: str  # how a caption names it

    def rgb(self) -> np.ndarray:
        return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in self.colors]) / 255.0


PALETTES: dict[str, Palette] = {
    "van_gogh_night": Palette(
        ("#0b1633", "#1b3a7a", "#3568b0", "#7fa6d6", "#e6c14a", "#f7e7a6"), "deep blue and gold"
    ),
    "sunset": Palette(
        ("#2a1040", "#731d58", "#c8384f", "#ef8535", "#fcd36b"), "violet, crimson and orange"
    ),
    "ocean": Palette(
        ("#04213a", "#0b5673", "#1f8fa6", "#6cc4c9", "#eef6f2"), "navy, teal and sea-foam white"
    ),
    "autumn": Palette(
        ("#2e1709", "#86290f", "#c8631b", "#e4a72e", "#f3dfa6"), "rust, amber and ochre"
    ),
    "mondrian": Palette(
        ("#121212", "#1c3d96", "#c7201c", "#f1c31f", "#f2efe6"),
        "primary red, blue and yellow with black",
    ),
    "pastel": Palette(
        ("#5f6f9c", "#93bfb8", "#eea9ae", "#f6d5a1", "#fbf6ec"),
        "soft pastel lavender, mint and pink",
    ),
    "ink": Palette(
        ("#0e0e12", "#3a3941", "#7b7772", "#c9c0ae", "#f4eee0"), "black ink on cream paper"
    ),
    "forest": Palette(
        ("#0f240f", "#2c5128", "#4d7a2c", "#93ad55", "#eef3a4"), "deep green, moss and lime"
    ),
    "desert": Palette(
        ("#3e2316", "#93472a", "#cd8447", "#e7c28d", "#f7ecd6"), "terracotta, sienna and sand"
    ),
    "neon": Palette(
        ("#10002b", "#5a0fd8", "#f0147a", "#08d9f5", "#f7f56c"), "electric violet, magenta and cyan"
    ),
}


@dataclass(frozen=True)
class Painting:
    image: Image.Image  # RGB
    caption: str
    name: str
    palette: str
    seed: int

    def tensor(self):
        """(1, 3, H, W) float32 in [0, 1]."""
        import torch  # on use: painting needs only numpy

        arr = torch.from_numpy(np.asarray(self.image, dtype=np.float32) / 255.0)  # (H, W, 3)
        return arr.permute(2, 0, 1).unsqueeze(0).contiguous()


# --- tools ----------------------------------------------------------------------------


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


# --- painters: each (cv, rng, colors) -> (img (H, W, 3) float, caption words) ----------


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


_PAINTERS = {  # name -> (painter, default palette)
    "brush": (_brush, "van_gogh_night"),
    "voronoi": (_voronoi, "autumn"),
    "pointillism": (_pointillism, "sunset"),
    "hatching": (_hatching, "ink"),
    "mondrian": (_mondrian, "mondrian"),
    "watercolour": (_watercolour, "pastel"),
    "rings": (_rings, "neon"),
    "waves": (_waves, "ocean"),
}
PAINTERS = tuple(_PAINTERS)


def paint(name: str, size=256, seed: int = 0, palette: str | None = None) -> Painting:
    """Paint `name` at `size` (int: square, or (H, W)) with `seed`; palette=None: its default."""
    if name not in _PAINTERS:
        raise StylelabError(f"unknown painter {name!r}; choose one of {', '.join(PAINTERS)}")
    fn, default = _PAINTERS[name]
    palette = default if palette is None else palette
    if palette not in PALETTES:
        raise StylelabError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}")
    h, w = (size, size) if np.isscalar(size) else tuple(size)
    if min(h, w) < MIN_SIZE or max(h, w) > MAX_SIZE:
        raise StylelabError(
            f"painting size {h} x {w} is outside {MIN_SIZE}..{MAX_SIZE} pixels per side; "
            f"ask for a size in that range"
        )
    rng = np.random.default_rng(int(seed))
    cv = _Canvas(int(h), int(w))
    img, words = fn(cv, rng, PALETTES[palette].rgb().astype(np.float32))
    pixels = _finish(np.asarray(img, np.float32), cv, rng)
    caption = f"{words}, in {PALETTES[palette].words}"
    return Painting(Image.fromarray(pixels), caption, name, palette, int(seed))
