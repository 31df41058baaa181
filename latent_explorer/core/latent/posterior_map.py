"""Where a posterior q(z|x) = N(μ, diag σ²) falls on a 2-D map: its centre, covariance and ellipses;
and where the prior N(0, I) and the encoded data fall, and the holes between them.

On a linear map the image of a Gaussian is a Gaussian: for the identity (a 2-d latent) the
map covariance is diag(σ²) itself, and under PCA with components P (2×D) it is
P·diag(σ²)·Pᵀ. t-SNE and UMAP have no linear map, so there is no ellipse; their samples can
only be placed approximately (``Projection.locate``). Pure numpy; no Qt.
"""
from __future__ import annotations

import numpy as np


def projected_gaussian(projection, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(centre 2, covariance 2×2) of N(mean, diag var) on the map, or None where the map is not linear."""
    mean = np.asarray(mean, np.float64).reshape(-1)
    var = np.asarray(var, np.float64).reshape(-1)
    if projection.method == "identity":
        return mean[:2].copy(), np.diag(var[:2])
    if projection.method == "pca":
        p = np.asarray(projection.components, np.float64)
        centre = (mean - np.asarray(projection.mean, np.float64)) @ p.T
        return centre, (p * var) @ p.T
    return None


def ellipse(centre: np.ndarray, cov: np.ndarray, k_sigma: float = 1.0, n: int = 72) -> np.ndarray:
    """Points (n+1)×2 of the k-σ ellipse of N(centre, cov): x = centre + k·L·u over the unit circle,
    with L the symmetric square root of cov (closed: the last point is the first)."""
    w, v = np.linalg.eigh(np.asarray(cov, np.float64))
    root = v @ np.diag(np.sqrt(np.clip(w, 0.0, None))) @ v.T
    t = np.linspace(0.0, 2.0 * np.pi, n + 1)
    circle = np.stack([np.cos(t), np.sin(t)], 1)
    return np.asarray(centre, np.float64) + k_sigma * circle @ root.T


# ---- the prior and the data on the map, and the holes between them -------------------------
def prior_on_map(projection) -> tuple[np.ndarray, np.ndarray] | None:
    """(centre, covariance) of the prior N(0, I) on the map, or None where the map is not linear."""
    d = int(np.asarray(projection.latents).reshape(len(projection.latents), -1).shape[1])
    return projected_gaussian(projection, np.zeros(d), np.ones(d))


def grid_centres(rect: tuple[float, float, float, float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (xs, ys) of an n×n grid over rect = (x0, y0, width, height)."""
    x0, y0, w, h = rect
    return x0 + w * (np.arange(n) + 0.5) / n, y0 + h * (np.arange(n) + 0.5) / n


def gaussian_grid(centre: np.ndarray, cov: np.ndarray, rect, n: int = 128) -> np.ndarray:
    """exp(−½ Mahalanobis²) of N(centre, cov) on an n×n grid (row i = y, column j = x): 1 at the
    centre, e^(−k²/2) on the k-σ ellipse."""
    xs, ys = grid_centres(rect, n)
    gx, gy = np.meshgrid(xs, ys)
    d = np.stack([gx - centre[0], gy - centre[1]], -1)
    m = np.einsum("...i,ij,...j->...", d, np.linalg.inv(np.asarray(cov, np.float64)), d)
    return np.exp(-0.5 * m)


def density_grid(xy: np.ndarray, rect, n: int = 128, smooth_cells: float = 2.0, pdf: bool = False) -> np.ndarray:
    """The encoded points' density on an n×n grid (a smoothed histogram): 1 at its peak, or with
    ``pdf`` a probability density in map units (it integrates to 1 over the grid)."""
    from scipy.ndimage import gaussian_filter

    x0, y0, w, h = rect
    hist, _, _ = np.histogram2d(np.asarray(xy)[:, 1], np.asarray(xy)[:, 0], bins=n,
                                range=[[y0, y0 + h], [x0, x0 + w]])
    dens = gaussian_filter(hist, smooth_cells)
    total = dens.sum()
    if pdf:
        return dens / (total * (w / n) * (h / n)) if total > 0 else dens
    return dens / dens.max() if dens.max() > 0 else dens


def holes(xy: np.ndarray, prior: tuple[np.ndarray, np.ndarray], rect, n: int = 128, prior_sigma: float = 2.0,
          ratio: float = 0.1, spread: float | None = None) -> np.ndarray:
    """Cells inside the prior's ``prior_sigma``-σ ellipse where the aggregate posterior q(z), the
    average of the encoded images' posteriors, is below ``ratio`` × the prior's density (both as
    probability densities on the map): places a prior sample reaches that no image's posterior
    covers, where the decoder was never taught what to draw. ``spread`` is the posteriors' typical
    standard deviation on the map (``posterior_spread``): q(z) is the points blurred by it, so a
    plain autoencoder's near-zero σ leaves holes between its points that a VAE's σ fills."""
    centre, cov = prior
    rel = gaussian_grid(centre, cov, rect, n)
    prior_pdf = rel / (2 * np.pi * np.sqrt(np.linalg.det(np.asarray(cov, np.float64))))
    cell = min(rect[2], rect[3]) / n
    smooth = 2.0 if spread is None else max(0.5, float(spread) / cell)
    data_pdf = density_grid(xy, rect, n, smooth_cells=smooth, pdf=True)
    return (rel >= np.exp(-0.5 * prior_sigma ** 2)) & (data_pdf < ratio * prior_pdf)


def posterior_spread(projection, logvar: np.ndarray) -> float | None:
    """The encoded images' typical posterior standard deviation on the map (the median over images
    of the root-mean variance of the two map axes), or None where the map is not linear."""
    var = np.exp(np.asarray(logvar, np.float64).reshape(len(logvar), -1))
    if projection.method == "identity":
        per = var[:, :2].mean(1)
    elif projection.method == "pca":
        p2 = np.asarray(projection.components, np.float64) ** 2
        per = (var @ p2.T).mean(1)
    else:
        return None
    return float(np.sqrt(np.median(per)))


def map_rect(xy: np.ndarray, prior: tuple[np.ndarray, np.ndarray] | None, margin: float = 0.05):
    """(x0, y0, w, h) covering the points and the prior's 3-σ ellipse."""
    pts = [np.asarray(xy, np.float64)]
    if prior is not None:
        pts.append(ellipse(prior[0], prior[1], 3.0, 36))
    allp = np.concatenate(pts)
    lo, hi = allp.min(0), allp.max(0)
    pad = (hi - lo) * margin
    return float(lo[0] - pad[0]), float(lo[1] - pad[1]), float(hi[0] - lo[0] + 2 * pad[0]), float(hi[1] - lo[1] + 2 * pad[1])
