"""Jobs that give a spatial-latent VAE a learned approximate preview (``core.models.learned_preview``).

Request kind ``learn-preview`` (``app/requests.py``): the lowest rank, so every other request
waiting runs first, and each job is short:

- ``install_cached`` right after a model opens: the preview fitted for these weights earlier
  (``<data dir>/previews/<weights hash>.safetensors``), installed at once when there is one;
- ``fit_chunk`` fits for about ``CHUNK_S`` seconds and returns; the GUI asks for the next chunk
  when the result arrives. Between training steps it calls ``ctx.checkpoint()``, so a slider
  preview or a full decode asked for meanwhile runs at once, nested. The last chunk compares the
  learned and the linear preview on held-out pairs, and installs (and caches) the learned one
  only when it is better there;
- a second fit, ``fit_chunk(..., targets="decodes")``, on (latent, full decode) pairs that
  ``learned_decodes.py`` made while the worker was idle: the preview stands in for the full
  decode, which is not the image. It starts from the installed learned preview's weights when
  there is one of the same shape (a warm start, ``WARM_STEPS`` steps; measured on photos-sd by
  ``bench/preview_quality.py``), afresh otherwise (the image fit lost to the linear map, a cached
  preview of another shape). Its held-out pairs are judged against their full decodes, and
  it replaces the installed preview only when it also beats that one there. The cache notes the
  targets (``FitReport.targets``), so a preview cached from images is improved on a later opening;
  when the refit loses, the cached preview in use is saved again marked ``decodes_checked``, so
  a later opening does not decode the map again (minutes of CPU) for the same outcome.
No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tiers import can_approximate, describe

#: seconds of fitting per request: what a non-nested request (a morph strip, an export) may wait
CHUNK_S = 0.25
#: a learned preview must beat the linear one on held-out pairs by this much (dB) to replace it
MIN_GAIN_DB = 0.5
#: fewer pairs than this are too few to fit and to judge a preview on: the linear one stays
MIN_PAIRS = 32
#: training steps of a fit from scratch (about 15 s on one CPU thread)
FIT_STEPS = 1200
#: training steps of the refit on full decodes when it starts from the installed preview's weights:
#: on photos-sd's 64 decodes 28.45 dB against the held-out full decodes in 3.2 s (200: 28.21 dB,
#: 400: 28.32, 600: 28.34), against 28.08 dB in 12.7 s from scratch (``bench/preview_quality.py``)
WARM_STEPS = 300
KIND = "learn-preview"


def cache_folder() -> Path:
    from ...core.session import data_dir

    return data_dir() / "previews"


def cache_path(model) -> Path:
    return cache_folder() / f"{model.weights_hash()}.safetensors"


def supports(model) -> bool:
    """A slow decoder with spatial latents previewed by its linear map (a paired TAESD stays)."""
    from ...core.latent.directions import is_spatial

    return (can_approximate(model) and hasattr(model, "set_learned_preview") and is_spatial(model.latent_shape)
            and getattr(model, "preview_kind", "none") in ("linear", "none", "learned"))


@dataclass
class FitState:
    """What the GUI keeps between chunks: the fitter (touched on the worker only) and the weights it is for."""

    fitter: object = None
    model_hash: str = ""


@dataclass
class FitReport:
    done: bool
    fraction: float
    installed: bool = False
    psnr: float = 0.0           # learned preview, held-out pairs (dB)
    linear_psnr: float = 0.0    # linear preview, same pairs
    seconds: float = 0.0        # time spent fitting
    parameters: int = 0
    cached: bool = False        # installed from the cache
    tiers: object = None        # tiers.DecodeTiers after installing
    targets: str = "images"     # what it was fitted (and judged) on: "images" or "decodes" (full decodes)
    previous_psnr: float = 0.0  # the preview installed before it, on the same held-out pairs (0: none)
    pairs: int = 0              # training pairs it was fitted on
    decodes_checked: bool = False  # a refit on full decodes was tried for these weights: not again


def install_cached(ctx) -> FitReport:
    """The learned preview fitted earlier for these weights, installed; ``done`` False when there is none."""
    from ...core.models.learned_preview import LearnedPreview

    model = ctx.model
    if not supports(model):
        return FitReport(done=True, fraction=1.0)
    path = cache_path(model)
    if not path.exists():
        return FitReport(done=False, fraction=0.0)
    try:
        learned = LearnedPreview.load(path)
        model.set_learned_preview(learned)
    except Exception:  # a corrupt or mismatched file: fit again (and overwrite it)
        return FitReport(done=False, fraction=0.0)
    return FitReport(True, 1.0, True, learned.psnr, learned.linear_psnr, learned.seconds, learned.parameters,
                     cached=True, tiers=describe(model), targets=learned.targets, pairs=learned.pairs,
                     decodes_checked=learned.decodes_checked or learned.targets == "decodes")


def fit_chunk(ctx, state: FitState, latents: np.ndarray, images: np.ndarray, seconds: float = CHUNK_S,
              steps: int | None = None, targets: str = "images", **fit_options) -> FitReport:
    """Fit the learned preview for about ``seconds`` (``steps``: exactly that many steps, for tests);
    ``targets`` "decodes" when ``images`` are the full decodes of ``latents``."""
    from ...core.errors import Cancelled
    from ...core.models.learned_preview import PreviewFitter

    model = ctx.model
    if not supports(model):
        return FitReport(done=True, fraction=1.0)
    if state.fitter is None:
        state.model_hash = model.weights_hash()
        current = getattr(model, "learned_preview", None) if targets == "decodes" else None
        told = "steps" in fit_options
        fit_options.setdefault("steps", FIT_STEPS)
        state.fitter = PreviewFitter(latents, images, model.factor, linear=model.linear_decode, targets=targets,
                                     init=current.net if current is not None else None, **fit_options)
        if state.fitter.warm and not told:  # it starts from the installed preview of its shape: fewer steps
            state.fitter.steps = WARM_STEPS
    elif state.model_hash != model.weights_hash():
        raise Cancelled()  # another model since: this fit is of no use
    fitter = state.fitter
    done = fitter.run(seconds=None if steps else seconds, steps=steps, checkpoint=ctx.checkpoint)
    if not done:
        return FitReport(False, fitter.fraction, seconds=fitter.seconds, targets=targets)
    learned = fitter.result(checkpoint=ctx.checkpoint)
    current = getattr(model, "learned_preview", None)  # (a refit must beat the preview it would replace)
    previous = fitter.score(current.decode, ctx.checkpoint) if current is not None else 0.0
    better = learned.psnr >= learned.linear_psnr + MIN_GAIN_DB and learned.psnr > previous
    checked = targets == "decodes"
    keep = learned if better else current if checked and current is not None else None
    if keep is not None:  # the new preview, or the one in use, now known to beat a refit on decodes
        keep.decodes_checked = keep.decodes_checked or checked
        if better:
            model.set_learned_preview(learned)
        try:
            keep.save(cache_path(model))
        except OSError:  # a read-only data folder: it is fitted (and checked) again next time
            pass
    return FitReport(True, 1.0, better, learned.psnr, learned.linear_psnr, learned.seconds, learned.parameters,
                     tiers=describe(model), targets=learned.targets, previous_psnr=previous,
                     pairs=learned.pairs, decodes_checked=checked)
