"""Procedural shapes with known ground-truth factors: the teaching dataset.

Every image is 64×64 RGB and fully described by seven discrete factors:

=============  ======  ===============================================================
factor         levels  values
=============  ======  ===============================================================
shape          4       square, ellipse, triangle, heart
scale          6       the object covers 5 % … 30 % of the image area
rotation       10      0°, 9°, … 81°
x, y           16 each object centre from 17 px to 47 px (27 % … 73 %), 2 px apart
object colour  8       hue 0.00 (red) … 0.70 (violet), bright
background     8       dark navy … dull olive, always darker than the object
=============  ======  ===============================================================

Objects are drawn anti-aliased: coverage is computed on a 4× finer grid and averaged.
Each (shape, scale, rotation) is drawn once and moved by whole pixels, so generating
tens of thousands of images takes seconds.
The same seed gives the same images, on any machine.
"""
from __future__ import annotations

import colorsys
import math
from functools import lru_cache

import numpy as np

FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y", "object_colour", "background")
FACTOR_SIZES = (4, 6, 10, 16, 16, 8, 8)
SHAPE_NAMES = ("square", "ellipse", "triangle", "heart")
IMAGE_SIZE = 64
_SS = 4  # supersampling factor per axis

AREA_FRACTIONS = np.linspace(0.05, 0.30, FACTOR_SIZES[1])
ROTATIONS_DEG = np.arange(FACTOR_SIZES[2]) * 9.0
POSITIONS_PX = 17 + 2 * np.arange(FACTOR_SIZES[3])  # object centre, in pixels
POSITIONS = POSITIONS_PX / 64.0
OBJECT_COLOURS = np.array([colorsys.hsv_to_rgb(h, 0.75, 1.0) for h in np.linspace(0.0, 0.70, 8)], np.float32)
_BG_DARK = np.array([0.03, 0.04, 0.14], np.float32)
_BG_LIGHT = np.array([0.30, 0.28, 0.12], np.float32)
BACKGROUND_COLOURS = np.array([_BG_DARK + (_BG_LIGHT - _BG_DARK) * t for t in np.linspace(0, 1, 8)], np.float32)


def _heart_area() -> float:
    # area of the implicit heart (x² + y² − 1)³ − x² y³ ≤ 0, measured numerically once
    g = np.linspace(-1.5, 1.5, 1201)
    x, y = np.meshgrid(g, g)
    inside = (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0
    return float(inside.mean() * 9.0)


# Area of each shape's canonical form at unit size (its "radius" = 1).
_UNIT_AREA = {
    "square": 4.0,                       # |u|, |v| ≤ 1
    "ellipse": math.pi * 1.0 * 0.55,     # semi-axes 1 and 0.55, so rotation is visible
    "triangle": 3 * math.sqrt(3) / 4,    # equilateral, circumradius 1
    "heart": _heart_area(),
}


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if shape == "square":
        return (np.abs(u) <= 1) & (np.abs(v) <= 1)
    if shape == "ellipse":
        return u * u + (v / 0.55) ** 2 <= 1
    if shape == "triangle":
        # equilateral triangle, circumradius 1, one vertex pointing up (v upwards)
        out = np.ones_like(u, dtype=bool)
        for k in range(3):
            a = math.pi / 2 + k * 2 * math.pi / 3 + math.pi / 3  # edge normals
            out &= u * math.cos(a) + v * math.sin(a) <= 0.5
        return out
    # heart: shift so the visual centre is at the origin
    vv = v + 0.1
    return (u * u + vv * vv - 1) ** 3 - u * u * vv ** 3 <= 0


_HALF = 28  # every object fits in a 56×56 box around its centre


@lru_cache(maxsize=None)
def _coverage(shape_idx: int, scale_idx: int, rot_idx: int) -> np.ndarray:
    """Anti-aliased coverage (float32 56×56) of one object centred in its box."""
    shape = SHAPE_NAMES[shape_idx]
    radius = math.sqrt(AREA_FRACTIONS[scale_idx] * IMAGE_SIZE ** 2 / _UNIT_AREA[shape])
    theta = math.radians(ROTATIONS_DEG[rot_idx])
    c = (np.arange(2 * _HALF * _SS, dtype=np.float32) + 0.5) / _SS - _HALF
    dx, gy = np.meshgrid(c, c)
    dy = -gy  # v points up
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    u = (dx * cos_t + dy * sin_t) / radius
    v = (-dx * sin_t + dy * cos_t) / radius
    m = _inside(shape, u, v).astype(np.float32)
    return m.reshape(2 * _HALF, _SS, 2 * _HALF, _SS).mean(axis=(1, 3))


def coverage(factors: np.ndarray) -> np.ndarray:
    """Object coverage in [0, 1] for factor rows N×7 -> float32 N×64×64."""
    factors = np.asarray(factors, dtype=np.int64).reshape(-1, 7)
    pad = IMAGE_SIZE + 2 * _HALF
    out = np.zeros((len(factors), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    canvas = np.zeros((pad, pad), np.float32)
    for i, (sh, sc, rot, fx, fy, _, _) in enumerate(factors):
        cx, cy = int(POSITIONS_PX[fx]), int(POSITIONS_PX[fy])
        canvas[:] = 0.0
        canvas[cy:cy + 2 * _HALF, cx:cx + 2 * _HALF] = _coverage(int(sh), int(sc), int(rot))
        out[i] = canvas[_HALF:_HALF + IMAGE_SIZE, _HALF:_HALF + IMAGE_SIZE]
    return out


def render(factors: np.ndarray) -> np.ndarray:
    """Factor indices N×7 -> uint8 images N×64×64×3."""
    factors = np.asarray(factors, dtype=np.int64).reshape(-1, 7)
    out = np.empty((len(factors), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for s0 in range(0, len(factors), 2048):
        f = factors[s0:s0 + 2048]
        cov = coverage(f)[..., None]
        img = BACKGROUND_COLOURS[f[:, 6]][:, None, None] * (1 - cov) + OBJECT_COLOURS[f[:, 5]][:, None, None] * cov
        out[s0:s0 + 2048] = np.round(img * 255).astype(np.uint8)
    return out


def sample_factors(n: int, seed: int = 0) -> np.ndarray:
    """n factor-index rows, each factor drawn uniformly, deterministic from ``seed``."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) for k in FACTOR_SIZES], axis=1)


def generate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n images with their factor indices: (uint8 N×64×64×3, int64 N×7)."""
    f = sample_factors(n, seed)
    return render(f), f


def factor_values(factors: np.ndarray) -> dict[str, np.ndarray]:
    """Human-readable values of factor indices (area fraction, degrees, centre, RGB…)."""
    f = np.asarray(factors).reshape(-1, 7)
    return {
        "shape": np.array(SHAPE_NAMES)[f[:, 0]],
        "scale": AREA_FRACTIONS[f[:, 1]],
        "rotation": ROTATIONS_DEG[f[:, 2]],
        "x": POSITIONS[f[:, 3]],
        "y": POSITIONS[f[:, 4]],
        "object_colour": OBJECT_COLOURS[f[:, 5]],
        "background": BACKGROUND_COLOURS[f[:, 6]],
    }
