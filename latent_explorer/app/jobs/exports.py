"""Export jobs: files the user asked for (the preview, morphs, traversal, sample and direction
grids), each written atomically with its recipe. They run on the worker's export queue: every
one runs and reports. No Qt.

Each takes an optional ``settings: ExportSettings`` (``core/export_settings.py``): None writes
what these jobs always wrote; otherwise images leave at its size and filter, animations with its
fps, loop and quality, and the recipe records it under ``"export"``.
"""
from __future__ import annotations

import numpy as np

from ...core.export_settings import ExportSettings
from .common import with_model_hash
from .decode import traversal
from .tiers import all_cores, final, interruptible


def save_preview(ctx, path: str, image: np.ndarray, recipe: dict, settings: ExportSettings | None = None) -> str:
    """Write ``image`` as a PNG carrying its recipe (a worker task), resized by ``settings``."""
    from ...core.export import recipe_with, resize_image, save_png

    save_png(path, resize_image(image, settings), recipe_with(with_model_hash(ctx.model, recipe), settings))
    return path


def save_final_preview(ctx, path: str, z: np.ndarray, recipe: dict, settings: ExportSettings | None = None) -> str:
    """Save the *full* decode of ``z`` (the screen may still show the approximate one)."""
    img = final(ctx, z).image
    return save_preview(ctx, path, img, recipe, settings)


def _remade_frames(ctx, keyframes, method: str, settings: ExportSettings) -> np.ndarray:
    """The morph again along ``path_latents`` with the settings' frame count and easing, decoded
    frame by frame (cancellable, with progress), as the preview decodes."""
    from ...core.latent import path_latents

    keys = np.asarray(keyframes, np.float32)
    n = settings.frames if settings.frames is not None else 16
    try:
        zs = path_latents(keys, n, method, settings.ease)
    except ValueError as e:
        from ...core.errors import UserError

        raise UserError(str(e)) from None
    out = []
    with interruptible(ctx), all_cores(ctx):
        for i, z in enumerate(zs):
            ctx.checkpoint()
            out.append(ctx.model.decode(z[None]))
            ctx.progress(i + 1, len(zs), f"decoding morph frames {i + 1} / {len(zs)}")
    return np.concatenate(out)


def export_morph(ctx, path: str, frames: np.ndarray, fps: int | None, recipe: dict,
                 settings: ExportSettings | None = None, keyframes: np.ndarray | None = None,
                 method: str | None = None) -> str:
    """A GIF, MP4 or PNG strip of the morph ``frames``.

    With ``settings`` its fps wins (``fps`` may be None); where it asks for another frame count
    or an ease other than linear, the morph is made again from ``keyframes`` (default: the
    recipe's ``keyframes``) by ``method`` (default: the recipe's, else slerp) and decoded.
    """
    from ...core.errors import UserError
    from ...core.export import save_animation

    recipe = with_model_hash(ctx.model, recipe)
    if settings is not None:
        keys = keyframes if keyframes is not None else recipe.get("keyframes")
        given = recipe.get("keyframes")
        other_path = keyframes is not None and (given is None or np.shape(keyframes) != np.shape(given)
                                                or not np.array_equal(keyframes, given))
        remake = other_path or settings.ease != "linear" or (settings.frames is not None and settings.frames != len(frames))
        if remake:
            if keys is None or len(keys) < 2:
                raise UserError("this morph has no keyframes to make it again with another ease or frame count")
            method = method or recipe.get("method") or "slerp"
            frames = _remade_frames(ctx, keys, method, settings)
            recipe.update(frames=len(frames), method=method, keyframes=np.asarray(keys, np.float32))
        fps = None
    save_animation(path, frames, fps=fps, recipe=recipe, settings=settings)
    return path


def export_traversal_grid(ctx, path: str, z: np.ndarray, dims: list[int], steps: int, value_range: float,
                          recipe: dict, labels: list[str] | None = None,
                          settings: ExportSettings | None = None) -> str:
    """A PNG grid: one row per dimension in ``dims`` swept over [−range, +range] around ``z``;
    ``settings`` resizes each tile (gutters and labels stay sharp)."""
    from ...core.export import label_rows, make_grid, recipe_with, save_png

    grid = traversal(ctx, z, steps=steps, value_range=value_range, dims=dims)
    ctx.checkpoint()
    recipe = with_model_hash(ctx.model, dict(recipe, kind="traversal", latent=np.asarray(z, np.float32),
                                             dims=list(dims), steps=steps, range=value_range))
    image = make_grid(grid, pad=2, settings=settings)
    if labels:  # which dimension each row sweeps, and how much it carries
        image = label_rows(image, labels, len(dims), pad=2)
    save_png(path, image, recipe_with(recipe, settings))
    return path


def export_sample_grid(ctx, path: str, n: int, seed: int, temperature: float, recipe: dict,
                       settings: ExportSettings | None = None) -> str:
    """A PNG grid of ``n`` decoded prior samples z ~ N(0, T²·I) drawn with ``seed``; ``settings``
    resizes each tile."""
    from ...core.export import make_grid, recipe_with, save_png

    z = ctx.model.sample_prior(n, seed=seed, temperature=temperature)
    imgs = ctx.model.decode(z)
    recipe = with_model_hash(ctx.model, dict(recipe, kind="samples", n=n, seed=seed, temperature=temperature))
    save_png(path, make_grid(imgs, pad=2, settings=settings), recipe_with(recipe, settings))
    return path
