"""LatentModel: what every backend (our ConvVAE, diffusers VAEs) looks like to the app.

Images go in and come out as uint8 numpy arrays N×H×W×C; latents are float32 numpy arrays
N×*latent_shape. Everything that differs between backends stays behind this interface.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..data.images import fit_to_size


def prior_samples(latent_shape, n: int, seed: int | None = None, temperature: float = 1.0) -> np.ndarray:
    """n latents of ``latent_shape`` drawn from the prior N(0, T²·I) with ``seed`` (what Random draws)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, *tuple(latent_shape))) * temperature).astype(np.float32)


class LatentModel(ABC):
    #: the spec string it was loaded from (bundled name, folder, file or hub id)
    spec: str = ""
    name: str = ""
    latent_shape: tuple[int, ...] = ()
    image_size: tuple[int, int] = (0, 0)
    channels: int = 3
    device: str = "cpu"
    dtype: str = "float32"
    #: True when decode is slow enough (seconds) that the GUI needs an approximate preview
    slow_decoder: bool = False

    @property
    def latent_size(self) -> int:
        return int(np.prod(self.latent_shape))

    @abstractmethod
    def encode(self, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 N×H×W×C (any size; resized and centre-cropped) -> (mean, logvar or None)."""

    @abstractmethod
    def decode(self, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """float32 N×*latent_shape -> uint8 N×H×W×C."""

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """Resize/centre-crop to ``image_size`` and match the channel count."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise ValueError(f"images must be N×H×W×C uint8, got shape {images.shape}")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {images.dtype}")
        return fit_to_size(images, self.image_size, self.channels)

    def sample_prior(self, n: int, seed: int | None = None, temperature: float = 1.0) -> np.ndarray:
        """n latents drawn from the prior N(0, T²·I)."""
        return prior_samples(self.latent_shape, n, seed, temperature)

    def warm_up(self) -> None:
        """Make small decodes (an app's live previews) as fast as this model can; may take a moment.
        The app calls it once, after the first preview. Nothing to do by default."""

    def to(self, device: str) -> "LatentModel":  # pragma: no cover - overridden
        raise NotImplementedError

    def info(self) -> dict:
        return {
            "spec": self.spec,
            "name": self.name,
            "kind": type(self).__name__,
            "latent_shape": list(self.latent_shape),
            "image_size": list(self.image_size),
            "channels": self.channels,
            "device": self.device,
            "dtype": self.dtype,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec or self.name} latent={self.latent_shape} image={self.image_size}x{self.channels} on {self.device}>"
