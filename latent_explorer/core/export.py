"""Exports that carry their recipe: PNG grids and strips, GIF and MP4 morphs.

A PNG stores its recipe (model, hash, method, seeds or latents) as JSON in a ``latent-explorer``
text chunk; GIF and MP4 get a sidecar ``FILE.json``. Every file is written atomically.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .errors import UserError
from .paths import atomic_write, atomic_write_bytes, atomic_write_text

RECIPE_KEY = "latent-explorer"


def make_grid(images: np.ndarray, cols: int | None = None, pad: int = 2, pad_value: int = 255,
              scale: int = 1) -> np.ndarray:
    """uint8 N×H×W×C (or rows×cols×H×W×C) -> one uint8 image with a ``pad``-pixel gutter."""
    images = np.asarray(images)
    if images.ndim == 5:
        rows, cols = images.shape[:2]
        images = images.reshape(rows * cols, *images.shape[2:])
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


def save_animation(path: str | os.PathLike, frames: np.ndarray, fps: int = 12, recipe: dict | None = None,
                   boomerang: bool = False) -> Path:
    """Frames N×H×W×C -> .gif, .mp4 or .png (a strip), with the recipe beside it."""
    path = Path(path)
    frames = np.asarray(frames)
    if boomerang and len(frames) > 2:
        frames = np.concatenate([frames, frames[-2:0:-1]])
    suffix = path.suffix.lower()
    if suffix == ".png":
        return save_png(path, make_grid(frames, cols=len(frames)), recipe)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    if suffix == ".gif":
        pil = [Image.fromarray(f) for f in frames]
        buf = io.BytesIO()
        pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=int(1000 / fps),
                    loop=0, comment=recipe_json(recipe or {}).encode()[:255] if recipe else b"")
        atomic_write_bytes(path, buf.getvalue())
    elif suffix == ".mp4":
        import imageio.v2 as imageio

        # H.264 wants even sizes: upscale small frames (nearest) so the video is watchable
        h, w = frames.shape[1:3]
        s = max(1, int(np.ceil(256 / max(h, w))))
        big = frames.repeat(s, 1).repeat(s, 2)
        big = big[:, : big.shape[1] // 2 * 2, : big.shape[2] // 2 * 2]
        fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=path.parent if path.parent.exists() else None)
        os.close(fd)
        try:
            with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=8, macro_block_size=1) as wr:
                for f in big:
                    wr.append_data(f)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        raise UserError(f"{path}: unsupported output type {suffix or '(none)'}: use .gif, .mp4 or .png")
    if recipe:
        atomic_write_text(path.with_name(path.name + ".json"), json.dumps(recipe, default=_jsonable, indent=2))
    return path


__all__ = ["make_grid", "label_rows", "save_png", "read_png_recipe", "save_animation", "recipe_json", "atomic_write"]
