"""Steering spatial latents (C × h × w): principal directions and per-channel offset / gain.

A Stable Diffusion latent has thousands of numbers, far too many for one slider each. Two
kinds of control stand in for them:

- ``Directions``: the principal directions (PCA) of the encoded images' latents, flattened.
  Slider k moves the latent along direction k; its range is taken from the data (±3 standard
  deviations of the images' projections onto it), so every slider spans what the images span.
- per-channel offset and gain: ``z'_c = m_c + gain_c · (z_c − m_c) + offset_c`` with ``m_c`` the
  channel's spatial mean, so gain changes a channel's contrast and offset shifts it as a whole.

``SpatialEdit`` composes the two around a base latent, so moving one control never loses the
others. Pure numpy (scikit-learn for large PCAs); no Qt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DIRECTIONS = 32
RANGE_STDS = 3.0


@dataclass
class Directions:
    """Principal directions of a set of latents (flattened), most variance first."""

    mean: np.ndarray          # float32 D: the latents' mean
    components: np.ndarray    # float32 K×D, orthonormal rows
    std: np.ndarray           # float32 K: std of the latents' projections on each direction
    explained: np.ndarray     # float32 K: fraction of the total variance each direction explains
    latent_shape: tuple
    n_fitted: int = 0
    source: str = "images"    # what they were fitted on: "images" or "prior"

    def __len__(self) -> int:
        return len(self.components)

    @property
    def ranges(self) -> np.ndarray:
        """K×2: the slider range of each direction, ±RANGE_STDS std around the data's mean."""
        r = RANGE_STDS * np.maximum(self.std, 1e-6)
        return np.stack([-r, r], 1).astype(np.float32)

    def coords(self, z: np.ndarray) -> np.ndarray:
        """Coordinates (K) of one latent along the directions, relative to the data's mean."""
        flat = np.asarray(z, np.float32).reshape(-1)
        return ((flat - self.mean) @ self.components.T).astype(np.float32)

    def move(self, z: np.ndarray, k: int, value: float) -> np.ndarray:
        """``z`` with its coordinate along direction ``k`` set to ``value`` (the rest unchanged)."""
        z = np.asarray(z, np.float32)
        delta = float(value) - float(self.coords(z)[k])
        return (z.reshape(-1) + delta * self.components[k]).reshape(z.shape).astype(np.float32)


def fit_directions(latents: np.ndarray, k: int = MAX_DIRECTIONS, source: str = "images",
                   seed: int = 0) -> Directions:
    """Up to ``k`` principal directions of latents N×*shape (at most N − 1 of them)."""
    lat = np.asarray(latents, np.float32)
    if lat.ndim < 2 or len(lat) < 2:
        raise ValueError(f"principal directions need at least 2 latents, got {len(lat)}")
    shape = tuple(lat.shape[1:])
    x = lat.reshape(len(lat), -1)
    n, d = x.shape
    k = int(max(1, min(k, n - 1, d)))
    mean = x.mean(0)
    xc = x - mean
    if n <= 2000:
        # thin SVD through the N×N Gram matrix: exact and fast when N ≪ D (thousands of numbers per latent)
        gram = (xc.astype(np.float64) @ xc.T.astype(np.float64))
        evals, evecs = np.linalg.eigh(gram)
        order = np.argsort(evals)[::-1][:k]
        evals = np.clip(evals[order], 0.0, None)
        keep = evals > evals.max() * 1e-10 if evals.max() > 0 else np.zeros(len(evals), bool)
        keep[0] = True
        evals, evecs = evals[keep], evecs[:, order][:, keep]
        comps = (evecs.T @ xc.astype(np.float64)) / np.sqrt(np.maximum(evals, 1e-30))[:, None]
        var = evals / max(n - 1, 1)
        total = float((xc.astype(np.float64) ** 2).sum() / max(n - 1, 1))
    else:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(x)
        comps, var = pca.components_.astype(np.float64), pca.explained_variance_
        total = float(pca.explained_variance_[0] / max(pca.explained_variance_ratio_[0], 1e-12))
    comps /= np.linalg.norm(comps, axis=1, keepdims=True) + 1e-12
    # a stable sign: the largest-magnitude entry of each direction is positive
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
    comps *= np.where(signs == 0, 1.0, signs)[:, None]
    std = np.sqrt(np.maximum(var, 0.0))
    explained = var / total if total > 0 else np.zeros_like(var)
    return Directions(mean.astype(np.float32), comps.astype(np.float32), std.astype(np.float32),
                      explained.astype(np.float32), shape, n, source)


def channel_adjust(z: np.ndarray, offset: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Per-channel gain about the channel's spatial mean, then offset: C×h×w (or N×C×h×w)."""
    z = np.asarray(z, np.float32)
    off = np.asarray(offset, np.float32)
    g = np.asarray(gain, np.float32)
    axes = tuple(range(z.ndim - 2, z.ndim))
    m = z.mean(axis=axes, keepdims=True)
    shape = (-1,) + (1,) * 2
    return (m + g.reshape(shape) * (z - m) + off.reshape(shape)).astype(np.float32)


class SpatialEdit:
    """The latent the spatial sliders make: a base latent moved along directions, then adjusted
    per channel. ``reset(z)`` starts over from ``z`` (a click, a morph, an undo)."""

    def __init__(self, latent_shape: tuple, directions: Directions | None = None):
        self.latent_shape = tuple(latent_shape)
        self.channels = int(self.latent_shape[0])
        self.directions = directions
        self.base: np.ndarray = np.zeros(self.latent_shape, np.float32)
        self.coords = np.zeros(0, np.float32)
        self._base_coords = np.zeros(0, np.float32)
        self.offset = np.zeros(self.channels, np.float32)
        self.gain = np.ones(self.channels, np.float32)

    def set_directions(self, directions: Directions | None) -> None:
        if directions is not None and tuple(directions.latent_shape) != self.latent_shape:
            raise ValueError(f"directions for latents {directions.latent_shape}, not {self.latent_shape}")
        self.directions = directions
        self.reset(self.latent())

    def reset(self, z: np.ndarray) -> None:
        self.base = np.array(z, np.float32, copy=True).reshape(self.latent_shape)
        self.offset[:] = 0.0
        self.gain[:] = 1.0
        if self.directions is not None:
            self._base_coords = self.directions.coords(self.base)
            self.coords = self._base_coords.copy()
        else:
            self._base_coords = self.coords = np.zeros(0, np.float32)

    @property
    def edited(self) -> bool:
        return bool(np.any(self.coords != self._base_coords) or np.any(self.offset) or np.any(self.gain != 1))

    def set_direction(self, k: int, value: float) -> np.ndarray:
        self.coords[k] = value
        return self.latent()

    def set_offset(self, c: int, value: float) -> np.ndarray:
        self.offset[c] = value
        return self.latent()

    def set_gain(self, c: int, value: float) -> np.ndarray:
        self.gain[c] = value
        return self.latent()

    def latent(self) -> np.ndarray:
        z = self.base.reshape(-1).astype(np.float32)
        if self.directions is not None and len(self.coords):
            z = z + (self.coords - self._base_coords) @ self.directions.components
        z = z.reshape(self.latent_shape)
        if np.any(self.offset) or np.any(self.gain != 1):
            z = channel_adjust(z, self.offset, self.gain)
        return z.astype(np.float32)


def is_spatial(latent_shape) -> bool:
    """True for latents with spatial extent (C × h × w), such as Stable Diffusion's."""
    return len(tuple(latent_shape)) == 3


__all__ = ["Directions", "fit_directions", "channel_adjust", "SpatialEdit", "is_spatial", "MAX_DIRECTIONS"]
