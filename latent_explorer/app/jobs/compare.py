"""Comparing models: what β does, side by side. No Qt.

``rate_distortion_points`` reads every bundled and user-trained model's ``metrics.json`` (no
model is loaded): its test-split rate (KL nats) and distortion (reconstruction nats), grouped
by the data it was evaluated on. ``compare`` (a job for the compare worker, which owns the
models being compared, apart from the window's own) encodes one image and a sample of the
dataset with each model: the image's reconstruction and −ELBO terms, and each model's map of
the sample (for 2-d latents: the latent plane itself, where the prior is N(0, I)).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ModelPoint:
    name: str
    spec: str                 # what load_model takes
    data: str                 # the dataset it was evaluated on (mnist-5k, shapes, a folder)
    beta: float
    latent_dim: int
    kl_nats: float            # rate
    recon_nats: float         # distortion
    bundled: bool = True

    @property
    def neg_elbo_nats(self) -> float:
        return self.kl_nats + self.recon_nats


def _point(folder: Path, name: str, spec: str, bundled: bool) -> ModelPoint | None:
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        ev = metrics["evaluate"]
        return ModelPoint(name, spec, str(metrics.get("data") or ev.get("data", "?")).split("[")[0],
                          float(config.get("beta") if config.get("beta") is not None else 1.0),
                          int(config.get("latent_dim", 0)), float(ev["kl_nats"]), float(ev["recon_nats"]), bundled)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a folder without a finished evaluation: not on the plot


def rate_distortion_points(user_models: Path | None = None) -> list[ModelPoint]:
    """Every bundled model, and every model the user trained (folders under ``user_models``)."""
    from ...core.models.loading import bundled_models

    points = [_point(folder, name, name, True) for name, folder in bundled_models().items()]
    if user_models is not None and Path(user_models).is_dir():
        for folder in sorted(Path(user_models).iterdir()):
            if (folder / "metrics.json").is_file():
                points.append(_point(folder, folder.name, str(folder), False))
    return [p for p in points if p is not None]


@dataclass
class Comparison:
    point: ModelPoint
    reconstruction: np.ndarray            # uint8 H×W×C: the image decoded from its μ
    recon_nats: float | None              # the image's −ELBO terms (as explain/evaluate score them)
    kl_nats: float | None
    map_xy: np.ndarray | None = None      # N×2 posterior means of the sample (2-d latents only)
    labels: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def compare(ctx, points: list[ModelPoint], image: np.ndarray, sample: np.ndarray, labels, cache: dict) -> list:
    """Each model on one uint8 image and on ``sample`` (N×H×W×C). ``cache`` (spec -> model) is owned
    by the compare worker: models are loaded once."""
    from ...core import explain
    from ...core.models.loading import load_model

    out = []
    for p in points:
        ctx.checkpoint()
        model = cache.get(p.spec)
        if model is None:
            model = cache[p.spec] = load_model(p.spec, device="cpu")
        r = explain.explain(model, image[None])[0]
        rec = model.decode(r["mean"].reshape(1, *model.latent_shape))[0]
        xy = None
        if int(np.prod(model.latent_shape)) == 2:
            mean, _ = explain.posterior(model, sample)
            xy = mean.astype(np.float32)
        out.append(Comparison(p, rec, r["recon_nats"], r["kl_nats"], xy, labels))
    return out
