"""What the subcommands share: the model from the options, a recipe stamped with its weights hash,
the export settings, the input images checked and encoded. Each ``*_cmd.py`` and ``commands.py``
import from here (never from each other).
"""
from __future__ import annotations

from ..core.errors import UserError
from . import paths

MAX_INPUT_IMAGES = 10_000


def load(a):
    from ..core.models.loading import load_model

    paths.existing("--config", a.config)
    extra = {k: v for k, v in (("size", a.size), ("config", a.config)) if v is not None}
    return load_model(a.model, device=a.device, precision=a.precision, allow_pickle=a.allow_pickle, **extra)


def recipe(model, **kw) -> dict:
    r = {"model": model.spec or model.name}
    if hasattr(model, "weights_hash"):
        r["model_hash"] = model.weights_hash()
    r.update(kw)
    return r


def export_settings(a, animated: bool = False):
    """The export options as ``ExportSettings`` (their bounds were checked by the parser)."""
    from ..core.export_settings import ExportSettings

    if not animated:
        return ExportSettings(scale=a.scale, filter=a.filter)
    return ExportSettings(scale=a.scale, size=a.out_size, filter=a.filter, fps=a.fps, ease=a.ease, loop=a.loop,
                          frames=a.frames, quality=a.quality)


def input_images(values, least: int = 1) -> list[str]:
    if len(values) < least:
        raise UserError(f"needs at least {least} images, got {len(values)}")
    if len(values) > MAX_INPUT_IMAGES:
        raise UserError(f"{len(values)} images is too many at once (at most {MAX_INPUT_IMAGES})")
    for v in values:
        paths.input_file("", v)
    return list(values)


def encode_files(model, files):
    import numpy as np

    from ..core.data.images import fit_to_size, load_image

    imgs = [load_image(p) for p in files]
    batch = np.stack([fit_to_size(im[None], model.image_size, model.channels)[0] for im in imgs])
    mean, _ = model.encode(batch)
    return batch, mean


def check_grid_memory(n: int, model, settings, hint: str) -> None:
    """Refuse a grid of ``n`` decodes that would not fit the export's memory budget, before decoding."""
    from ..core.export_settings import check_memory, grid_bytes

    check_memory(grid_bytes(n, *model.image_size, model.channels, settings), f"a grid of {n} images", hint)
