"""An approximate decoder fast enough to follow a slider: latent channels -> RGB, per pixel.

A Stable Diffusion latent pixel stands for an f×f patch of the image, and the patch's mean
colour is close to a linear function of that pixel's channels. We fit that map (plus a bias)
to the loaded VAE at load time: encode a few synthetic colour images at a small size, perturb
the latents, decode them with the real decoder, average each decoded f×f patch, and solve a
least-squares problem. Previewing is then a 3×C matrix product and a bilinear ×f upsample:
milliseconds instead of seconds. It shows colours and layout, not texture.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class LinearPreview:
    weight: np.ndarray  # 3×C: latent channels -> RGB in [0, 1]
    bias: np.ndarray  # 3
    factor: int  # image pixels per latent pixel
    fit_error: float = 0.0  # RMS error of the fit on the decoded patches, in [0, 1] units

    def __post_init__(self):
        self._w = torch.from_numpy(np.asarray(self.weight, np.float32))
        self._b = torch.from_numpy(np.asarray(self.bias, np.float32))

    @torch.inference_mode()
    def decode(self, z: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """float32 N×C×h×w -> uint8 N×H×W×3, H×W = size or (h·f, w·f)."""
        zt = torch.as_tensor(np.asarray(z, np.float32))
        rgb = torch.einsum("oc,nchw->nohw", self._w, zt) + self._b[None, :, None, None]
        size = tuple(size) if size else (zt.shape[-2] * self.factor, zt.shape[-1] * self.factor)
        rgb = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False)
        return rgb.clamp_(0, 1).mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def synthetic_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """n smooth, saturated colour images (uint8 n×size×size×3): blobs of colour, edges, gradients."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    for i in range(n):
        coarse = torch.from_numpy(rng.uniform(0, 1, (1, 3, 3 + i % 3, 3 + i % 3)).astype(np.float32))
        img = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)[0].permute(1, 2, 0).numpy()
        if i % 2:  # a hard-edged disc: colour steps as well as gradients
            cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
        out[i] = (img * 255).round().astype(np.uint8)
    return out


def fit_linear_preview(encode: Callable[[np.ndarray], np.ndarray], decode: Callable[[np.ndarray], np.ndarray],
                       factor: int, size: int = 64, n_images: int = 4, seed: int = 0) -> LinearPreview:
    """Fit the per-pixel linear map to ``decode`` (latents -> float RGB N×3×H×W in [0, 1]).

    ``encode`` maps uint8 N×size×size×3 to latents N×C×h×w. The fit uses the encoded synthetic
    images plus noisy and mixed copies, so it covers more of the latent space than the images.
    """
    rng = np.random.default_rng(seed)
    size = max(size - size % factor, factor * 4)
    z = encode(synthetic_images(n_images, size, seed)).astype(np.float32)
    std = float(z.std()) or 1.0
    noisy = z + rng.standard_normal(z.shape).astype(np.float32) * 0.5 * std
    mixed = 0.5 * (z + z[::-1]) + rng.standard_normal(z.shape).astype(np.float32) * 0.25 * std
    zs = np.concatenate([z, noisy, mixed])
    rgb = torch.as_tensor(decode(zs), dtype=torch.float32)
    patches = F.avg_pool2d(rgb, factor).numpy()  # N×3×h×w: each latent pixel's mean colour
    c = zs.shape[1]
    x = zs.transpose(0, 2, 3, 1).reshape(-1, c).astype(np.float64)
    y = patches.transpose(0, 2, 3, 1).reshape(-1, 3).astype(np.float64)
    xa = np.concatenate([x, np.ones((len(x), 1))], 1)
    ridge = 1e-3 * np.eye(c + 1)
    ridge[-1, -1] = 0.0  # don't shrink the bias
    coef = np.linalg.solve(xa.T @ xa + ridge * len(x), xa.T @ y)  # (C+1)×3
    err = float(np.sqrt(np.mean((xa @ coef - y) ** 2)))
    return LinearPreview(weight=coef[:c].T.astype(np.float32), bias=coef[c].astype(np.float32),
                         factor=factor, fit_error=err)
