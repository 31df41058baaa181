"""2-D maps of a latent space: projections, and the way back from a map point to a latent.

``fit_projection(latents, method)`` turns posterior means N×D into map coordinates N×2 with
PCA (the default), t-SNE (scikit-learn) or UMAP (only when umap-learn is installed). A 2-d
latent is its own map (``method="identity"``). The returned ``Projection`` places any new
latent on the map (``locate``): exactly for PCA and the identity, and by inverse-distance
weighting of the nearest encoded points for t-SNE / UMAP, which have no transform of their own.
At scale PCA is fitted incrementally, and t-SNE / UMAP on a random sample (``FIT_POINTS``), the
rest placed by UMAP's transform or, for t-SNE, by the sample's nearest neighbours.

``MapInterpolator`` goes the other way: the latent at a map point is the barycentric blend
of the latents at the corners of the Delaunay triangle around it, so a click decodes
*between* the data rather than off it. Outside the data's convex hull the nearest triangle
is used with its weights clipped to it.

Pure numpy / scikit-learn / scipy; no Qt.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .interpolate import barycentric, triangle_weights

METHODS = ("pca", "tsne", "umap", "identity")
METHOD_LABELS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "identity": "z itself"}


def umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


def available_methods(latent_size: int) -> list[str]:
    """Projection methods usable for a latent of this size, the default first."""
    if latent_size == 2:
        return ["identity", "pca", "tsne"] + (["umap"] if umap_available() else [])
    return ["pca", "tsne"] + (["umap"] if umap_available() else [])


@dataclass
class Projection:
    """A fitted map: ``xy`` for the fitted latents and ``locate`` for any other latent."""

    method: str
    xy: np.ndarray                       # float32 N×2
    latents: np.ndarray                  # float32 N×D (flattened), what was fitted
    mean: np.ndarray | None = None       # PCA: centre
    components: np.ndarray | None = None  # PCA: 2×D
    explained: tuple[float, ...] = ()    # PCA: explained variance ratio of the two axes
    extra: dict = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        """True when the map is a linear (invertible on its plane) function of the latent."""
        return self.method in ("pca", "identity")

    def locate(self, z: np.ndarray, k: int = 6) -> np.ndarray:
        """Map coordinates (M×2) of latents M×D (or one latent D -> 2)."""
        z = np.asarray(z, np.float32)
        single = z.ndim == 1
        z = z.reshape(1 if single else len(z), -1)
        if self.method == "identity":
            out = z[:, :2].astype(np.float32)
        elif self.method == "pca":
            out = ((z - self.mean) @ self.components.T).astype(np.float32)
        else:  # inverse-distance weighting over the k nearest fitted latents (a large map's sample)
            fit = self.extra.get("fit")
            out = place_by_neighbours(z, self.latents if fit is None else self.latents[fit],
                                      self.xy if fit is None else self.xy[fit], k)
        return out[0] if single else out

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        """PCA / identity only: the latent on the projection plane at map point(s) ``xy``."""
        xy = np.asarray(xy, np.float32)
        if self.method == "identity":
            return xy.copy()
        if self.method == "pca":
            return (xy @ self.components + self.mean).astype(np.float32)
        raise ValueError(f"{METHOD_LABELS[self.method]} has no inverse; use MapInterpolator")


def fit_projection(latents: np.ndarray, method: str = "pca", seed: int = 0,
                   poll: Callable[[], None] | None = None) -> Projection:
    """Project latents N×D (any latent shape; flattened) to 2-D map coordinates.

    With ``poll``, t-SNE and UMAP (tens of seconds) run in a child process with one thread while
    this thread calls ``poll()`` every 50 ms: ``poll`` may do other work meanwhile, and when it
    raises (a cancel) the child is killed at once and the exception propagates.
    """
    if poll is not None and method in ("tsne", "umap"):
        return _fit_in_child(latents, method, seed, poll)
    z = np.asarray(latents, np.float32).reshape(len(latents), -1)
    n, d = z.shape
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}: use one of {', '.join(METHODS)}")
    if method == "identity":
        if d != 2:
            raise ValueError(f"the identity map needs a 2-d latent, not {d}-d")
        return Projection("identity", z.copy(), z)
    if n < 3:
        raise ValueError(f"a map needs at least 3 points, got {n}")
    if method == "pca":
        from sklearn.decomposition import PCA, IncrementalPCA

        if n > PCA_BATCH:  # a collection: in batches, never a copy of all the latents at once
            pca = IncrementalPCA(n_components=2, batch_size=PCA_BATCH)
            for part in np.array_split(np.arange(n), -(-n // PCA_BATCH)):  # equal batches, none tiny
                pca.partial_fit(z[part[0]:part[-1] + 1])
        else:
            pca = PCA(n_components=2, random_state=seed).fit(z)
        xy = np.concatenate([pca.transform(z[i:i + PCA_BATCH]) for i in range(0, n, PCA_BATCH)]).astype(np.float32)
        return Projection("pca", xy, z, mean=pca.mean_.astype(np.float32),
                          components=pca.components_.astype(np.float32),
                          explained=tuple(float(v) for v in pca.explained_variance_ratio_))
    fit = fit_sample(n, method, seed)
    if fit is not None:  # fitted on a sample, the rest placed by the projection's transform or neighbours
        part = fit_projection(z[fit], method, seed)
        if method == "umap":
            xy = np.concatenate([part.extra["model"].transform(z[i:i + 50_000]) for i in range(0, n, 50_000)])
        else:
            xy = place_by_neighbours(z, z[fit], part.xy)
        xy = xy.astype(np.float32)
        xy[fit] = part.xy
        return Projection(method, xy, z, extra={"fit": fit})
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                  learning_rate="auto").fit_transform(z).astype(np.float32)
        return Projection("tsne", xy, z)
    if not umap_available():
        raise ValueError("UMAP needs the optional package umap-learn (pip install umap-learn)")
    import umap

    model = umap.UMAP(n_components=2, random_state=seed)
    xy = model.fit_transform(z).astype(np.float32)
    return Projection("umap", xy, z, extra={"model": model})


#: PCA over more points than this is fitted incrementally, in batches of this many
PCA_BATCH = 100_000
#: t-SNE / UMAP over more points than this are fitted on a random sample of this many
FIT_POINTS = {"tsne": 5_000, "umap": 20_000}


def fit_sample(n: int, method: str, seed: int = 0) -> np.ndarray | None:
    """The sorted indices t-SNE / UMAP are fitted on for ``n`` points (None: all of them)."""
    most = FIT_POINTS.get(method)
    if most is None or n <= most:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))


def place_by_neighbours(z: np.ndarray, latents: np.ndarray, xy: np.ndarray, k: int = 6) -> np.ndarray:
    """Map positions of latents ``z`` (M×D): inverse-distance weights over their ``k`` nearest
    ``latents`` (whose positions are ``xy``), in batches."""
    k = min(k, len(latents))
    if len(z) * len(latents) <= 2_000_000:  # a marker: plain numpy, no index to build
        d2 = ((z[:, None, :] - latents[None, :, :]) ** 2).sum(-1)
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        w = 1.0 / (np.sqrt(np.take_along_axis(d2, idx, 1)) + 1e-6)
        w /= w.sum(1, keepdims=True)
        return (w[:, :, None] * xy[idx]).sum(1).astype(np.float32)
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k).fit(latents)
    out = np.empty((len(z), 2), np.float32)
    for i in range(0, len(z), 20_000):
        dist, idx = nn.kneighbors(z[i:i + 20_000])
        w = 1.0 / (dist + 1e-6)
        w /= w.sum(1, keepdims=True)
        out[i:i + 20_000] = (w[:, :, None] * xy[idx]).sum(1)
    return out


_CHILD_THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _fit_in_child(latents: np.ndarray, method: str, seed: int, poll: Callable[[], None]) -> Projection:
    import os
    import subprocess
    import sys
    import tempfile
    import time

    z = np.asarray(latents, np.float32).reshape(len(latents), -1)
    with tempfile.TemporaryDirectory(prefix="lx-proj-") as tmp:
        src, dst = os.path.join(tmp, "z.npy"), os.path.join(tmp, "xy.npy")
        np.save(src, z)
        proc = subprocess.Popen([sys.executable, "-m", __name__, src, dst, method, str(seed)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, **_CHILD_THREADS})
        try:
            while proc.poll() is None:
                poll()
                time.sleep(0.05)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        if proc.returncode != 0 or not os.path.exists(dst):
            last = err.splitlines()[-1] if err else f"exit code {proc.returncode}"
            raise RuntimeError(f"{METHOD_LABELS[method]} failed: {last}")
        xy = np.load(dst).astype(np.float32)
    fit = fit_sample(len(z), method, seed)
    return Projection(method, xy, z, extra={} if fit is None else {"fit": fit})


def _child_main(argv: list[str]) -> int:
    """``python -m latent_explorer.core.latent.project Z.npy XY.npy METHOD SEED`` (see _fit_in_child)."""
    src, dst, method, seed = argv
    xy = fit_projection(np.load(src), method, int(seed)).xy
    np.save(dst + ".part.npy", xy)
    import os

    os.replace(dst + ".part.npy", dst)
    return 0


#: held while a Delaunay triangulation builds its point-location table (see ``MapInterpolator``)
_POINT_LOCATION_LOCK = threading.Lock()


class MapInterpolator:
    """The latent at any map point: a Delaunay-triangle barycentric blend of encoded latents.

    Safe to share between threads (a classroom's sessions click on one map): scipy's
    ``find_simplex`` builds its point-location table (a barycentric transform per triangle, LAPACK
    without the GIL) lazily on first use, and thirty threads making their first click at once
    hung there; so did thirty threads building the tables of thirty separate triangulations at
    once (OpenBLAS entered from many threads). The table is built here, once, one triangulation
    at a time; ``weights_at`` then only reads it and needs no lock.
    """

    def __init__(self, xy: np.ndarray, latents: np.ndarray):
        from scipy.spatial import Delaunay

        self.xy = np.asarray(xy, np.float64)
        self.latents = np.asarray(latents, np.float32)
        self.latent_shape = self.latents.shape[1:]
        # QJ joggles duplicate / collinear points (many digits encode to near-identical means)
        self.tri = Delaunay(self.xy, qhull_options="QJ")
        with _POINT_LOCATION_LOCK:  # the lazy table, built now: find_simplex's first call builds it
            self.tri.find_simplex(self.xy[:1])

    def weights_at(self, p) -> tuple[np.ndarray, np.ndarray]:
        """(indices of 3 encoded points, their barycentric weights ≥ 0 summing to 1) at ``p``."""
        p = np.asarray(p, np.float64).ravel()[:2]
        s = int(self.tri.find_simplex(p))
        if s >= 0:
            idx = self.tri.simplices[s]
            w = triangle_weights(p, *self.xy[idx])
            w = np.clip(w, 0.0, None)
            return idx, w / w.sum()
        # Outside the hull: among triangles touching the nearest point, the one the point is
        # least outside of, weights clipped onto it (so the blend stays on the data's edge).
        nearest = int(np.argmin(((self.xy - p) ** 2).sum(1)))
        cand = np.flatnonzero((self.tri.simplices == nearest).any(1))
        best, best_w, best_score = None, None, -np.inf
        for c in cand:
            idx = self.tri.simplices[c]
            try:
                w = triangle_weights(p, *self.xy[idx])
            except np.linalg.LinAlgError:
                continue
            if w.min() > best_score:
                best, best_w, best_score = idx, w, w.min()
        if best is None:
            return np.array([nearest] * 3), np.array([1.0, 0.0, 0.0])
        w = np.clip(best_w, 0.0, None)
        if w.sum() <= 0:
            w = np.array([1.0 if i == nearest else 0.0 for i in best])
        return best, w / w.sum()

    def latent_at(self, p) -> np.ndarray:
        idx, w = self.weights_at(p)
        z = barycentric(self.latents[idx].reshape(3, -1), w)
        return z.reshape(self.latent_shape)


def blend_weights(points_xy: np.ndarray, p) -> tuple[np.ndarray, np.ndarray]:
    """Weights of k ≥ 3 pinned map points for a blend at ``p``: (indices into points, weights).

    The pinned points are triangulated; inside a triangle the weights are its barycentric
    coordinates, outside the pins' hull they are clipped onto the nearest triangle.
    """
    pts = np.asarray(points_xy, np.float64)
    if len(pts) < 3:
        raise ValueError("a blend needs at least three points")
    if len(pts) == 3:
        w = np.clip(triangle_weights(p, *pts), 0.0, None)
        if w.sum() <= 0:
            w = np.ones(3)
        return np.arange(3), w / w.sum()
    interp = MapInterpolator(pts, np.eye(len(pts), dtype=np.float32))
    idx, w = interp.weights_at(p)
    return np.asarray(idx), w


def point_density(xy: np.ndarray, bins: int = 64, sigma: float = 1.5) -> np.ndarray:
    """A smoothed 2-D histogram density at each point, scaled to [0, 1]."""
    from scipy.ndimage import gaussian_filter

    xy = np.asarray(xy, np.float64)
    if len(xy) == 0:
        return np.zeros(0, np.float32)
    lo, hi = xy.min(0), xy.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    ij = np.clip(((xy - lo) / span * (bins - 1)).round().astype(int), 0, bins - 1)
    h = np.zeros((bins, bins))
    np.add.at(h, (ij[:, 0], ij[:, 1]), 1.0)
    h = gaussian_filter(h, sigma)
    d = h[ij[:, 0], ij[:, 1]]
    return (d / d.max()).astype(np.float32) if d.max() > 0 else d.astype(np.float32)


__all__ = ["METHODS", "METHOD_LABELS", "Projection", "fit_projection", "MapInterpolator", "blend_weights",
           "point_density", "available_methods", "umap_available"]


if __name__ == "__main__":
    import sys

    sys.exit(_child_main(sys.argv[1:]))
