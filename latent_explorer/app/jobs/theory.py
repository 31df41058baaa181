"""Jobs of the Theory panel: the selected image in numbers, an edited latent in numbers, and
posterior samples z = μ + σ·ε. Plain ``fn(ctx, ...)`` functions run by the worker; no Qt.

The numbers are those the training loss uses (``core.explain``): KL(q(z|x) ‖ N(0, I)) per
dimension and in total, the reconstruction term −log p(x|z) in nats, and their sum with β as
the model was trained (β = 1 is the −ELBO itself). A model without a reconstruction likelihood
(a Stable Diffusion VAE) still shows μ and σ; its reconstruction term is None.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ImageNumbers:
    mean: np.ndarray           # D
    logvar: np.ndarray         # D
    kl_per_dim: np.ndarray     # D, nats
    kl_nats: float
    recon_nats: float | None   # −log p(x | z) at one z = μ + σ·ε (as training scores it); None without one
    beta: float

    @property
    def var(self) -> np.ndarray:
        return np.exp(self.logvar)

    @property
    def neg_elbo_nats(self) -> float | None:
        """β = 1: reconstruction + KL."""
        return None if self.recon_nats is None else self.recon_nats + self.kl_nats

    @property
    def objective_nats(self) -> float | None:
        """What training minimised for this image: reconstruction + β·KL."""
        return None if self.recon_nats is None else self.recon_nats + self.beta * self.kl_nats


@dataclass
class LatentNumbers:
    log_prior: float           # log N(z; 0, I), nats
    log_prior_peak: float      # its largest value (at z = 0), for scale
    recon_nats: float | None   # −log p(x | z) for the selected image


@dataclass
class PosteriorDraws:
    eps: np.ndarray            # k×D, ε ~ N(0, I)
    sigma_eps: np.ndarray      # k×D, σ·ε
    z: np.ndarray              # k×*latent_shape, μ + σ·ε
    images: np.ndarray         # uint8 k×H×W×C, their decodes
    seed: int


def has_likelihood(model) -> bool:
    from ...core.explain import has_likelihood as core_has

    return core_has(model)


def model_beta(model) -> float:
    cfg = (model.info().get("config") or {}) if hasattr(model, "info") else {}
    beta = cfg.get("beta")
    return 1.0 if beta is None else float(beta)


def image_numbers(ctx, image: np.ndarray) -> ImageNumbers:
    """The posterior of one uint8 H×W×C image and its −ELBO split, exactly as ``explain`` and
    ``evaluate`` compute them (the reconstruction term scored at one z = μ + σ·ε, as in training)."""
    from ...core import explain

    model = ctx.model
    if has_likelihood(model):
        r = explain.explain(model, image[None])[0]
        return ImageNumbers(r["mean"], r["logvar"], r["kl_per_dim"], r["kl_nats"], r["recon_nats"], model_beta(model))
    mean, logvar = explain.posterior(model, image[None])
    if logvar is None:  # a deterministic encoder (TAESD): no distribution to show
        logvar = np.full_like(mean, -np.inf)
    kl = explain.kl_per_dim(mean, logvar)[0]
    return ImageNumbers(mean[0], logvar[0], kl, float(kl.sum()), None, model_beta(model))


def latent_numbers(ctx, image: np.ndarray | None, z: np.ndarray) -> LatentNumbers:
    """log p(z) under the prior and, for the selected image, −log p(x | z): "moving off the data" in numbers."""
    from ...core import explain

    model = ctx.model
    flat = np.asarray(z, np.float32).reshape(1, -1)
    recon = None
    if image is not None and has_likelihood(model):
        recon = float(explain.recon_nats(model, image[None], flat.reshape(1, *model.latent_shape))[0])
    peak = float(explain.log_prior(np.zeros_like(flat))[0])
    return LatentNumbers(float(explain.log_prior(flat)[0]), peak, recon)


def posterior_draws(ctx, mean: np.ndarray, logvar: np.ndarray, k: int, seed: int) -> PosteriorDraws:
    """k samples z = μ + σ·ε of q(z|x), decoded (the reparameterisation, step by step)."""
    from ...core import explain

    model = ctx.model
    mean = np.asarray(mean, np.float32).reshape(-1)
    logvar = np.asarray(logvar, np.float32).reshape(-1)
    eps, z = explain.sample_posterior(mean[None], logvar[None], k, seed)
    eps, z = np.asarray(eps).reshape(k, -1), np.asarray(z, np.float32).reshape(k, -1)
    images = model.decode(z.reshape(k, *model.latent_shape))
    return PosteriorDraws(eps, eps * np.exp(0.5 * logvar)[None], z.reshape(k, *model.latent_shape), images, seed)


def numbers(ctx, image: np.ndarray | None, z: np.ndarray) -> tuple[ImageNumbers | None, LatentNumbers]:
    """The Theory panel's numbers in one request: the selected image's (if any) and the latent ``z``'s."""
    return (None if image is None else image_numbers(ctx, image)), latent_numbers(ctx, image, z)
