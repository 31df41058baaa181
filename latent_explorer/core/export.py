"""Exports that carry their recipe: PNG grids and strips, GIF and MP4 morphs.

A PNG stores its recipe (model, hash, method, seeds or latents) as JSON in a ``latent-explorer``
text chunk; GIF and MP4 get a sidecar ``FILE.json``. Every file is written atomically, and an animation
and its recipe together (``write_pair``: both or neither). Sizes,
filters, fps, looping and MP4 quality come from an optional ``ExportSettings``
(``export_settings.py``), recorded in the recipe under ``"export"``.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .errors import UserError
from .export_settings import (ExportSettings, animation_bytes, apply_to_frames, check_memory, grid_bytes,
                               gif_frame_ms, recipe_with, resize_image)
from .paths import _UMASK, atomic_write, atomic_write_bytes, atomic_write_text  # noqa: F401 (re-exported)

RECIPE_KEY = "latent-explorer"


def make_grid(images: np.ndarray, cols: int | None = None, pad: int = 2, pad_value: int = 255,
              scale: int = 1, settings: ExportSettings | None = None) -> np.ndarray:
    """uint8 N×H×W×C (or rows×cols×H×W×C) -> one uint8 image with a ``pad``-pixel gutter.
    ``settings`` resizes each tile (the gutter stays ``pad`` pixels)."""
    images = np.asarray(images)
    if images.ndim == 5:
        rows, cols = images.shape[:2]
        images = images.reshape(rows * cols, *images.shape[2:])
    n, h, w, c = images.shape
    check_memory(grid_bytes(n, h, w, c, settings, scale), f"a grid of {n} images",
                 "use fewer images or a smaller --scale")
    if settings is not None and settings.resizes:
        images = np.stack([resize_image(im, settings) for im in images])
    n, h, w, c = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    if scale > 1:
        images = images.repeat(scale, 1).repeat(scale, 2)
        h, w = h * scale, w * scale
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def label_rows(grid: np.ndarray, labels: list[str], rows: int, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """The grid with a column of row labels on its left (e.g. "z4 · KL 2.47"), one per row of
    ``rows`` equal rows, each centred on its row: traversal grids that say which dimension is which."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    width = max((int(probe.textlength(s, font=font)) for s in labels), default=0) + 2 * pad + 4
    h, c = grid.shape[0], grid.shape[2]
    col = Image.new("L", (width, h), pad_value)
    draw = ImageDraw.Draw(col)
    row_h = (h - pad) / max(1, rows)
    ink = 0 if pad_value > 127 else 255
    for r, text in enumerate(labels[:rows]):
        top, bottom = draw.textbbox((0, 0), text, font=font)[1::2]
        y = pad + r * row_h + (row_h - pad - (bottom - top)) / 2 - top
        draw.text((pad + 2, y), text, fill=ink, font=font)
    side = np.asarray(col, np.uint8)[..., None].repeat(c, 2)
    return np.concatenate([side, grid], 1)


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return np.round(v.astype(np.float64), 6).tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v)}")


def recipe_json(recipe: dict) -> str:
    return json.dumps(recipe, default=_jsonable, sort_keys=True)


def save_png(path: str | os.PathLike, image: np.ndarray, recipe: dict | None = None) -> Path:
    path = Path(path)
    info = PngInfo()
    if recipe:
        info.add_text(RECIPE_KEY, recipe_json(recipe))
    buf = io.BytesIO()
    _pil(image).save(buf, format="PNG", pnginfo=info)
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_png_recipe(path: str | os.PathLike) -> dict | None:
    with Image.open(path) as im:
        text = im.text.get(RECIPE_KEY) if hasattr(im, "text") else None
    return json.loads(text) if text else None


def _even(frames: np.ndarray) -> np.ndarray:
    """Frames padded (edge pixels repeated) to even heights and widths, as H.264 needs."""
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frames


def _write_mp4(tmp: str, frames: np.ndarray, fps: int, quality: int) -> None:
    import imageio.v2 as imageio

    with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=quality, macro_block_size=1) as wr:
        for f in frames:
            wr.append_data(f)


#: a write that failed for a reason of the user's (a folder where the file or its recipe goes, no
#: permission, a read-only or full disk, a name too long): one line, exit 2
_USER_ERRNOS = {getattr(errno, n) for n in ("EISDIR", "ENOTDIR", "EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT",
                                             "ENAMETOOLONG", "EEXIST") if hasattr(errno, n)}


def sidecar(path: str | os.PathLike) -> Path:
    """Where an animation's recipe goes: ``FILE.gif.json`` beside ``FILE.gif``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def check_writable_pair(path: str | os.PathLike) -> None:
    """Refuse, before any work, an animation whose file or recipe cannot be written (a folder in its
    place, no permission): one ``UserError``."""
    for p in (Path(path), sidecar(path)):
        if p.is_dir():
            raise UserError(f"{p}: is a folder, so the {'recipe' if p != Path(path) else 'export'} cannot be "
                            "written there; remove it or give another --out")
        if p.exists() and not os.access(p, os.W_OK):
            raise UserError(f"{p}: cannot overwrite it (permission denied)")


def write_pair(path: Path, write_media, recipe_text: str | None, suffix: str = ".tmp") -> None:
    """The export at ``path`` (``write_media(temporary path)`` writes it) and its recipe ``FILE.json``
    appear together or not at all: both go to temporaries beside them first (fsynced), then are put in
    place; on any failure both are removed (and the temporaries). An ``OSError`` of the user's making
    is a ``UserError`` of one line naming the file."""
    path = Path(path)
    pairs = [(path, None)] + ([(sidecar(path), recipe_text)] if recipe_text is not None else [])
    if recipe_text is not None:
        check_writable_pair(path)
    temps, placed = [], []
    try:
        for dst, text in pairs:
            fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=suffix if text is None else ".tmp",
                                       dir=dst.parent)
            os.close(fd)
            temps.append(tmp)
            if text is None:
                write_media(tmp)
            else:
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(text)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)
        for (dst, _), tmp in zip(pairs, temps):
            os.replace(tmp, dst)
            placed.append(dst)
    except BaseException as e:
        for p in [*temps, *placed]:
            with contextlib.suppress(OSError):
                os.unlink(p)
        if isinstance(e, OSError) and e.errno in _USER_ERRNOS:
            where = e.filename if isinstance(e.filename, str) and not Path(e.filename).name.startswith(".") \
                else path
            raise UserError(f"{where}: cannot write the export ({e.strerror or e}); nothing was written") from None
        raise


def save_animation(path: str | os.PathLike, frames: np.ndarray, fps: int | None = None, recipe: dict | None = None,
                   boomerang: bool = False, settings: ExportSettings | None = None) -> Path:
    """Frames N×H×W×C -> .gif, .mp4 or .png (a strip), with the recipe beside it.

    Without ``settings``: ``fps`` (default 12), frames at the decoder's size (an MP4's small
    frames upscaled, nearest, to a longer side of at least 256 and cropped to even sizes),
    quality 8, a looping GIF; ``boomerang`` plays them back too. With ``settings``: its size and
    filter for every frame (an MP4 padded by one edge pixel where a side comes out odd; with
    neither scale nor size the MP4 upscaling above), its fps (``fps`` may be left out, or must
    agree), loop and quality; the recipe gets them under ``"export"`` (a GIF's also
    ``gif_frame_ms``, the delay actually written: see ``gif_frame_ms``).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4", ".png"):
        raise UserError(f"{path}: unsupported output type {suffix or '(none)'}: use .gif, .mp4 or .png")
    if settings is not None and fps is not None and fps != settings.fps:
        raise ValueError(f"fps {fps} and the export settings' fps {settings.fps} disagree")
    fps = settings.fps if settings is not None else (fps or 12)
    frames = np.asarray(frames)
    if boomerang and (settings is None or settings.loop != "ping-pong") and len(frames) > 2:
        frames = np.concatenate([frames, frames[-2:0:-1]])
    check_memory(animation_bytes(len(frames), *frames.shape[1:4], settings), f"{len(frames)} frames",
                 "use fewer --frames or a smaller --out-size / --scale")
    frames = apply_to_frames(frames, settings)
    recipe = recipe_with(recipe, settings, animated=True) if recipe or settings is not None else None
    if suffix == ".png":
        return save_png(path, make_grid(frames, cols=len(frames)), recipe)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    if suffix == ".gif":
        ms = gif_frame_ms(fps)
        if settings is not None:
            recipe["export"]["gif_frame_ms"] = ms
        loop = {} if settings is not None and settings.loop == "once" else {"loop": 0}
        pil = [Image.fromarray(f) for f in frames]
        comment = recipe_json(recipe or {}).encode()[:255] if recipe else b""

        def write_media(tmp: str) -> None:
            pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:], duration=ms, **loop,
                        comment=comment)
        tmp_suffix = ".tmp"
    else:
        if settings is None or not settings.resizes:
            # small frames: upscale (nearest) so that the video is watchable, even sizes for H.264
            h, w = frames.shape[1:3]
            s = max(1, int(np.ceil(256 / max(h, w))))
            frames = frames.repeat(s, 1).repeat(s, 2)
            frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
        quality = settings.quality if settings is not None else 8

        def write_media(tmp: str) -> None:
            _write_mp4(tmp, _even(frames), fps, quality)
        tmp_suffix = ".tmp.mp4"  # (imageio picks the format by the suffix)
    write_pair(path, write_media, json.dumps(recipe, default=_jsonable, indent=2) if recipe else None, tmp_suffix)
    return path


__all__ = ["make_grid", "label_rows", "save_png", "read_png_recipe", "save_animation", "recipe_json", "atomic_write",
           "ExportSettings", "resize_image", "apply_to_frames", "recipe_with", "gif_frame_ms"]
