"""Export jobs: files the user asked for (the preview, morphs, traversal, sample and direction
grids), each written atomically with its recipe. They run on the worker's export queue: every
one runs and reports. No Qt.
"""
from __future__ import annotations

import numpy as np

from .common import with_model_hash
from .decode import traversal
from .tiers import final

def save_preview(ctx, path: str, image: np.ndarray, recipe: dict) -> str:
    """Write ``image`` as a PNG carrying its recipe (a worker task)."""
    from ...core.export import save_png

    save_png(path, image, with_model_hash(ctx.model, recipe))
    return path


def save_final_preview(ctx, path: str, z: np.ndarray, recipe: dict) -> str:
    """Save the *full* decode of ``z`` (the screen may still show the approximate one)."""
    img = final(ctx, z).image
    return save_preview(ctx, path, img, recipe)


def export_morph(ctx, path: str, frames: np.ndarray, fps: int, recipe: dict) -> str:
    from ...core.export import save_animation

    model = ctx.model
    recipe = dict(recipe)
    if hasattr(model, "weights_hash"):
        recipe.setdefault("model_hash", model.weights_hash())
    save_animation(path, frames, fps=fps, recipe=recipe)
    return path


def export_traversal_grid(ctx, path: str, z: np.ndarray, dims: list[int], steps: int, value_range: float,
                          recipe: dict, labels: list[str] | None = None) -> str:
    """A PNG grid: one row per dimension in ``dims`` swept over [−range, +range] around ``z``."""
    from ...core.export import label_rows, make_grid, save_png

    grid = traversal(ctx, z, steps=steps, value_range=value_range, dims=dims)
    ctx.checkpoint()
    recipe = with_model_hash(ctx.model, dict(recipe, kind="traversal", latent=np.asarray(z, np.float32), dims=list(dims),
                                        steps=steps, range=value_range))
    image = make_grid(grid, pad=2)
    if labels:  # which dimension each row sweeps, and how much it carries
        image = label_rows(image, labels, len(dims), pad=2)
    save_png(path, image, recipe)
    return path


def export_sample_grid(ctx, path: str, n: int, seed: int, temperature: float, recipe: dict) -> str:
    """A PNG grid of ``n`` decoded prior samples z ~ N(0, T²·I) drawn with ``seed``."""
    from ...core.export import make_grid, save_png

    z = ctx.model.sample_prior(n, seed=seed, temperature=temperature)
    imgs = ctx.model.decode(z)
    recipe = with_model_hash(ctx.model, dict(recipe, kind="samples", n=n, seed=seed, temperature=temperature))
    save_png(path, make_grid(imgs, pad=2), recipe)
    return path
