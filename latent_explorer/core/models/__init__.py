"""Models behind the LatentModel interface, and ``load_model(spec)``."""
from .base import LatentModel
from .loading import BUNDLED_MODELS, bundled_models, load_model

__all__ = ["LatentModel", "load_model", "BUNDLED_MODELS", "bundled_models"]
