"""Worker jobs for attribute directions.

``encode_group`` reads a folder (or files) and encodes it to posterior means, in chunks with
progress and cancellation; ``fit`` takes the direction between two groups of latents (both
``attribute`` requests: queued, every one runs). ``strips`` decodes what each direction does
around the image on screen (an ``attribute-strips`` request: coalescing). The controller keeps
the groups; these only compute. No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 64


@dataclass
class Group:
    """One side of a direction: the latents, what they are in words, and how to make them again."""

    latents: np.ndarray       # float32 N×*latent_shape (posterior means)
    text: str                 # "label 0", "lasso: 120 images", "folder smiles"
    source: str               # for the recipe: "label:0", "factor:shape=square", a folder, "lasso", …
    images: np.ndarray | None = None   # a few of the group's images (thumbnails), uint8 k×H×W×C

    def __len__(self) -> int:
        return len(self.latents)


def encode_group(ctx, source, text: str, recipe_source: str) -> Group:
    """A folder or a list of image files, encoded (posterior means) at the model's size."""
    from .mapping import read_images

    model = ctx.model
    res = read_images(ctx, source, model.image_size, model.channels)
    if len(res.images) == 0:
        raise ValueError(f"{text}: no readable images" + (f" ({len(res.skipped)} skipped)" if res.skipped else ""))
    images = model.prepare(res.images)
    means = []
    n = len(images)
    slow = bool(getattr(model, "slow_decoder", False))
    chunk = 4 if slow else CHUNK
    for i in range(0, n, chunk):
        ctx.checkpoint()
        means.append(model.encode(images[i:i + chunk])[0])
        ctx.progress(min(i + chunk, n), n, f"encoding {text}: {min(i + chunk, n):,} / {n:,} images")
    return Group(np.concatenate(means).astype(np.float32), f"{text} ({n} images)", recipe_source,
                 images[:: max(1, n // 6)][:6])


def fit(ctx, a: Group, b: Group, method: str, name: str, model_recipe: dict):
    """The direction from group ``a`` to group ``b`` (``core.latent.attributes.direction_between``)."""
    from ...core.latent.attributes import direction_between

    from .common import with_model_hash

    ctx.checkpoint()
    recipe = with_model_hash(ctx.model, model_recipe)
    recipe.update({"from": a.source, "to": b.source, "from_text": a.text, "to_text": b.text})
    return direction_between(a.latents, b.latents, method, name, recipe)


STRIP_STRENGTHS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)


def strips(ctx, base: np.ndarray, vectors: list, strengths=STRIP_STRENGTHS) -> np.ndarray:
    """uint8 D×S×H×W×C: ``base + s·v`` for each direction ``v`` and strength ``s`` (approximate decodes
    for a slow decoder: a strip is a thumbnail)."""
    from ...core.latent.attributes import Direction, walk
    from .spatial import can_approximate

    model = ctx.model
    fast = can_approximate(model)
    rows = []
    for v in vectors:
        ctx.checkpoint()
        zs = walk(base, Direction("strip", np.asarray(v, np.float32)), strengths)
        rows.append(model.approx_decode(zs) if fast else model.decode(zs))
    return np.stack(rows) if rows else np.zeros((0, len(strengths), *model.image_size, model.channels), np.uint8)
