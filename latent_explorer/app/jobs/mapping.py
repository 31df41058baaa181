"""The map's jobs: read the images (a folder, files, or the model's own dataset), encode them in
cancellable chunks, project them (PCA, t-SNE, UMAP) and hand back ``MapData``. No Qt.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .map_data import MapData, interpolator

MAP_CHUNK = 250
MAX_MAP_POINTS = 5000

#: a slow model (the SD VAE on a CPU encodes ~1 image/s) maps at most this many images
SLOW_MAP_POINTS = 500


def own_folder(model) -> str | None:
    """The folder a model was trained on (its metrics.json ``data``), when it is a folder that is there."""
    data = (getattr(model, "metrics", {}) or {}).get("data")
    return str(data) if data and data not in ("mnist-5k", "shapes") and Path(data).is_dir() else None


def _dataset_for(model):
    """The bundled dataset the model was made for (by its metrics, else by its image size)."""
    from ...core.data.datasets import load_dataset

    data = (getattr(model, "metrics", {}) or {}).get("data")
    if not data:
        if tuple(model.image_size) == (28, 28) and model.channels == 1:
            data = "mnist-5k"
        elif tuple(model.image_size) == (64, 64) and model.channels == 3:
            data = "shapes"
    if data == "mnist-5k":
        return load_dataset("mnist-5k", "all")
    if data == "shapes":
        return load_dataset("shapes", "test", limit=MAX_MAP_POINTS)
    if data == "photo-crops":  # crops of the bundled photographs, at the working size
        return load_dataset("photo-crops", "all", image_size=max(model.image_size))
    return None


class _ThrottledProgress:
    """``ctx.progress`` at most every ``interval`` seconds (and always at the end): a
    10,000-file import must not flood the GUI thread with one event per file."""

    def __init__(self, ctx, interval: float = 0.05):
        self.ctx, self.interval, self._last = ctx, interval, 0.0

    def __call__(self, done: int, total: int, text: str) -> None:
        now = time.perf_counter()
        if done >= total or now - self._last >= self.interval:
            self._last = now
            self.ctx.progress(done, total, text)


def read_images(ctx, source, size, channels: int, limit: int | None = None):
    """A folder (lazily scanned) or a list of files -> FolderImages, cancellable, with progress."""
    from ...core.data.images import load_files, load_folder

    report = _ThrottledProgress(ctx)

    def prog(i, n):
        report(i, n, f"reading images {i:,} / {n:,}")

    stop = lambda: ctx.cancelled  # noqa: E731
    if isinstance(source, (list, tuple)):
        files = list(source)[:limit] if limit else list(source)
        return load_files(files, size, channels, progress=prog, should_stop=stop)
    ctx.progress(0, 0, f"scanning {source}…")
    return load_folder(Path(source), size, channels, progress=prog, should_stop=stop, limit=limit)


def build_map(ctx, images_dir=None, method: str | None = None, limit: int = MAX_MAP_POINTS) -> MapData:
    """Encode the dataset (chunked, cancellable, yielding to previews), then project it.

    ``images_dir`` is a folder, a list of image files, or None for the model's own dataset.
    """
    from ...core.latent.project import fit_projection, point_density

    t0 = time.perf_counter()
    model = ctx.model
    skipped, paths, known = [], None, {}
    if getattr(model, "slow_decoder", False):
        limit = min(limit, SLOW_MAP_POINTS)
    if not images_dir:  # the model's own images: a model trained on a folder remembers it
        images_dir = own_folder(model)
    from .collection_map import is_collection, map_collection

    if is_collection(images_dir):  # encoded before: read, not encoded again
        return map_collection(ctx, images_dir)
    if images_dir:
        res = read_images(ctx, images_dir, model.image_size, model.channels, limit)
        ctx.checkpoint()
        name = Path(images_dir).name if not isinstance(images_dir, (list, tuple)) else \
            f"{len(images_dir)} dropped file(s)"
        images, labels, skipped, paths = res.images, None, list(res.skipped), list(res.paths)
        if len(images) < 3:
            raise _no_data(model, f"only {len(images)} readable image(s)", skipped)
    else:
        ds = _dataset_for(model)
        if ds is None:
            raise _no_data(model)
        images, labels, name = ds.images[:limit], (None if ds.labels is None else ds.labels[:limit]), ds.name
        factors = None if ds.factors is None else ds.factors[:limit]
        known = dict(factors=factors, factor_names=tuple(ds.factor_names), value_names=dict(ds.value_names),
                     label_name=ds.factor_names[0] if ds.factor_names else "label")
    images = model.prepare(images)
    n = len(images)
    if n < 3:
        raise _no_data(model, f"only {n} readable image(s)")
    means, logvars, errs = [], [], []
    # a slow decoder (the SD VAE on a CPU: seconds per image): small chunks, encoded interruptibly so
    # previews are served between layers, and no decode of every image (reconstruction errors are
    # computed for the selected image only)
    slow = bool(getattr(model, "slow_decoder", False))
    chunk = 4 if slow else MAP_CHUNK
    for i in range(0, n, chunk):
        ctx.checkpoint()
        batch = images[i:i + chunk]
        if slow:
            from .tiers import interruptible

            with interruptible(ctx):
                mu, lv = model.encode(batch)
            errs.append(np.full(len(batch), np.nan, np.float32))
        else:
            mu, lv = model.encode(batch)
            ctx.checkpoint()
            rec = model.decode(mu)
            errs.append(((rec.astype(np.float32) - batch.astype(np.float32)) / 255.0).reshape(len(batch), -1)
                        .__pow__(2).mean(1))
        means.append(mu)
        logvars.append(lv)
        ctx.progress(min(i + chunk, n), n, f"encoding {min(i + chunk, n):,} / {n:,} images")
    mean = np.concatenate(means).astype(np.float32)
    logvar = None if logvars[0] is None else np.concatenate(logvars).astype(np.float32)
    ctx.checkpoint()
    d = int(np.prod(mean.shape[1:]))
    method = method or ("identity" if d == 2 else "pca")
    ctx.progress(n, n, f"projecting with {method}…")
    proj = fit_projection(mean, method, poll=ctx.checkpoint)  # t-SNE / UMAP: previews still served
    ctx.checkpoint()
    interp = interpolator(proj.xy, mean) if method != "identity" else None
    kl = active = None
    if logvar is not None:
        from ...core.metrics import ACTIVE_KL_THRESHOLD, kl_per_dim_from_posteriors

        kl = kl_per_dim_from_posteriors(mean.reshape(n, -1), logvar.reshape(n, -1)).astype(np.float32)
        active = kl > ACTIVE_KL_THRESHOLD
    return MapData(name, images, labels, mean, logvar, np.concatenate(errs).astype(np.float32), proj, interp,
                   point_density(proj.xy), kl, active, skipped, time.perf_counter() - t0, paths, images_dir,
                   **known)


def reproject(ctx, data: MapData, method: str) -> MapData:
    from dataclasses import replace

    from ...core.latent.project import fit_projection, point_density

    ctx.progress(0, 0, f"projecting {len(data.mean):,} points with {method}…")
    t0 = time.perf_counter()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one OpenMP/BLAS thread: the GUI thread keeps the other core
        # t-SNE / UMAP in a child process (one thread): a cancel or a newer choice kills it at once
        proj = fit_projection(data.mean, method, poll=ctx.checkpoint)
    ctx.checkpoint()
    interp = interpolator(proj.xy, data.mean) if method != "identity" else None
    return replace(data, projection=proj, interpolator=interp, density=point_density(proj.xy),
                   seconds=time.perf_counter() - t0)


def _no_data(model, why: str = "", skipped=None):
    from ...core.errors import UserError

    if skipped:
        err = UserError(f"no images to map ({why}); {len(skipped)} file(s) skipped: see the skipped-files report")
        err.skipped = skipped
        return err
    return UserError(f"no images to map for {model.name or model.spec}" + (f" ({why})" if why else "") +
                     ": open a folder of images (File → Open images…)")
