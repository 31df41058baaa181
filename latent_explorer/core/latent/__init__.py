"""Latent-space operations: interpolation, blends, traversals, 2-D projections."""
from .interpolate import EASES, barycentric, ease_t, interpolate, lerp, path, path_latents, slerp, triangle_weights
from .traverse import traversal_latents

__all__ = ["lerp", "slerp", "interpolate", "path", "path_latents", "ease_t", "EASES", "barycentric",
           "triangle_weights", "traversal_latents"]
