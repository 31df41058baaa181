"""Latent-space operations: interpolation, blends, traversals, analogies, 2-D projections."""
from .analogy import analogy, analogy_from_recipe, analogy_recipe
from .interpolate import EASES, barycentric, ease_t, interpolate, lerp, path, path_latents, slerp, triangle_weights
from .traverse import traversal_latents

__all__ = ["lerp", "slerp", "interpolate", "path", "path_latents", "ease_t", "EASES", "barycentric",
           "triangle_weights", "traversal_latents", "analogy", "analogy_recipe",
           "analogy_from_recipe"]
