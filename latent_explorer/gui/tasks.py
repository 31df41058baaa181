"""The work the DecodeWorker does: plain functions ``fn(ctx, ...)`` run on the worker thread.

No Qt here, and nothing that touches a widget: each returns plain data (numpy arrays and
small dataclasses) that the GUI thread shows. ``ctx`` is a ``worker.TaskContext``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .task_common import Decoded, Strip, save_preview, with_model_hash  # noqa: F401  (tasks.Decoded, …)

MAP_CHUNK = 250
MAX_MAP_POINTS = 5000
#: a slow model (the SD VAE on a CPU encodes ~1 image/s) maps at most this many images
SLOW_MAP_POINTS = 500


@dataclass
class ModelSummary:
    spec: str
    name: str
    kind: str
    latent_shape: tuple
    image_size: tuple
    channels: int
    device: str
    devices: list
    metrics: dict = field(default_factory=dict)
    parameters: int | None = None
    seconds: float = 0.0
    #: spatial_tasks.DecodeTiers: slow decoder?, approximate preview, precision, notices
    tiers: object = None
    #: the working image size can be changed (Stable Diffusion-style VAEs: set_working_size)
    resizable: bool = False

    @property
    def latent_size(self) -> int:
        return int(np.prod(self.latent_shape))

    def describe(self) -> str:
        shape = "×".join(str(s) for s in self.latent_shape)
        h, w = self.image_size
        return f"{self.name} · {self.kind} · latent {shape} · images {h}×{w}×{self.channels}"


@dataclass
class MapData:
    """Everything the map shows, computed on the worker."""

    name: str
    images: np.ndarray            # uint8 N×H×W×C, fitted to the model
    labels: np.ndarray | None     # int N or None
    mean: np.ndarray              # float32 N×*latent_shape
    logvar: np.ndarray | None
    recon_error: np.ndarray       # float32 N, mean squared error in [0, 1] pixel units
    projection: object            # core.latent.project.Projection
    interpolator: object | None   # core.latent.project.MapInterpolator (None for < 3 points)
    density: np.ndarray           # float32 N in [0, 1]
    kl_per_dim: np.ndarray | None  # float32 D, nats
    active: np.ndarray | None = None  # bool D: KL above core.metrics.ACTIVE_KL_THRESHOLD
    skipped: list = field(default_factory=list)
    seconds: float = 0.0
    paths: list | None = None     # the image files (a folder import), else None
    source: object = None         # the folder (str) or file list the images came from

    @property
    def xy(self) -> np.ndarray:
        return self.projection.xy


def summarize(model, seconds: float = 0.0) -> ModelSummary:
    from ..core.device import available_devices

    info = model.info()
    return ModelSummary(
        spec=model.spec, name=model.name or model.spec, kind=info.get("kind", type(model).__name__),
        latent_shape=tuple(model.latent_shape), image_size=tuple(model.image_size), channels=model.channels,
        device=str(model.device), devices=available_devices(), metrics=dict(getattr(model, "metrics", {}) or {}),
        parameters=info.get("parameters"), seconds=seconds, tiers=spatial_describe(model),
        resizable=hasattr(model, "set_size"))


def spatial_describe(model):
    from .spatial_tasks import describe

    return describe(model)


def load(ctx, spec: str, device: str = "auto", precision: str = "fp32", allow_pickle: bool = False,
         size: int | None = None):
    """Import torch (first time only), load the model and make it the worker's model.

    ``precision`` "auto" is bf16 full decodes where they are fast (CUDA, a CPU with bf16 units);
    a slow decoder's approximate preview is fitted here, before the model is handed over.
    """
    t0 = time.perf_counter()
    ctx.progress(0, 0, f"loading model {spec}…")
    from ..core.models.loading import load_model
    from .spatial_tasks import prepare, resolve_precision

    extra = {"size": size} if size else {}
    model = load_model(spec, device=device, precision=resolve_precision(precision, device),
                       allow_pickle=allow_pickle, **extra)
    prepare(ctx, model)  # before the model is handed over: a failure keeps the current model
    ctx.set_model(model)
    return summarize(model, time.perf_counter() - t0)


def warm_up(ctx) -> None:
    """Once a model's first preview is on screen: make its small decodes fast (LatentModel.warm_up)."""
    warm = getattr(ctx.model, "warm_up", None)  # a LatentModel has it; a script's duck-typed model may not
    if warm is not None:
        warm()


def set_size(ctx, size) -> ModelSummary:
    """The model (a Stable Diffusion-style VAE) at another working size, (H, W) or an int, without
    reloading it."""
    ctx.model.set_size(size)
    return summarize(ctx.model)


def set_device(ctx, device: str):
    from ..core.device import resolve_device

    dev = resolve_device(device)
    ctx.model.to(dev)
    return summarize(ctx.model)


def decode(ctx, z: np.ndarray, extra: dict | None = None) -> Decoded:
    t0 = time.perf_counter()
    z = np.asarray(z, np.float32)
    img = ctx.model.decode(z[None])[0]
    return Decoded(z, img, time.perf_counter() - t0, extra or {})


def decode_at(ctx, xy, interpolator, exact: bool, extra: dict | None = None) -> Decoded:
    """The latent at map point ``xy`` (exact for a 2-d latent map, else a Delaunay blend)."""
    if exact:
        z = np.asarray(xy, np.float32).reshape(ctx.model.latent_shape)
    else:
        z = interpolator.latent_at(xy)
    return decode(ctx, z, extra)


def sample(ctx, seed: int, temperature: float) -> Decoded:
    z = ctx.model.sample_prior(1, seed=seed, temperature=temperature)[0]
    return decode(ctx, z, {"seed": seed, "temperature": temperature})


def blend(ctx, latents: np.ndarray, weights: np.ndarray, extra: dict | None = None) -> Decoded:
    from ..core.latent import barycentric

    lat = np.asarray(latents, np.float32)
    z = barycentric(lat.reshape(len(lat), -1), weights).reshape(lat.shape[1:])
    return decode(ctx, z, extra)


def morph_strip(ctx, keys: np.ndarray, frames: int, method: str, endpoints=()) -> Strip:
    from ..core.latent import interpolate, path

    keys = np.asarray(keys, np.float32)
    zs = interpolate(keys[0], keys[1], frames, method) if len(keys) == 2 else path(keys, frames, method)
    # one decode per frame, as the preview decodes: a batched decode can differ in the last bit
    # of a pixel, and a scrubbed frame must be exactly what the preview shows for that latent
    imgs = np.concatenate([ctx.model.decode(z[None]) for z in zs])
    return Strip(zs, imgs, method, tuple(endpoints), keys)


def traversal(ctx, z: np.ndarray, steps: int = 7, value_range: float = 3.0, dims=None) -> np.ndarray:
    """uint8 D×steps×H×W×C: each row sweeps one dimension over [−range, +range]."""
    from ..core.latent import traversal_latents

    zs = traversal_latents(np.asarray(z, np.float32), steps=steps, value_range=value_range, dims=dims)
    rows = zs.shape[0]
    imgs = ctx.model.decode(zs.reshape(rows * steps, *ctx.model.latent_shape))
    return imgs.reshape(rows, steps, *imgs.shape[1:])


def manifold(ctx, x0: float, x1: float, y0: float, y1: float, nx: int = 16, ny: int = 16) -> tuple:
    """Decode an nx×ny grid over a rectangle of a 2-d latent: (mosaic uint8 H×W×C, rect).

    Tile (i, j) is the decode of the latent at the centre of cell (i, j); ``rect`` is
    (x, y, width, height) in latent units, the area the mosaic covers.
    """
    dx = (x1 - x0) / nx
    dy = (y1 - y0) / ny
    xs = (x0 + dx * (np.arange(nx) + 0.5)).astype(np.float32)
    ys = (y1 - dy * (np.arange(ny) + 0.5)).astype(np.float32)  # top row is the largest y
    gx, gy = np.meshgrid(xs, ys)
    z = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32).reshape(-1, *ctx.model.latent_shape)
    imgs = ctx.model.decode(z)
    h, w, c = imgs.shape[1:]
    mosaic = imgs.reshape(ny, nx, h, w, c).transpose(0, 2, 1, 3, 4).reshape(ny * h, nx * w, c)
    # a y-up plot draws image row 0 at the bottom: flip so the largest y is on top
    return np.ascontiguousarray(mosaic[::-1]), (x0, y0, x1 - x0, y1 - y0)


def _dataset_for(model):
    """The bundled dataset the model was made for (by its metrics, else by its image size)."""
    from ..core.data.datasets import load_dataset

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
    from ..core.data.images import load_files, load_folder

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
    from ..core.latent.project import fit_projection, point_density

    t0 = time.perf_counter()
    model = ctx.model
    skipped, paths = [], None
    if getattr(model, "slow_decoder", False):
        limit = min(limit, SLOW_MAP_POINTS)
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
            from .spatial_tasks import interruptible

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
    interp = _interpolator(proj.xy, mean) if method != "identity" else None
    kl = active = None
    if logvar is not None:
        from ..core.metrics import ACTIVE_KL_THRESHOLD, kl_per_dim_from_posteriors

        kl = kl_per_dim_from_posteriors(mean.reshape(n, -1), logvar.reshape(n, -1)).astype(np.float32)
        active = kl > ACTIVE_KL_THRESHOLD
    return MapData(name, images, labels, mean, logvar, np.concatenate(errs).astype(np.float32), proj, interp,
                   point_density(proj.xy), kl, active, skipped, time.perf_counter() - t0, paths, images_dir)


def _interpolator(xy: np.ndarray, mean: np.ndarray):
    """The Delaunay blend over the map, or None where there are too few points for one (a
    handful of images: a click then takes the nearest image's latent)."""
    from ..core.latent.project import MapInterpolator

    if len(xy) < 4:
        return None
    try:
        return MapInterpolator(xy, mean)
    except Exception:  # qhull refuses degenerate layouts (all points on a line)
        return None


def reproject(ctx, data: MapData, method: str) -> MapData:
    from dataclasses import replace

    from ..core.latent.project import fit_projection, point_density

    ctx.progress(0, 0, f"projecting {len(data.mean):,} points with {method}…")
    t0 = time.perf_counter()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one OpenMP/BLAS thread: the GUI thread keeps the other core
        # t-SNE / UMAP in a child process (one thread): a cancel or a newer choice kills it at once
        proj = fit_projection(data.mean, method, poll=ctx.checkpoint)
    ctx.checkpoint()
    interp = _interpolator(proj.xy, data.mean) if method != "identity" else None
    return replace(data, projection=proj, interpolator=interp, density=point_density(proj.xy),
                   seconds=time.perf_counter() - t0)


def _no_data(model, why: str = "", skipped=None):
    from ..core.errors import UserError

    if skipped:
        err = UserError(f"no images to map ({why}); {len(skipped)} file(s) skipped: see the skipped-files report")
        err.skipped = skipped
        return err
    return UserError(f"no images to map for {model.name or model.spec}" + (f" ({why})" if why else "") +
                     ": open a folder of images (File → Open images…)")


def export_morph(ctx, path: str, frames: np.ndarray, fps: int, recipe: dict) -> str:
    from ..core.export import save_animation

    model = ctx.model
    recipe = dict(recipe)
    if hasattr(model, "weights_hash"):
        recipe.setdefault("model_hash", model.weights_hash())
    save_animation(path, frames, fps=fps, recipe=recipe)
    return path


def model_hash(ctx) -> str:
    """The current model's weights hash ("" for models without one), for sessions and recipes."""
    m = ctx.model
    return m.weights_hash() if hasattr(m, "weights_hash") else ""


def export_traversal_grid(ctx, path: str, z: np.ndarray, dims: list[int], steps: int, value_range: float,
                          recipe: dict) -> str:
    """A PNG grid: one row per dimension in ``dims`` swept over [−range, +range] around ``z``."""
    from ..core.export import make_grid, save_png

    grid = traversal(ctx, z, steps=steps, value_range=value_range, dims=dims)
    ctx.checkpoint()
    recipe = with_model_hash(ctx.model, dict(recipe, kind="traversal", latent=np.asarray(z, np.float32), dims=list(dims),
                                        steps=steps, range=value_range))
    save_png(path, make_grid(grid, pad=2), recipe)
    return path


def export_sample_grid(ctx, path: str, n: int, seed: int, temperature: float, recipe: dict) -> str:
    """A PNG grid of ``n`` decoded prior samples z ~ N(0, T²·I) drawn with ``seed``."""
    from ..core.export import make_grid, save_png

    z = ctx.model.sample_prior(n, seed=seed, temperature=temperature)
    imgs = ctx.model.decode(z)
    recipe = with_model_hash(ctx.model, dict(recipe, kind="samples", n=n, seed=seed, temperature=temperature))
    save_png(path, make_grid(imgs, pad=2), recipe)
    return path
