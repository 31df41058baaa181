"""What every job module shares: the results the worker hands back (``Decoded``, ``Strip``)
and exports' recipes stamped with the model's weights hash. No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

@dataclass
class Decoded:
    """A decoded latent: the latent itself and its uint8 H×W×C image."""

    z: np.ndarray
    image: np.ndarray
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


@dataclass
class Strip:
    """The frames of a morph and the latents they decode."""

    latents: np.ndarray      # F×*latent_shape
    frames: np.ndarray       # uint8 F×H×W×C
    method: str
    endpoints: tuple = ()    # (index a or None, index b or None)
    keyframes: np.ndarray | None = None


def with_model_hash(model, recipe: dict) -> dict:
    """A copy of ``recipe`` that names the model's weights (its hash), so an export can be redone."""
    recipe = dict(recipe)
    if hasattr(model, "weights_hash"):
        recipe.setdefault("model_hash", model.weights_hash())
    return recipe
