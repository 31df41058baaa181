"""Overlapping full-size tiles for a VAE that was trained on small images (e.g. ``photos-sd``, 64 px).

diffusers' own tiling steps by a fixed stride, so the last row and column of tiles are cut short
(a 128 px image at 64 px tiles decodes 64, 64 and a 16 px sliver): the sliver is decoded out of the
context it was trained on and leaves a band along the right and bottom edges. Here every tile is
the full size, their starts spread evenly from 0 to the far edge, and the tiles are blended with
weights that ramp over the overlap (normalised, so a pixel only one tile covers is exactly that
tile's). Positions are counted in latent pixels: an encoder's input is ``factor`` times finer, a
decoder's output too. Pure torch; no Qt.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

OVERLAP = 0.25   # the share of a tile that overlaps its neighbour (as diffusers' tile_overlap_factor)


def starts(n: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one axis of length ``n``: full tiles from 0 to ``n − tile``, at least
    ``overlap`` apart from full coverage (one tile when it covers everything)."""
    if n <= tile:
        return [0]
    k = math.ceil((n - overlap) / max(1, tile - overlap))
    return sorted({round(i * (n - tile) / (k - 1)) for i in range(k)})


def _ramp(size: int, ramp: int, device, dtype) -> torch.Tensor:
    i = torch.arange(size, device=device, dtype=torch.float32)
    w = torch.minimum((i + 0.5) / ramp, (size - i - 0.5) / ramp).clamp(max=1.0)
    return w.to(dtype)


def blend(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int, in_unit: int = 1,
          out_unit: int = 1, overlap: float = OVERLAP) -> torch.Tensor:
    """``fn`` over overlapping ``tile``-sized tiles of ``x`` (N×C×H×W), blended into one output.

    ``tile`` is in latent pixels; ``x`` has ``in_unit`` pixels per latent pixel (the decoder: 1, the
    encoder: its factor) and ``fn``'s output ``out_unit`` (the decoder: its factor, the encoder: 1).
    """
    h, w = x.shape[-2] // in_unit, x.shape[-1] // in_unit
    ov = max(1, round(tile * overlap))
    ys, xs = starts(h, tile, ov), starts(w, tile, ov)
    if len(ys) == 1 and len(xs) == 1:
        return fn(x)
    out = weight = None
    for y in ys:
        for x0 in xs:
            part = fn(x[..., y * in_unit:(y + tile) * in_unit, x0 * in_unit:(x0 + tile) * in_unit])
            if out is None:
                out = torch.zeros((*part.shape[:2], h * out_unit, w * out_unit), device=part.device, dtype=part.dtype)
                weight = torch.zeros((h * out_unit, w * out_unit), device=part.device, dtype=part.dtype)
            th, tw = part.shape[-2:]
            r = max(1, ov * out_unit)
            wt = _ramp(th, r, part.device, part.dtype)[:, None] * _ramp(tw, r, part.device, part.dtype)[None, :]
            oy, ox = y * out_unit, x0 * out_unit
            out[..., oy:oy + th, ox:ox + tw] += part * wt
            weight[oy:oy + th, ox:ox + tw] += wt
    return out / weight


__all__ = ["OVERLAP", "blend", "starts"]
