"""Latent analogies: "A is to B as C is to ?" answered as C + s·(B − A).

The offset B − A is added to C at each strength ``s`` (0 gives C back, 1 the classic analogy,
values past 1 exaggerate it, negative ones reverse it). The arithmetic is elementwise, so it works
for vector latents and spatial ones (C×h×w) alike. Pure numpy; the recipe helpers store and read
back everything needed to decode the same latents again.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STRENGTH_RANGE = (-4.0, 4.0)
MAX_STRENGTHS = 9


def _strengths(strengths) -> np.ndarray:
    s = np.asarray(list(strengths) if not np.isscalar(strengths) else [strengths], np.float64).ravel()
    if s.size == 0:
        raise ValueError("analogy needs at least one strength")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"analogy strengths must be finite numbers, got {s.tolist()}")
    return s


def analogy(a, b, c, strengths: Sequence[float] | float = (1.0,)) -> np.ndarray:
    """float32 len(strengths)×*shape: ``c + s·(b − a)`` for each strength ``s``.

    ``a``, ``b`` and ``c`` are latents of one shape (any shape: a vector or a spatial latent).
    """
    a, b, c = (np.asarray(x, np.float32) for x in (a, b, c))
    if not a.shape == b.shape == c.shape:
        raise ValueError(f"analogy latents differ in shape: {a.shape}, {b.shape}, {c.shape}")
    s = _strengths(strengths).astype(np.float32).reshape(-1, *([1] * c.ndim))
    return (c[None] + s * (b - a)[None]).astype(np.float32)


def analogy_recipe(a, b, c, strengths: Sequence[float], sources: Sequence[str] | None = None) -> dict:
    """The recipe fields of an analogy: ``kind``, ``strengths``, the three ``latents`` (A, B, C)
    and, when given, the three ``sources`` (file names). The model and export settings are the
    caller's to add."""
    recipe = {"kind": "analogy", "strengths": [float(x) for x in _strengths(strengths)],
              "latents": np.stack([np.asarray(x, np.float32) for x in (a, b, c)])}
    if sources is not None:
        if len(sources) != 3:
            raise ValueError(f"an analogy has three sources (A, B, C), got {len(sources)}")
        recipe["sources"] = [str(p) for p in sources]
    return recipe


def analogy_from_recipe(recipe: dict) -> np.ndarray:
    """The latents an analogy recipe describes (as ``analogy`` made them), e.g. read back from a PNG."""
    if recipe.get("kind") != "analogy":
        raise ValueError(f"not an analogy recipe (kind {recipe.get('kind')!r})")
    latents = np.asarray(recipe["latents"], np.float32)
    if latents.ndim < 2 or latents.shape[0] != 3:
        raise ValueError(f"an analogy recipe holds three latents, got shape {latents.shape}")
    return analogy(*latents, strengths=recipe["strengths"])

