"""The map of an encoded collection: its latents read from the shards, nothing encoded again. No Qt.

The means and log-variances are read a shard at a time (cancellable, with progress); the
thumbnails stay on disk and are read lazily for the hover card and the contact sheet; the file
names are an Arrow array, not a million Python strings. The collection must have been encoded
by the model that is open (same weights hash).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .map_data import MapData, interpolator


def is_collection(source) -> bool:
    """Whether ``source`` (an --images value) is a collection folder rather than a folder of images."""
    return isinstance(source, (str, Path)) and (Path(source) / "manifest.json").is_file()


class CollectionPaths:
    """The images' file paths, one string made when asked for (``paths[i]``, ``len``)."""

    def __init__(self, source: str, relative):
        self.source, self.relative = source, relative

    def __len__(self) -> int:
        return len(self.relative)

    def __getitem__(self, i: int) -> str:
        return str(Path(self.source) / self.relative[int(i)].as_py())


def map_collection(ctx, folder) -> "MapData":

    from ...core.data.collection import Collection
    from ...core.errors import UserError
    from ...core.latent.project import fit_projection, point_density

    t0 = time.perf_counter()
    model = ctx.model
    c = Collection(folder)
    want = model.weights_hash() if hasattr(model, "weights_hash") else None
    if want and c.model_hash and c.model_hash != want:
        raise UserError(f"{Path(folder).name} was encoded with another model ({c.manifest.get('model')}, hash "
                        f"{c.model_hash}): open that model, or encode the collection again with this one")
    if tuple(c.latent_shape) != tuple(model.latent_shape):
        raise UserError(f"{Path(folder).name} holds {tuple(c.latent_shape)} latents, the model makes "
                        f"{tuple(model.latent_shape)}")
    n = len(c)
    if n < 3:
        raise UserError(f"{Path(folder).name}: only {n} image(s) in this collection")
    shards = {"done": 0}

    def step():
        ctx.checkpoint()
        ctx.progress(shards["done"], len(c.shards), f"reading the collection: shard {shards['done']:,} / "
                                                    f"{len(c.shards):,}")
        shards["done"] += 1

    relative, mean, logvar, kl = c.latents(should_stop=step)
    ctx.progress(n, n, f"projecting {n:,} points with PCA…")
    d = int(np.prod(mean.shape[1:]))
    proj = fit_projection(mean, "identity" if d == 2 else "pca")
    ctx.checkpoint()
    active = None
    if kl is not None:
        from ...core.metrics import ACTIVE_KL_THRESHOLD

        active = kl > ACTIVE_KL_THRESHOLD
    source = c.manifest.get("source", str(folder))
    interp = interpolator(proj.xy, mean) if proj.method != "identity" else None
    name = Path(folder).name
    if not c.complete:  # a run stopped part way (Ctrl-C, a kill): say so where the map's name is shown
        total = -(-int(c.manifest.get("files", 0)) // max(1, int(c.manifest.get("shard_size", 1))))
        name += f" · {len(c.manifest['shards'])} of {total} shards encoded: run encode again to finish"
    return MapData(name, c.images(), None, mean, logvar, np.full(n, np.nan, np.float32), proj, interp,
                   point_density(proj.xy), kl, active, [(Path(p), why) for p, why in c.skipped],
                   time.perf_counter() - t0, CollectionPaths(source, relative), str(folder))


def original_path(data, model, i: int) -> str | None:
    """Image ``i``'s own file when the map shows a collection whose thumbnails are smaller than the
    model's images (its reconstruction is then shown and scored against the file, not a blurred
    thumbnail); None otherwise, or when the file is gone."""
    from ...core.data.collection import THUMB_PX, CollectionImages

    if not isinstance(data.images, CollectionImages) or max(model.image_size) <= THUMB_PX or not data.paths:
        return None
    path = data.paths[i]
    return path if Path(path).is_file() else None


def recon_with_original(ctx, z, path: str):
    """The full decode of ``z`` (a ``tiers.final``) with the original file at the model's size in
    ``extra["original"]`` (None when it cannot be read)."""
    from ...core.data.images import load_files
    from .tiers import final

    res = load_files([path], ctx.model.image_size, ctx.model.channels)
    original = ctx.model.prepare(res.images)[0] if len(res.images) else None
    return final(ctx, z, {"original": original})
