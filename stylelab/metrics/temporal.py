"""Temporal stability with exact motion: a synthetic video and the warping error of a method.

StyA2K (§4.5) stylizes each frame of a video on its own and measures how much consecutive
stylized frames disagree once the motion between them is undone, with optical flow
*estimated* from the content. Here the video is made from one photo by a known pan and zoom,
so the motion is exact and the number measures the method, not the flow estimator:

    photo --synthetic_video--> Video (T, 3, H, W) + exact affine maps
          --stylize_video----> stylized (T, 3, H, W)
          --warping_error----> mean masked MSE between stylized[t+1] and stylized[t] warped

Coordinates follow `torch.nn.functional.affine_grid` with align_corners=False: a frame's
normalised coordinates run from -1 to 1 across its outer pixel edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from stylelab.core.errors import StylelabError
from stylelab.core.images import to_pil

__all__ = [
    "Video",
    "side_by_side",
    "stylize_video",
    "synthetic_video",
    "warp_to_next",
    "warping_error",
    "write_gif",
]


@dataclass
class Video:
    """Frames of one photo seen through a moving crop window, and the window's exact maps.

    frames: (T, 3, H, W) float in [0, 1].
    thetas: (T, 2, 3) float64; thetas[t] maps frame t's normalised coordinates (x, y, 1) to
        the source photo's normalised coordinates (what affine_grid takes).
    """

    frames: torch.Tensor  # (T, 3, H, W)
    thetas: torch.Tensor  # (T, 2, 3)

    def __len__(self) -> int:
        return self.frames.shape[0]

    def motion(self, t: int) -> torch.Tensor:
        """(2, 3) affine map from frame t+1's normalised coordinates to frame t's."""
        if not 0 <= t < len(self) - 1:
            raise StylelabError(f"t={t} has no next frame; use 0 <= t < {len(self) - 1}")
        src_t, src_next = _square(self.thetas[t]), _square(self.thetas[t + 1])  # (3, 3)
        return (torch.linalg.inv(src_t) @ src_next)[:2]

    def flow(self, t: int) -> torch.Tensor:
        """(1, H, W, 2) sampling grid: where each pixel of frame t+1 comes from in frame t."""
        h, w = self.frames.shape[-2:]
        return F.affine_grid(self.motion(t)[None], [1, 1, h, w], align_corners=False)


def _square(theta: torch.Tensor) -> torch.Tensor:
    """(2, 3) affine -> (3, 3) homogeneous matrix."""
    bottom = torch.tensor([[0.0, 0.0, 1.0]], dtype=theta.dtype)
    return torch.cat([theta, bottom])


# --- the synthetic video ------------------------------------------------------------------


def _extent(n: int, frames: int, step: float, zoom: float) -> tuple[float, float]:
    """Lowest start and highest end of every window along one axis, relative to window 0's
    start, for a frame n pixels long (window t: n / zoom**t source pixels, centre moved by
    t * step)."""
    lows, highs = [], []
    for t in range(frames):
        centre, half = n / 2 + t * step, n / zoom**t / 2
        lows.append(centre - half)
        highs.append(centre + half)
    return min(lows), max(highs)


def _largest_fit(source: int, frames: int, step: float, zoom: float) -> int:
    """The longest frame side whose whole trajectory fits in `source` pixels (0 if none)."""
    lo, hi = 0, source  # binary search: the span grows with n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        low, high = _extent(mid, frames, step, zoom)
        lo, hi = (mid, hi) if high - low <= source else (lo, mid - 1)
    return lo


def _origin(source: int, n: int, frames: int, step: float, zoom: float, axis: str) -> float:
    """Where window 0 starts in the source: the trajectory centred, on a whole pixel if it can."""
    low, high = _extent(n, frames, step, zoom)
    if high - low > source:
        raise StylelabError(
            f"the crop window leaves the source along {axis}: {frames} frames of shift {step:g} "
            f"px and zoom {zoom:g} with a {n}-px frame span {high - low:.1f} px, but the source "
            f"is {source} px; use a smaller shift, fewer frames, a zoom nearer 1 or a smaller size"
        )
    first, last = math.ceil(-low), math.floor(source - high)  # whole-pixel origins that fit
    middle = (source - high - low) / 2
    return float(min(max(round(middle), first), last)) if first <= last else middle


def _theta(origin, centre_shift, n, source, scale) -> tuple[float, float]:
    """(scale, offset) along one axis: frame normalised x -> source normalised X."""
    centre = origin + n / 2 + centre_shift  # in source pixels
    return n * scale / source, 2 * centre / source - 1


def _check_video_args(image, frames, shift, zoom) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.dim() not in (3, 4) or image.shape[-3] != 3:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise StylelabError(f"image must be a (1, 3, H, W) or (3, H, W) tensor, got {got}")
    if image.dim() == 4 and image.shape[0] != 1:
        raise StylelabError(f"image must hold one picture, got a batch of {image.shape[0]}")
    if not isinstance(frames, int) or frames < 2:
        raise StylelabError(f"a video needs frames >= 2 to have motion, got {frames!r}")
    if not (isinstance(zoom, (int, float)) and math.isfinite(zoom) and zoom > 0):
        raise StylelabError(f"zoom must be a finite number > 0 (1 = no zoom), got {zoom!r}")
    try:
        dx, dy = (float(s) for s in shift)
    except (TypeError, ValueError):
        dx = dy = math.nan
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise StylelabError(f"shift must be two finite numbers (dx, dy) in pixels, got {shift!r}")
    return image.reshape(1, 3, *image.shape[-2:]).float()


def _frame_size(size, source_hw, frames, shift, zoom) -> tuple[int, int]:
    if size is None:
        h, w = (_largest_fit(n, frames, s, zoom) for n, s in zip(source_hw, shift[::-1]))
    else:
        h, w = (size, size) if isinstance(size, int) else tuple(size)
    if not all(isinstance(n, int) and n >= 1 for n in (h, w)):
        raise StylelabError(
            f"frame size must be whole pixels >= 1, got {size!r}; the motion may be too large "
            f"for a {source_hw[0]} x {source_hw[1]} source: use a smaller shift or fewer frames"
        )
    return h, w


def synthetic_video(image, frames=30, shift=(1.5, 1.0), zoom=1.01, size=None) -> Video:
    """A photo panned and zoomed: frame t is the crop window t resampled to (H, W).

    image: (1, 3, Hs, Ws) or (3, Hs, Ws) in [0, 1]. Window 0 has the frame's size in source
    pixels (frame 0 is a plain crop when it lands on whole pixels); window t's centre moves by
    t * shift = (dx, dy) source pixels and its side shrinks by zoom**t (zoom > 1 zooms in).
    size: (H, W), an int for a square, or None for the largest frame whose trajectory fits.
    The trajectory is centred in the source; a window that would leave it is an error.
    Frames are sampled bilinearly (align_corners=False, border padding for the half pixel
    at the source's edge).
    """
    image = _check_video_args(image, frames, shift, zoom)
    hs, ws = image.shape[-2:]
    dx, dy = float(shift[0]), float(shift[1])
    h, w = _frame_size(size, (hs, ws), frames, (dx, dy), zoom)
    ox = _origin(ws, w, frames, dx, zoom, "x (width)")
    oy = _origin(hs, h, frames, dy, zoom, "y (height)")
    thetas = torch.zeros(frames, 2, 3, dtype=torch.float64)  # (T, 2, 3)
    for t in range(frames):
        thetas[t, 0, 0], thetas[t, 0, 2] = _theta(ox, t * dx, w, ws, zoom**-t)
        thetas[t, 1, 1], thetas[t, 1, 2] = _theta(oy, t * dy, h, hs, zoom**-t)
    grid = F.affine_grid(thetas, [frames, 3, h, w], align_corners=False)  # (T, H, W, 2)
    source = image.double().expand(frames, -1, -1, -1)  # (T, 3, Hs, Ws)
    out = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return Video(frames=out.float().clamp(0, 1), thetas=thetas)


# --- warping and its error ----------------------------------------------------------------


def warp_to_next(frame_t: torch.Tensor, video: Video, t: int):
    """Frame t (1, 3, H, W) resampled onto frame t+1's pixel grid with the exact motion.

    Returns (warped (1, 3, H, W), mask (1, 1, H, W) bool). The mask is True where the source
    point lies within frame t's pixel centres, so bilinear interpolation reads only real
    pixels: the strip that enters the view (and the half pixel at the edge) is False.
    """
    h, w = video.frames.shape[-2:]
    if frame_t.dim() == 3:
        frame_t = frame_t[None]
    if tuple(frame_t.shape) != (1, 3, h, w):
        raise StylelabError(
            f"frame_t must be (1, 3, {h}, {w}) like the video's frames, got {tuple(frame_t.shape)}"
        )
    grid = video.flow(t)  # (1, H, W, 2), float64
    warped = F.grid_sample(
        frame_t.double(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    inner = torch.tensor([1 - 1 / w, 1 - 1 / h], dtype=grid.dtype)  # outermost pixel centres
    mask = (grid.abs() <= inner + 1e-9).all(dim=-1)[:, None]  # (1, 1, H, W)
    return warped.to(frame_t.dtype), mask


def _pair_errors(frames: torch.Tensor, video: Video) -> list[float]:
    """Masked MSE of frames[t+1] against frames[t] warped, for t = 0 .. T-2."""
    errors = []
    for t in range(len(video) - 1):
        warped, mask = warp_to_next(frames[t : t + 1], video, t)  # (1, 3, H, W), (1, 1, H, W)
        diff = (frames[t + 1 : t + 2].double() - warped.double()) ** 2 * mask
        errors.append(float(diff.sum() / (3 * mask.sum()).clamp(min=1)))
    return errors


def warping_error(stylized: torch.Tensor, video: Video) -> dict:
    """Temporal (in)stability of stylized frames of `video`, with the video's exact motion.

    stylized: (T, 3, H, W), S_t = stylized[t]. With W_t the warp from frame t to frame t+1
    (`warp_to_next`) and M_t its mask (1, 1, H, W):

        E_t = sum_{c,i,j} M_t[i,j] (S_{t+1}[c,i,j] - W_t(S_t)[c,i,j])^2 / (3 sum_{i,j} M_t[i,j])
        warping_error = (1 / (T-1)) sum_{t=0}^{T-2} E_t

    "content_warping_error" is the same on the unstylized frames: what resampling alone costs
    (0 for a whole-pixel pan), the floor a per-frame method cannot beat on this video.
    Returns {"warping_error", "per_pair" (T-1 floats), "pairs", "content_warping_error"}.
    """
    expected = tuple(video.frames.shape)
    if not isinstance(stylized, torch.Tensor) or tuple(stylized.shape) != expected:
        got = tuple(stylized.shape) if isinstance(stylized, torch.Tensor) else type(stylized)
        raise StylelabError(f"stylized frames must be {expected} like the video's, got {got}")
    per_pair = _pair_errors(stylized.detach().cpu(), video)
    content = _pair_errors(video.frames, video)
    return {
        "warping_error": sum(per_pair) / len(per_pair),
        "per_pair": per_pair,
        "pairs": len(per_pair),
        "content_warping_error": sum(content) / len(content),
    }


# --- stylizing and showing ----------------------------------------------------------------


def stylize_video(stylize, video: Video, style, progress: bool = True) -> torch.Tensor:
    """stylize(frame (1, 3, H, W), style) -> (1, 3, H, W) on every frame on its own.

    Returns (T, 3, H, W) on the CPU, float32. Runs under torch.inference_mode.
    """
    from tqdm.auto import tqdm

    shape = (1, *video.frames.shape[1:])
    out = []
    with torch.inference_mode():
        for t in tqdm(range(len(video)), desc="frames", disable=not progress):
            y = stylize(video.frames[t : t + 1], style)
            if not isinstance(y, torch.Tensor) or tuple(y.shape) != shape:
                got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
                raise StylelabError(f"stylize must return a {shape} tensor per frame, got {got}")
            out.append(y.detach().float().cpu())
    return torch.cat(out)  # (T, 3, H, W)


def _as_frames(video) -> torch.Tensor:
    frames = video.frames if isinstance(video, Video) else video
    if not isinstance(frames, torch.Tensor) or frames.dim() != 4 or frames.shape[1] != 3:
        got = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise StylelabError(f"frames must be a (T, 3, H, W) tensor or a Video, got {got}")
    return frames


def side_by_side(*videos) -> torch.Tensor:
    """Videos (T, 3, H, W_i) or Video objects, side by side -> (T, 3, H, sum W_i)."""
    if not videos:
        raise StylelabError("side_by_side needs at least one video")
    frames = [_as_frames(v).detach().float().cpu() for v in videos]
    if len({f.shape[0] for f in frames}) > 1 or len({f.shape[2] for f in frames}) > 1:
        shapes = [tuple(f.shape) for f in frames]
        raise StylelabError(f"videos side by side need the same T and H, got {shapes}")
    return torch.cat(frames, dim=3)


def write_gif(frames, path, fps: float = 10, force: bool = False) -> Path:
    """Frames (T, 3, H, W) in [0, 1] (or a Video) -> an animated GIF looping forever.

    Refuses to overwrite an existing file unless force=True. Each frame gets its own
    256-colour palette (PIL); identical consecutive frames may be merged by PIL.
    """
    frames, path = _as_frames(frames), Path(path)
    if path.suffix.lower() != ".gif":
        raise StylelabError(f"write_gif writes GIF files; give a path ending in .gif, not {path}")
    if not (math.isfinite(fps) and fps > 0):
        raise StylelabError(f"fps must be a number > 0, got {fps!r}")
    if path.exists() and not force:
        raise StylelabError(f"{path} already exists; pass --force (force=True) to overwrite it")
    images = [to_pil(f) for f in frames]  # (3, H, W) -> PIL RGB
    path.parent.mkdir(parents=True, exist_ok=True)
    duration = max(1, round(1000 / fps))  # ms per frame
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)
    return path
