"""Decoding jobs for the explorer's small (fast) models: the preview, samples, blends, morph
strips, slider traversals and the 2-d manifold. Plain ``fn(ctx, ...)`` functions, no Qt.
"""
from __future__ import annotations

import time

import numpy as np

from .common import Decoded, Strip

def decode(ctx, z: np.ndarray, extra: dict | None = None) -> Decoded:
    t0 = time.perf_counter()
    z = np.asarray(z, np.float32)
    img = ctx.model.decode(z[None])[0]
    return Decoded(z, img, time.perf_counter() - t0, extra or {})


def decode_at(ctx, xy, interpolator, exact: bool, extra: dict | None = None) -> Decoded:
    """The latent at map point ``xy`` (exact for a 2-d latent map, else a Delaunay blend)."""
    if exact:
        z = np.asarray(xy, np.float32).reshape(ctx.model.latent_shape)
    else:
        z = interpolator.latent_at(xy)
    return decode(ctx, z, extra)


def sample(ctx, seed: int, temperature: float) -> Decoded:
    z = ctx.model.sample_prior(1, seed=seed, temperature=temperature)[0]
    return decode(ctx, z, {"seed": seed, "temperature": temperature})


def blend(ctx, latents: np.ndarray, weights: np.ndarray, extra: dict | None = None) -> Decoded:
    from ...core.latent import barycentric

    lat = np.asarray(latents, np.float32)
    z = barycentric(lat.reshape(len(lat), -1), weights).reshape(lat.shape[1:])
    return decode(ctx, z, extra)


def morph_strip(ctx, keys: np.ndarray, frames: int, method: str, endpoints=()) -> Strip:
    from ...core.latent import interpolate, path

    keys = np.asarray(keys, np.float32)
    zs = interpolate(keys[0], keys[1], frames, method) if len(keys) == 2 else path(keys, frames, method)
    # one decode per frame, as the preview decodes: a batched decode can differ in the last bit
    # of a pixel, and a scrubbed frame must be exactly what the preview shows for that latent
    imgs = np.concatenate([ctx.model.decode(z[None]) for z in zs])
    return Strip(zs, imgs, method, tuple(endpoints), keys)


def traversal(ctx, z: np.ndarray, steps: int = 7, value_range: float = 3.0, dims=None) -> np.ndarray:
    """uint8 D×steps×H×W×C: each row sweeps one dimension over [−range, +range]."""
    from ...core.latent import traversal_latents

    zs = traversal_latents(np.asarray(z, np.float32), steps=steps, value_range=value_range, dims=dims)
    rows = zs.shape[0]
    imgs = ctx.model.decode(zs.reshape(rows * steps, *ctx.model.latent_shape))
    return imgs.reshape(rows, steps, *imgs.shape[1:])


def manifold(ctx, x0: float, x1: float, y0: float, y1: float, nx: int = 16, ny: int = 16) -> tuple:
    """Decode an nx×ny grid over a rectangle of a 2-d latent: (mosaic uint8 H×W×C, rect).

    Tile (i, j) is the decode of the latent at the centre of cell (i, j); ``rect`` is
    (x, y, width, height) in latent units, the area the mosaic covers.
    """
    dx = (x1 - x0) / nx
    dy = (y1 - y0) / ny
    xs = (x0 + dx * (np.arange(nx) + 0.5)).astype(np.float32)
    ys = (y1 - dy * (np.arange(ny) + 0.5)).astype(np.float32)  # top row is the largest y
    gx, gy = np.meshgrid(xs, ys)
    z = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32).reshape(-1, *ctx.model.latent_shape)
    imgs = ctx.model.decode(z)
    h, w, c = imgs.shape[1:]
    mosaic = imgs.reshape(ny, nx, h, w, c).transpose(0, 2, 1, 3, 4).reshape(ny * h, nx * w, c)
    # a y-up plot draws image row 0 at the bottom: flip so the largest y is on top
    return np.ascontiguousarray(mosaic[::-1]), (x0, y0, x1 - x0, y1 - y0)


def grid_latents(n: int, spacing: str = "icdf", extent: float = 3.0) -> np.ndarray:
    """n×n 2-d latents for the classic manifold figure, top row = largest z1: ``"icdf"`` spaces them by
    the prior's inverse CDF (each cell holds equal prior mass: Kingma & Welling's figure), ``"linear"``
    evenly over ±``extent``."""
    from scipy.stats import norm

    if spacing == "icdf":
        axis = norm.ppf(np.linspace(0.5 / n, 1 - 0.5 / n, n))
    elif spacing == "linear":
        axis = np.linspace(-extent, extent, n)
    else:
        raise ValueError(f"spacing {spacing!r}: use 'icdf' or 'linear'")
    gx, gy = np.meshgrid(axis, axis[::-1])
    return np.stack([gx, gy], -1).astype(np.float32)


def manifold_grid(ctx, n: int = 15, spacing: str = "icdf") -> tuple[np.ndarray, np.ndarray]:
    """(the n×n latents, their decodes as one mosaic uint8): the 2-d manifold figure."""
    from ...core.export import make_grid

    z = grid_latents(n, spacing)
    imgs = ctx.model.decode(z.reshape(-1, *ctx.model.latent_shape))
    return z, make_grid(imgs, cols=n, pad=0)


#: the analogy strip's strengths: C + s·(B − A), from C itself to twice the step
ANALOGY_STRENGTHS = tuple(np.round(np.arange(0.0, 2.01, 0.25), 2))


def analogy_strip(ctx, a: np.ndarray, b: np.ndarray, c: np.ndarray, strengths=ANALOGY_STRENGTHS) -> Strip:
    """A : B :: C : ? — the latents C + s·(B − A) for each strength, decoded one by one (a slow
    decoder's approximate decode), as a strip whose keyframes are A, B and C."""
    from ...core.latent.analogy import analogy

    a, b, c = (np.asarray(v, np.float32) for v in (a, b, c))
    zs = analogy(a, b, c, strengths)
    model = ctx.model
    fast = getattr(model, "slow_decoder", False) and hasattr(model, "approx_decode")
    frames = []
    for z in zs:
        ctx.checkpoint()
        frames.append((model.approx_decode if fast else model.decode)(z[None]))
    strip = Strip(zs, np.concatenate(frames), "analogy", (), np.stack([a, b, c]))
    strip.strengths = [float(v) for v in np.asarray(strengths).reshape(-1)]
    strip.final = not fast  # a slow decoder's analogy is shown with approximate frames
    return strip
