"""Training-time augmentation: which kind suits the data, and the two kinds themselves.

* ``affine`` (written for digits, the bundled models' ``--augment``): per image a small random
  rotation (±8°), zoom (±8 %) and shift (±1.5 px), zeros outside. Flips would turn a 2 into
  something else, so there are none.
* ``photo`` (photographs, any RGB folder): per image a random horizontal flip, a random crop of
  74 to 100 % of the side scaled back to full size (never past the edge, so no borders appear),
  and a small colour jitter (brightness ±8 %, contrast ±10 %, saturation ±10 %).

``resolve`` turns what was asked (``auto``, ``on``, ``off``, ``affine``, ``photo``, or the
booleans older runs recorded) into ``off``, ``affine`` or ``photo``: ``auto`` (the default)
augments folders of fewer than ``SMALL_FOLDER`` training images, photo-style unless the images
are grey (then affine); ``on`` picks the kind the same way for any size (bundled data: affine).
Torch is imported when a batch is augmented, so the command line's parser stays light.
"""
from __future__ import annotations

import math

CHOICES = ("auto", "on", "off", "affine", "photo")
KINDS = ("off", "affine", "photo")
#: folders with fewer training images than this are augmented by default
SMALL_FOLDER = 2000
#: photo crops keep at least this fraction of the side (1 / 1.35)
PHOTO_MAX_ZOOM = 1.35
PHOTO_BRIGHTNESS, PHOTO_CONTRAST, PHOTO_SATURATION = 0.08, 0.10, 0.10

DESCRIPTIONS = {
    "off": "no augmentation",
    "affine": "augmentation: small shifts, rotations and zoom",
    "photo": "augmentation: flips, random crops and a little colour jitter",
}


def is_grey(images, sample: int = 64) -> bool:
    """True when the uint8 N×H×W×C images have one channel or three equal ones (scans, digits)."""
    import numpy as np

    if images.shape[-1] == 1:
        return True
    step = max(1, len(images) // sample)
    x = images[::step]
    return bool(np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 1], x[..., 2]))


def resolve(choice, *, folder: bool, n_train: int, grey: bool) -> str:
    """The augmentation a run uses: ``off``, ``affine`` or ``photo`` (see the module doc)."""
    if choice is True:  # training.json of runs before the choice had a name
        choice = "on"
    elif choice is False or choice is None:
        choice = "off" if choice is False else "auto"
    if choice not in CHOICES:
        raise ValueError(f"augmentation {choice!r}: use one of {', '.join(CHOICES)}")
    if choice in KINDS:
        return choice
    if choice == "auto" and (not folder or n_train >= SMALL_FOLDER):
        return "off"
    return "photo" if folder and not grey else "affine"


def affine_batch(x, gen):
    """Small random affine jitter: ±8° rotation, ±8 % zoom, ±1.5 px shift (per image)."""
    import torch
    import torch.nn.functional as F

    n, _, h, _ = x.shape
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(8)
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.08
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (1.5 * 2 / h)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def photo_batch(x, gen):
    """Flip, crop-and-rescale and colour-jitter each image of a float N×C×H×W batch in [0, 1]."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]

    def uniform(*shape):  # in [-1, 1), drawn on the CPU generator
        return torch.rand(*shape, generator=gen) * 2 - 1

    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    keep = 1 / (1 + torch.rand(n, generator=gen) * (PHOTO_MAX_ZOOM - 1))  # the crop's side, as a fraction
    tx, ty = uniform(n) * (1 - keep), uniform(n) * (1 - keep)           # the crop stays inside the image
    zero = torch.zeros(n)
    theta = torch.stack([torch.stack([keep * flip, zero, tx], 1), torch.stack([zero, keep, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    bright = (uniform(n, 1, 1, 1) * PHOTO_BRIGHTNESS).to(x.device, x.dtype)
    contrast = (1 + uniform(n, 1, 1, 1) * PHOTO_CONTRAST).to(x.device, x.dtype)
    sat = (1 + uniform(n, 1, 1, 1) * PHOTO_SATURATION).to(x.device, x.dtype)
    if x.shape[1] == 3:
        grey = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, True)
        x = grey + (x - grey) * sat
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + bright).clamp_(0, 1)


def apply(kind: str, x, gen):
    """``x`` augmented as ``kind`` says (``off``: unchanged)."""
    if kind == "affine":
        return affine_batch(x, gen)
    if kind == "photo":
        return photo_batch(x, gen)
    return x
