"""Latent-space operations: interpolation, blends, traversals, 2-D projections."""
from .interpolate import barycentric, interpolate, lerp, path, slerp, triangle_weights
from .traverse import traversal_latents

__all__ = ["lerp", "slerp", "interpolate", "path", "barycentric", "triangle_weights", "traversal_latents"]
