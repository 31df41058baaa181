"""How an export looks and moves: its size, resampling filter and, for animations, fps, easing,
looping, frame count and MP4 quality. No Qt: the CLI and the app's export jobs share it.

Size: ``scale`` K makes each image (the preview, a grid's tile, an animation's frame) K times
larger; ``size`` N makes each image's longer side N pixels, the other side in proportion
(rounded). Give one or neither (neither: the decoder's own size). ``filter`` "nearest" keeps
pixels as sharp blocks (pixel art: an integer scale gives exact K×K blocks), "lanczos"
resamples smoothly (Pillow's LANCZOS).

GIF timing: a GIF stores each frame's delay in hundredths of a second (Pillow truncates the
milliseconds it is given to 10 ms units). ``gif_frame_ms`` rounds 1000/fps half up to a
multiple of 10 ms, at least 20 ms (browsers slow shorter delays down to 100 ms), and passes
that, so every frame gets the same delay: fps 25 → 40 ms exactly, 12 → 80 ms (12.5 fps),
30 → 30 ms (33.3 fps), 60 → 20 ms (50 fps). The recipe records the delay written.

Looping: "loop" and "ping-pong" loop forever (GIF NETSCAPE loop count 0); "ping-pong" also plays
the frames back (``apply_to_frames``: n frames become 2n − 2, the ends not doubled); "once"
writes no NETSCAPE block, so a GIF plays once (a loop count of 1 would mean "repeat once",
i.e. twice, in browsers). An MP4 has no loop flag: players decide.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from .latent.interpolate import EASES

FILTERS = ("nearest", "lanczos")
LOOPS = ("loop", "ping-pong", "once")
SCALE_RANGE = (1, 16)
SIZE_RANGE = (16, 4096)
FPS_RANGE = (1, 60)
FRAMES_RANGE = (2, 2000)
QUALITY_RANGE = (1, 10)
IMAGE_FIELDS = ("scale", "size", "filter")


def _whole_in(name: str, v, lo: int, hi: int, optional: bool = True) -> None:
    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError(f"export {name} {v!r}: use a whole number from {lo} to {hi}")


def _one_of(name: str, v, allowed: tuple) -> None:
    if v not in allowed:
        raise ValueError(f"export {name} {v!r}: use {', '.join(allowed)}")


@dataclass(frozen=True)
class ExportSettings:
    """Size and motion of one export; the defaults are what exports did before these settings."""

    scale: int | None = None     # 1..16: each image K times larger; or
    size: int | None = None      # 16..4096: each image's longer side in pixels
    filter: str = "nearest"      # "nearest" (pixel art) or "lanczos" (smooth)
    fps: int = 12                # 1..60, animations
    ease: str = "linear"         # "linear" or "ease-in-out" (smoothstep per morph segment)
    loop: str = "loop"           # "loop", "ping-pong" or "once"
    frames: int | None = None    # 2..2000 morph frames before ping-pong; None: as the caller made them
    quality: int = 8             # 1..10, MP4 (imageio-ffmpeg's quality; 10 is best)

    def __post_init__(self):
        _whole_in("scale", self.scale, *SCALE_RANGE)
        _whole_in("size", self.size, *SIZE_RANGE)
        if self.scale is not None and self.size is not None:
            raise ValueError("export scale and size are alternatives: give one")
        _one_of("filter", self.filter, FILTERS)
        _whole_in("fps", self.fps, *FPS_RANGE, optional=False)
        _one_of("ease", self.ease, EASES)
        _one_of("loop", self.loop, LOOPS)
        _whole_in("frames", self.frames, *FRAMES_RANGE)
        _whole_in("quality", self.quality, *QUALITY_RANGE, optional=False)

    @property
    def resizes(self) -> bool:
        """Whether images leave at another size than the decoder's."""
        return (self.scale or 1) != 1 or self.size is not None

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """(height, width) of an h×w image once exported."""
        if self.size is not None:
            f = self.size / max(h, w)
            return ((self.size, max(1, round(w * f))) if h >= w else (max(1, round(h * f)), self.size))
        k = self.scale or 1
        return h * k, w * k

    def recipe(self, animated: bool = False) -> dict:
        """The settings for a recipe: size and filter, plus the motion fields for an animation."""
        d = asdict(self)
        return d if animated else {k: d[k] for k in IMAGE_FIELDS}

    @classmethod
    def from_recipe(cls, d: dict | None) -> ExportSettings:
        """Settings back from ``recipe()`` (unknown keys, such as ``gif_frame_ms``, ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})


def gif_frame_ms(fps: int) -> int:
    """The delay a GIF frame gets at ``fps``: 1000/fps ms rounded half up to 10 ms units, ≥ 20 ms."""
    return 10 * max(2, int(100 / fps + 0.5))


def recipe_with(recipe: dict | None, settings: ExportSettings | None, animated: bool = False) -> dict:
    """A copy of ``recipe`` with the settings under ``"export"`` (unchanged when settings is None)."""
    out = dict(recipe or {})
    if settings is not None:
        out["export"] = settings.recipe(animated)
    return out


def resize_image(img: np.ndarray, settings: ExportSettings | None) -> np.ndarray:
    """uint8 H×W×C -> uint8 H'×W'×C at the settings' size and filter; grey stays one channel.
    Nearest at a whole scale repeats pixels (exact blocks); everything else goes through Pillow."""
    img = np.asarray(img)
    if settings is None or not settings.resizes:
        return img
    if img.ndim != 3:
        raise ValueError(f"resize_image wants H×W×C, got shape {img.shape}")
    h, w, c = img.shape
    oh, ow = settings.output_size(h, w)
    if (oh, ow) == (h, w):
        return img
    if settings.filter == "nearest" and oh % h == 0 and ow % w == 0 and oh // h == ow // w:
        k = oh // h
        return np.ascontiguousarray(img.repeat(k, 0).repeat(k, 1))
    from PIL import Image

    resample = Image.Resampling.NEAREST if settings.filter == "nearest" else Image.Resampling.LANCZOS
    pil = Image.fromarray(img[..., 0] if c == 1 else img)
    out = np.asarray(pil.resize((ow, oh), resample=resample), np.uint8)
    return out[..., None] if c == 1 else out


#: the most memory an export's pixels may take (every value of a job can be in range and the whole
#: still not fit: 2,000 frames of 4096 px are 100 GB); a module constant, so tests can lower it
MEMORY_BUDGET = 2 << 30


def _gb(n: float) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MB"


def check_memory(nbytes: float, what: str, hint: str) -> None:
    """Refuse a job whose estimated memory is over ``MEMORY_BUDGET`` before anything is allocated:
    a ``UserError`` of one line saying how much it would take and what to change."""
    from .errors import UserError

    if nbytes > MEMORY_BUDGET:
        raise UserError(f"{what} would need about {_gb(nbytes)} of memory, more than the {_gb(MEMORY_BUDGET)} an "
                        f"export may take: {hint}")


def animation_bytes(n: int, h: int, w: int, c: int, settings: ExportSettings | None) -> int:
    """About the memory an animation of ``n`` decoded h×w×c frames takes on its way to the file: the
    decoded frames, the resized ones (ping-pong: nearly twice as many), in RGB, and the writer's copy."""
    oh, ow = settings.output_size(h, w) if settings is not None else (max(h, 256), max(w, 256))
    shown = 2 * n - 2 if settings is not None and settings.loop == "ping-pong" and n > 2 else n
    return n * h * w * c + 2 * shown * oh * ow * 3


def grid_bytes(n: int, h: int, w: int, c: int, settings: ExportSettings | None, scale: int = 1) -> int:
    """About the memory of a grid of ``n`` h×w×c tiles: the tiles, resized, and the grid itself."""
    oh, ow = settings.output_size(h, w) if settings is not None else (h, w)
    return n * h * w * c + 2 * n * (oh * scale + 2) * (ow * scale + 2) * c


def apply_to_frames(frames: np.ndarray, settings: ExportSettings | None) -> np.ndarray:
    """Frames N×H×W×C resized one by one; "ping-pong" appends the interior frames reversed
    (n -> 2n − 2 frames, so a looping player never shows an end twice). None: unchanged."""
    frames = np.asarray(frames)
    if settings is None:
        return frames
    if settings.resizes:
        frames = np.stack([resize_image(f, settings) for f in frames])
    if settings.loop == "ping-pong" and len(frames) > 2:
        frames = np.concatenate([frames, frames[-2:0:-1]])
    return frames


__all__ = ["MEMORY_BUDGET", "animation_bytes", "check_memory", "grid_bytes", "ExportSettings", "FILTERS", "EASES", "LOOPS", "SCALE_RANGE", "SIZE_RANGE", "FPS_RANGE", "FRAMES_RANGE",
           "QUALITY_RANGE", "gif_frame_ms", "recipe_with", "resize_image", "apply_to_frames"]
