"""Spatial latents (C×h×w): principal directions for the sliders, the channel view's scales, and
the direction strips and grids. Plain ``fn(ctx, ...)`` jobs, no Qt.
"""
from __future__ import annotations

import numpy as np

from .common import with_model_hash
from .tiers import can_approximate, interruptible

def directions(ctx, latents: np.ndarray, k: int | None = None, source: str = "images"):
    from ...core.latent.directions import MAX_DIRECTIONS, fit_directions

    return fit_directions(latents, k or MAX_DIRECTIONS, source=source)


def sample_latent(ctx, seed: int, temperature: float) -> np.ndarray:
    """A prior sample, not decoded (a slow decoder's preview decodes it in tiers)."""
    return ctx.model.sample_prior(1, seed=seed, temperature=temperature)[0]


def channel_centres(latents: np.ndarray) -> np.ndarray:
    """Per channel, the value shown as the channel view's neutral dark: its mean over the images
    (trained VAEs' channels are not centred on 0: photos-sd's tiles were each one flat tint)."""
    lat = np.asarray(latents, np.float32)
    return lat.mean(axis=(0,) + tuple(range(2, lat.ndim))).astype(np.float32)


def channel_scales(latents: np.ndarray) -> np.ndarray:
    """Per channel, the value shown at full colour in the channel view: 3 std over the images."""
    lat = np.asarray(latents, np.float32)
    axes = (0,) + tuple(range(2, lat.ndim))
    return np.maximum(3.0 * lat.std(axis=axes), 1e-3).astype(np.float32)


def direction_strips(ctx, z: np.ndarray, dirs, steps: int = 7, max_rows: int = 32) -> np.ndarray:
    """uint8 K×steps×H×W×C: the latent swept along each principal direction over its slider range.
    Approximate decodes for a slow decoder (a strip is a thumbnail), full ones otherwise."""
    z = np.asarray(z, np.float32)
    k = min(len(dirs), max_rows)
    model = ctx.model
    fast = can_approximate(model)
    rows = []
    for i in range(k):
        ctx.checkpoint()
        lo, hi = dirs.ranges[i]
        zs = np.stack([dirs.move(z, i, v) for v in np.linspace(lo, hi, steps)])
        rows.append(model.approx_decode(zs) if fast else model.decode(zs))
    if not rows:
        return np.zeros((0, steps, *model.image_size, model.channels), np.uint8)
    return np.stack(rows)


def directions_and_scales(ctx, latents: np.ndarray, k: int | None = None):
    """The sliders' principal directions and the channel view's per-channel scales and centres, from the
    map's latents."""
    lat = np.asarray(latents, np.float32)
    ctx.progress(0, 0, f"fitting principal directions on {len(lat):,} latents…")
    return directions(ctx, lat, k), channel_scales(lat), channel_centres(lat)


def export_direction_grid(ctx, path: str, z: np.ndarray, dirs, steps: int, rows: int, recipe: dict,
                          settings=None) -> str:
    """A PNG grid with full decodes: row k sweeps principal direction k over its slider range."""
    from ...core.export import make_grid, recipe_with, save_png

    z = np.asarray(z, np.float32)
    model = ctx.model
    rows = min(rows, len(dirs))
    out = []
    with interruptible(ctx):
        for k in range(rows):
            lo, hi = dirs.ranges[k]
            for v in np.linspace(lo, hi, steps):
                ctx.checkpoint()
                out.append(model.decode(dirs.move(z, k, v)[None])[0])
    grid = np.stack(out).reshape(rows, steps, *out[0].shape)
    recipe = with_model_hash(model, dict(recipe, kind="direction-traversal", latent=z, steps=steps,
                                    directions=[{"index": k, "range": [float(r) for r in dirs.ranges[k]],
                                                 "explained": float(dirs.explained[k])} for k in range(rows)]))
    save_png(path, make_grid(grid, pad=2, settings=settings), recipe_with(recipe, settings))
    return path
