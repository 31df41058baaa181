"""Robust image loading and fitting images to a model's input.

``load_image`` turns any reasonable image file into uint8 H×W×C: EXIF orientation applied,
CMYK / greyscale / palette / alpha converted (alpha composited on a background colour),
16-bit and float images scaled (not clipped) to 8 bits, decompression bombs refused. Any
file it cannot read raises ``ImageLoadError`` naming the file and the reason.

Thread-safe: the loader never changes process-global state (``Image.MAX_IMAGE_PIXELS``, the
``warnings`` filters; ``warnings.catch_warnings`` is itself process-global). It identifies the
file with Pillow's registered openers and checks the size in the header against its own limit
before anything is decoded, so Pillow's bomb warning never has a reason to fire; a bomb error
or warning that Pillow raises anyway becomes the file's skip reason.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image, ImageOps

from ..errors import Cancelled, ImageLoadError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
# Refuse anything over ~ 89 Mpx (Pillow's own default threshold); a bomb would eat the RAM.
MAX_PIXELS = 89_478_485
#: an image whose covering resize is this many times the target's pixels is cropped before resizing
EXTREME_RATIO = 16
# what a file of any of _PIL_FORMATS starts with (enough bytes for every format's accept test)
_PREFIX_BYTES = 16
_PIL_FORMATS = ["PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF", "PPM"]


def _scale_to_uint8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16 or (a.dtype.kind in "iu" and a.max(initial=0) > 255):
        hi = 65535.0 if a.max(initial=0) > 255 or a.dtype == np.uint16 else 255.0
        return np.clip(np.round(a.astype(np.float64) * (255.0 / hi)), 0, 255).astype(np.uint8)
    if a.dtype.kind == "f":
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        if lo >= 0.0 and hi <= 1.0:
            return np.round(np.nan_to_num(a) * 255).astype(np.uint8)
        span = (hi - lo) or 1.0
        return np.round((np.nan_to_num(a, nan=lo) - lo) * (255.0 / span)).astype(np.uint8)
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    return np.clip(a, 0, 255).astype(np.uint8)


def pil_to_array(img: Image.Image, background=(255, 255, 255)) -> np.ndarray:
    """A PIL image in any mode -> uint8 H×W×3 (RGB), alpha composited on ``background``."""
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img)
        if mode.startswith("I;16"):
            arr = arr.astype(np.uint16)
            arr = _scale_to_uint8(arr)
        elif mode == "I":
            arr = _scale_to_uint8(arr.astype(np.int64)) if arr.max(initial=0) > 255 else \
                np.clip(arr, 0, 255).astype(np.uint8)
        else:
            arr = _scale_to_uint8(arr.astype(np.float32))
        return np.repeat(arr[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        bg = np.asarray(background, np.float32).reshape(1, 1, 3)
        out = rgba[..., :3] * alpha + bg * (1.0 - alpha)
        return np.round(out).astype(np.uint8)
    if mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return np.asarray(img, dtype=np.uint8).copy()


def _open_lazily(f, path: Path) -> Image.Image:
    """Identify ``f`` among _PIL_FORMATS and read its header (nothing decoded yet).

    What ``Image.open`` does, less its decompression-bomb check, which compares against the
    process-global ``Image.MAX_IMAGE_PIXELS`` and warns through the process-global filters;
    ``load_image`` checks the size against its own limit instead.
    """
    Image.init()  # Pillow's one-time plugin registration (idempotent)
    prefix = f.read(_PREFIX_BYTES)
    for fmt in _PIL_FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None:
            continue
        ok = accept(prefix) if accept else True
        if not ok or isinstance(ok, str):  # a string: "looks like it, but unsupported"
            continue
        f.seek(0)
        try:
            return factory(f, str(path))
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue  # not this format after all: try the next, as Image.open does
    raise Image.UnidentifiedImageError(f"cannot identify image file {str(path)!r}")


def load_image(path: str | os.PathLike, background=(255, 255, 255)) -> np.ndarray:
    """Read one image file as uint8 H×W×3, or raise ImageLoadError(path: reason). Thread-safe."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ImageLoadError(f"{path}: cannot read ({e.strerror or e})") from None
    if path.is_dir():
        raise ImageLoadError(f"{path}: is a folder, not an image")
    if size == 0:
        raise ImageLoadError(f"{path}: empty file (0 bytes)")
    try:
        with open(path, "rb") as f, _open_lazily(f, path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageLoadError(f"{path}: refused, {img.width}×{img.height} pixels is a decompression bomb")
            img.load()
            return pil_to_array(img, background)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(f"{path}: refused, too many pixels (decompression bomb)") from None
    except Image.UnidentifiedImageError:
        raise ImageLoadError(f"{path}: not an image (unrecognised format)") from None
    except OSError as e:
        msg = str(e) or type(e).__name__
        if "truncated" in msg.lower():
            msg = "truncated file"
        raise ImageLoadError(f"{path}: damaged image ({msg})") from None
    except (ValueError, SyntaxError, MemoryError, EOFError, struct.error) as e:
        raise ImageLoadError(f"{path}: damaged image ({e or type(e).__name__})") from None


def fit_array(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (keeping aspect, covering) and centre-crop one uint8 H×W×C image to size (H, W)."""
    h, w = img.shape[:2]
    th, tw = size
    if (h, w) == (th, tw):
        return img
    scale = max(th / h, tw / w)
    nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
    squeeze = img.shape[2] == 1
    pil = Image.fromarray(img[..., 0] if squeeze else img)
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    if nh * nw > EXTREME_RATIO * th * tw:
        # an extreme shape (a 1×50000 strip): resizing it whole would make a picture of billions of
        # pixels to crop a few from; resize only the centre part that is kept (same box, same filter)
        bw, bh = tw / scale, th / scale
        box = ((w - bw) / 2, (h - bh) / 2, (w + bw) / 2, (h + bh) / 2)
        out = np.asarray(pil.resize((tw, th), resample, box=box))
        return out[..., None] if squeeze else out
    pil = pil.resize((nw, nh), resample)
    top, left = (nh - th) // 2, (nw - tw) // 2
    pil = pil.crop((left, top, left + tw, top + th))
    out = np.asarray(pil)
    return out[..., None] if squeeze else out


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Match the channel count: RGB -> grey by luminance (ITU-R 601), grey -> RGB by repeat."""
    c = images.shape[-1]
    if c == channels:
        return images
    if channels == 1:
        rgb = images[..., :3].astype(np.float32)
        grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.round(grey).clip(0, 255).astype(np.uint8)[..., None]
    if c == 1:
        return np.repeat(images, channels, axis=-1)
    return images[..., :channels]


def fit_to_size(images: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """A batch N×H×W×C -> N×size×channels, uint8."""
    if images.shape[1:3] != tuple(size):
        images = np.stack([fit_array(im, size) for im in images]) if len(images) else \
            np.zeros((0, *size, images.shape[-1]), np.uint8)
    return to_channels(images, channels)


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def iter_image_files(folder: str | os.PathLike, should_stop: Callable[[], bool] | None = None) -> Iterator[Path]:
    """Image files under ``folder`` (recursively, sorted per folder), yielded lazily."""
    folder = Path(folder)
    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            if should_stop and should_stop():
                raise Cancelled()
            if e.name.startswith("."):
                continue
            if e.is_dir(follow_symlinks=False):
                subdirs.append(Path(e.path))
            elif is_image_name(e.name):
                yield Path(e.path)
        stack.extend(reversed(subdirs))


@dataclass
class FolderImages:
    """What a folder import produced: the images, their paths, and every skipped file."""

    images: np.ndarray
    paths: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def load_folder(folder: str | os.PathLike, size: tuple[int, int], channels: int = 3,
                progress: Callable[[int, int | None], None] | None = None,
                should_stop: Callable[[], bool] | None = None, limit: int | None = None,
                background=(255, 255, 255)) -> FolderImages:
    """Load every image under ``folder`` fitted to ``size``; bad files are skipped and reported."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageLoadError(f"{folder}: no such folder")
    files = list(iter_image_files(folder, should_stop))
    if limit:
        files = files[:limit]
    return load_files(files, size, channels, progress, should_stop, background)


def load_files(files, size: tuple[int, int], channels: int = 3,
               progress: Callable[[int, int | None], None] | None = None,
               should_stop: Callable[[], bool] | None = None, background=(255, 255, 255)) -> FolderImages:
    """Load a list of image files fitted to ``size``; a file whose name is not an image type,
    and every file the robust loader refuses, is skipped with its reason."""
    files = [Path(f) for f in files]
    out = np.zeros((len(files), *size, channels), np.uint8)
    paths: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    n = 0
    for i, f in enumerate(files):
        if should_stop and should_stop():
            raise Cancelled()
        if not is_image_name(f):
            skipped.append((f, "not an image file type"))
        else:
            try:
                out[n] = to_channels(fit_array(load_image(f, background), size)[None], channels)[0]
                paths.append(f)
                n += 1
            except ImageLoadError as e:
                skipped.append((f, str(e).split(": ", 1)[-1]))
        if progress:
            progress(i + 1, len(files))
    return FolderImages(out[:n], paths, skipped)
