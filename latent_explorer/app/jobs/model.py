"""Jobs that load or change the worker's model: load, working size, device, warm-up, weights hash.

``ModelSummary`` is what the GUI learns about a loaded model. No Qt.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

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
    #: tiers.DecodeTiers: slow decoder?, approximate preview, precision, notices
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


def summarize(model, seconds: float = 0.0) -> ModelSummary:
    from ...core.device import available_devices
    from .tiers import describe

    info = model.info()
    return ModelSummary(
        spec=model.spec, name=model.name or model.spec, kind=info.get("kind", type(model).__name__),
        latent_shape=tuple(model.latent_shape), image_size=tuple(model.image_size), channels=model.channels,
        device=str(model.device), devices=available_devices(), metrics=dict(getattr(model, "metrics", {}) or {}),
        parameters=info.get("parameters"), seconds=seconds, tiers=describe(model),
        resizable=hasattr(model, "set_size"))


def load(ctx, spec: str, device: str = "auto", precision: str = "fp32", allow_pickle: bool = False,
         size: int | None = None):
    """Import torch (first time only), load the model and make it the worker's model.

    ``precision`` "auto" is bf16 full decodes where they are fast (CUDA, a CPU with bf16 units);
    a slow decoder's approximate preview is fitted here, before the model is handed over.
    """
    t0 = time.perf_counter()
    ctx.progress(0, 0, f"loading model {spec}…")
    from ...core.models.loading import load_model
    from .tiers import prepare, resolve_precision

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
    from ...core.device import resolve_device

    dev = resolve_device(device)
    ctx.model.to(dev)
    return summarize(ctx.model)


def model_hash(ctx) -> str:
    """The current model's weights hash ("" for models without one), for sessions and recipes."""
    m = ctx.model
    return m.weights_hash() if hasattr(m, "weights_hash") else ""


def adopt(ctx, latent_model) -> ModelSummary:
    """Use a ready LatentModel (tests, scripts) as the worker's model."""
    ctx.set_model(latent_model)
    return summarize(latent_model)


def set_precision(ctx, precision: str) -> ModelSummary:
    """Full decodes in ``precision`` ("bf16" or "fp32")."""
    from .tiers import set_precision as set_tier_precision

    set_tier_precision(ctx, precision)
    return summarize(ctx.model)


def pair_preview(ctx, spec: str) -> ModelSummary:
    """A TAESD model (folder, file or hub id) for a slow decoder's approximate preview."""
    from .tiers import pair_preview as pair_tier

    pair_tier(ctx, spec)
    return summarize(ctx.model)
