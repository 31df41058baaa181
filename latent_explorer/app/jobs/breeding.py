"""Breeding jobs: the thumbnails of a family tree's nodes (the children grid and the tree view). No Qt.

A slow decoder (a Stable Diffusion VAE on a CPU) gives its approximate decodes here, so a brood of
children shows in moments; a child clicked is then decoded in full by the preview's tiers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tiers import can_approximate


@dataclass
class Thumbnails:
    ids: list              # node ids, in the order of ``images``
    images: list           # uint8 H×W×C each
    approximate: bool      # a slow decoder's approximate decodes


def thumbnails(ctx, ids, latents) -> Thumbnails:
    """Each latent decoded on its own (as the preview decodes it: the same pixels), stopping between
    them when a newer request waits."""
    model = ctx.model
    fast = can_approximate(model)
    decode = model.approx_decode if fast else model.decode
    images = []
    for i, z in enumerate(latents):
        ctx.checkpoint()
        images.append(decode(np.asarray(z, np.float32)[None])[0])
        ctx.progress(i + 1, len(latents), f"breeding: decoding children {i + 1} / {len(latents)}")
    return Thumbnails(list(ids), images, fast)
