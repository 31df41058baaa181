"""The bundled colour photographs and a deterministic generator of training crops.

``resources/data/photos/`` holds eleven photographs that scikit-image and scikit-learn ship as
sample data (credited in ``CREDITS.md`` there), resized to at most 512 px. Whole photographs are
held out for testing (``TEST_PHOTOS``), so a test crop never shares pixels with a training crop.

``crops(split, n, size, seed)`` draws square crops at several scales (a side from ``size`` up to
the photo's short side, log-uniform), resized to ``size`` with antialiasing; training crops are
also flipped at random and get a small colour jitter. The same seed gives the same crops.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..paths import resources_dir

TEST_PHOTOS = ("chelsea", "flower")
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "motorcycle_left", "motorcycle_right",
                "retina", "ihc", "china")
SPLITS = ("train", "test", "all")


def photos_dir() -> Path:
    return resources_dir() / "data" / "photos"


@lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """One photograph as uint8 H×W×3."""
    from PIL import Image

    with Image.open(photos_dir() / f"{name}.jpg") as im:
        return np.array(im.convert("RGB"), dtype=np.uint8)


@lru_cache(maxsize=None)
def _photo_tensor(name: str):
    """A photograph as float 3×H×W in [0, 1] (kept: training draws crops from it at every step)."""
    import torch

    return torch.from_numpy(load_photo(name)).permute(2, 0, 1).float().div(255)


def photo_names(split: str) -> tuple[str, ...]:
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: use train, test or all")
    return {"train": TRAIN_PHOTOS, "test": TEST_PHOTOS, "all": TRAIN_PHOTOS + TEST_PHOTOS}[split]


def _jitter(crop, rng: np.random.Generator):
    """Brightness ±8 %, contrast ±10 %, saturation ±10 % on a float 3×H×W tensor in [0, 1]."""
    b, c, s = rng.uniform(0.92, 1.08), rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1)
    grey = crop.mean(0, keepdim=True)
    crop = grey + (crop - grey) * s
    crop = crop.mean() + (crop - crop.mean()) * c
    return (crop * b).clamp(0, 1)


def crops(split: str, n: int, size: int = 64, seed: int = 0, augment: bool | None = None,
          sources: list | None = None) -> np.ndarray:
    """``n`` crops (uint8 n×size×size×3) from the split's photographs (``all``: every one), drawn from
    ``seed``. ``augment`` (default: on for train, off otherwise) adds the random flip and colour
    jitter. A list given as ``sources`` receives each crop's photograph index in ``photo_names(split)``.
    """
    import torch
    import torch.nn.functional as F

    names = photo_names(split)
    augment = (split == "train") if augment is None else augment
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    photos = [_photo_tensor(p) for p in names]
    for i in range(n):
        k = int(rng.integers(len(photos)))
        photo = photos[k]
        if sources is not None:
            sources.append(k)
        h, w = photo.shape[1:]
        short = min(h, w)
        side = int(round(size * math.exp(rng.uniform(0.0, math.log(max(short / size, 1.0))))))
        side = min(max(side, size), short)
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = photo[:, y:y + side, x:x + side]
        if side != size:
            crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True,
                                 align_corners=False)[0]
        if augment:
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            crop = _jitter(crop, rng)
        out[i] = crop.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return out
