"""Slow decoders (a Stable Diffusion VAE on a CPU): approximate previews and interruptible full decodes.

Plain ``fn(ctx, ...)`` jobs, no Qt:
- ``approx`` decodes with the model's fast approximate preview (milliseconds);
- ``final`` is the full decode. It runs *interruptibly*: while it runs, a torch forward
  pre-hook calls ``ctx.checkpoint()`` between the decoder's layers, so an approximate preview
  requested meanwhile is served at once, and a full decode that went stale (the user moved on)
  stops within one layer instead of finishing seconds of useless work. It uses every CPU core
  (``all_cores``); everything else on the worker runs on one torch thread;
- ``strip`` morph frames, approximate first and then final, frame by frame;
- ``prepare`` fits the approximate preview right after loading and reports the model's
  decoding tiers, precision and notices; ``set_precision`` toggles the bf16 full decode;
  ``pair_preview`` pairs a TAESD for the approximate previews.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .common import Decoded, Strip

#: how often (seconds) a running full decode looks for waiting previews / cancellation
CHECK_EVERY_S = 0.02


@dataclass
class DecodeTiers:
    """How the loaded model decodes, for the GUI (tier labels, settings, banner)."""

    slow: bool = False            # the full decode takes seconds: use approximate previews
    preview: str = "none"         # "linear", "learned", "taesd" or "none"
    spatial: bool = False         # latents are C×h×w
    precision: str = "fp32"       # the full decode's precision now
    dtype: str = "float32"
    lowp_default: bool = False    # reduced precision is fast here (bf16 units or CUDA)
    lowp_units: list = field(default_factory=list)
    lowp_supported: bool = False  # the model can decode in reduced precision (diffusers VAEs)
    notices: list = field(default_factory=list)
    seconds: float = 0.0


def can_approximate(model) -> bool:
    return bool(getattr(model, "slow_decoder", False)) and hasattr(model, "approx_decode")


def pop_notices(model) -> list[str]:
    notes = getattr(model, "notices", None)
    if not notes:
        return []
    out = list(notes)
    notes.clear()
    return out


def lowp_default(device: str) -> tuple[bool, list]:
    """bf16 full decodes on by default only where they are fast: CUDA, or a CPU with bf16 units."""
    if str(device).startswith("cuda"):
        return True, ["cuda"]
    try:
        from ...core.models.diffusers_vae import cpu_bf16_units
    except ImportError:  # pragma: no cover - diffusers is a dependency
        return False, []
    units = cpu_bf16_units()
    return bool(units), units


def describe(model, seconds: float = 0.0) -> DecodeTiers:
    from ...core.latent.directions import is_spatial

    on, units = lowp_default(getattr(model, "device", "cpu"))
    return DecodeTiers(slow=can_approximate(model), preview=str(getattr(model, "preview_kind", "none")),
                       spatial=is_spatial(model.latent_shape), precision=str(getattr(model, "precision", "fp32")),
                       dtype=str(getattr(model, "dtype", "float32")), lowp_default=on, lowp_units=units,
                       lowp_supported=hasattr(model, "precision") and hasattr(model, "decode_dtype"),
                       notices=pop_notices(model), seconds=seconds)


def prepare(ctx, model=None) -> DecodeTiers:
    """Right after loading: fit the approximate preview of a slow decoder (a few seconds)."""
    t0 = time.perf_counter()
    model = ctx.model if model is None else model
    if can_approximate(model) and getattr(model, "preview_kind", "none") == "none" and hasattr(model, "fit_preview"):
        ctx.progress(0, 0, "fitting the fast approximate preview…")
        model.fit_preview()
    return describe(model, time.perf_counter() - t0)


def set_precision(ctx, precision: str) -> DecodeTiers:
    """Switch the full decode between fp32 and a reduced precision (bf16 / fp16)."""
    model = ctx.model
    if hasattr(model, "set_precision"):  # models without reduced precision keep decoding in fp32
        model.set_precision(precision)
    return describe(model)


def resolve_precision(precision: str | None, device: str) -> str:
    """The GUI's "auto": bf16 full decodes where they are fast (CUDA, bf16 CPU units), else fp32."""
    if precision in (None, "", "auto"):
        from ...core.device import resolve_device

        return "bf16" if lowp_default(resolve_device(device))[0] else "fp32"
    return precision


def pair_preview(ctx, spec: str) -> DecodeTiers:
    """Load a TAESD (AutoencoderTiny) and use it for the current model's approximate previews."""
    from ...core.errors import UserError
    from ...core.models.loading import load_model

    model = ctx.model
    if not hasattr(model, "pair_preview_decoder"):
        raise UserError("only Stable Diffusion-style VAEs take a TAESD preview decoder")
    tiny = load_model(str(spec), device=getattr(model, "device", "cpu"))
    if getattr(tiny, "slow_decoder", False) or not hasattr(tiny, "latent_channels"):
        raise UserError(f"{spec}: a preview decoder must be a TAESD (AutoencoderTiny) model")
    model.pair_preview_decoder(tiny)
    return describe(model)


@contextmanager
def interruptible(ctx, every_s: float = CHECK_EVERY_S):
    """Within the block, torch modules run on this thread call ``ctx.checkpoint()`` (at most every
    ``every_s``): urgent requests are served between layers; a cancelled request raises Cancelled."""
    import torch

    me = threading.get_ident()
    st = {"t": time.perf_counter(), "busy": False}

    def hook(module, args):
        if st["busy"] or threading.get_ident() != me:
            return None
        now = time.perf_counter()
        if now - st["t"] < every_s:
            return None
        st["busy"] = True  # a preview served from here runs modules too: no nested checkpoints
        try:
            ctx.checkpoint()
        finally:
            st["busy"] = False
            st["t"] = time.perf_counter()
        return None

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def all_cores(ctx):
    """Within the block, torch on the CPU uses every core (the worker keeps one thread otherwise,
    so that the GUI thread has a core while the user drags). For the seconds-long full decodes
    that run when the user has paused: about twice as fast on two idle cores. Not when the
    machine is busy (a training in the app, another program): the threads' spin-waits on a
    loaded CPU cost more than a second thread gains."""
    import os

    import torch

    device = str(getattr(ctx.model, "device", "cpu"))
    before = torch.get_num_threads()
    want = max(1, os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0] >= want - 0.5
    except OSError:  # no load average on this platform
        busy = False
    if not device.startswith("cpu") or want <= before or busy:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def approx(ctx, z: np.ndarray, extra: dict | None = None) -> Decoded:
    t0 = time.perf_counter()
    z = np.asarray(z, np.float32)
    img = ctx.model.approx_decode(z[None])[0]
    kind = str(getattr(ctx.model, "preview_kind", ""))
    return Decoded(z, img, time.perf_counter() - t0, dict(extra or {}, final=False, preview=kind))


def final(ctx, z: np.ndarray, extra: dict | None = None) -> Decoded:
    t0 = time.perf_counter()
    z = np.asarray(z, np.float32)
    ctx.checkpoint()
    with interruptible(ctx), all_cores(ctx):
        img = ctx.model.decode(z[None])[0]
    return Decoded(z, img, time.perf_counter() - t0, dict(extra or {}, final=True, notices=pop_notices(ctx.model)))


def strip(ctx, keys: np.ndarray, frames: int, method: str, endpoints=(), final_frames: bool = False):
    """A morph strip for a slow decoder: approximate frames, or full ones decoded one by one
    (interruptible, with progress), so the preview never waits behind a whole strip."""
    from ...core.latent import interpolate, path

    keys = np.asarray(keys, np.float32)
    zs = interpolate(keys[0], keys[1], frames, method) if len(keys) == 2 else path(keys, frames, method)
    model = ctx.model
    if not final_frames:
        imgs = model.approx_decode(zs)
    else:
        out = []
        with interruptible(ctx), all_cores(ctx):
            for i, z in enumerate(zs):
                ctx.checkpoint()
                out.append(model.decode(z[None]))
                ctx.progress(i + 1, len(zs), f"decoding morph frames {i + 1} / {len(zs)}")
        imgs = np.concatenate(out)
    s = Strip(zs, imgs, method, tuple(endpoints), keys)
    s.final = final_frames
    return s
