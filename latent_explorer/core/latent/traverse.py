"""Traversals: sweep one latent dimension (or direction) at a time around a base latent."""
from __future__ import annotations

import numpy as np


def traversal_latents(base: np.ndarray, steps: int = 9, value_range: float = 3.0,
                      dims: list[int] | None = None, directions: np.ndarray | None = None,
                      absolute: bool = True) -> np.ndarray:
    """Latents for a traversal grid: rows × steps × *latent_shape.

    Per axis dimension (``dims``, default all) the row sets that dimension to each of
    ``steps`` values in [−range, +range] (``absolute``) or adds them to the base value.
    With ``directions`` (rows × latent size, unit vectors) each row moves along a direction.
    """
    base = np.asarray(base, np.float32)
    values = np.linspace(-value_range, value_range, steps).astype(np.float32)
    flat = base.ravel()
    if directions is not None:
        d = np.asarray(directions, np.float32).reshape(len(directions), -1)
        out = flat[None, None, :] + values[None, :, None] * d[:, None, :]
        return out.reshape(len(d), steps, *base.shape)
    dims = list(range(flat.size)) if dims is None else list(dims)
    out = np.repeat(np.repeat(flat[None, None, :], steps, 1), len(dims), 0)
    for r, d in enumerate(dims):
        out[r, :, d] = values if absolute else flat[d] + values
    return out.reshape(len(dims), steps, *base.shape)
