"""One image's ELBO, term by term: what the encoder says about it and what the loss makes of it.

The VAE as the product teaches it: the encoder maps an image x to a posterior
q(z|x) = N(μ, diag σ²) (``posterior``); the prior is p(z) = N(0, I) (``log_prior``); the
negative ELBO of x is the reconstruction term −log p(x|z) (``recon_nats``) plus
KL(q(z|x) ‖ p(z)), which is a sum over latent dimensions of −½(1 + log σ² − μ² − σ²)
(``kl_per_dim``). Latents are drawn with the reparameterisation z = μ + σ·ε, ε ~ N(0, I)
(``sample_posterior``). ``explain`` puts it all together per image. Everything is in nats,
with β = 1 (the classic ELBO, whatever β a model was trained with).

The numbers are the ones ``core.metrics.evaluate`` reports, image by image: the same
likelihood (binary cross-entropy of the pixels in [0, 1] against the decoder's logits, summed
over pixels and channels, as ``ConvVAE.loss``), the same preprocessing (``model.prepare``, /255)
and the same single reparameterised sample for the reconstruction term (``elbo_latents``:
ε from a torch generator seeded ``ELBO_SEED`` on the model's device, drawn in batches of
``ELBO_BATCH`` images in order). So the mean of ``explain``'s numbers over a test split equals
``evaluate``'s. Only models with a likelihood (the project's ConvVAE: ``decode_logits``) have a
reconstruction term; a diffusers VAE decodes to pixels, not to a distribution over them.

Qt-free: the CLI's ``explain`` and the GUI's Theory panel both use it.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import UserError

#: how ``core.metrics.evaluate`` draws the reconstruction term's ε: this seed, these batches
ELBO_SEED = 1234
ELBO_BATCH = 500


def has_likelihood(model) -> bool:
    """True for models whose decoder outputs a distribution over pixels (``decode_logits``)."""
    return callable(getattr(getattr(model, "vae", None), "decode_logits", None))


def require_likelihood(model):
    """The model's ConvVAE, or a one-line ``UserError`` for a model without a likelihood."""
    if not has_likelihood(model):
        name = getattr(model, "spec", "") or getattr(model, "name", "") or type(model).__name__
        raise UserError(f"{name}: this model has no reconstruction likelihood (its decoder outputs pixels, "
                        f"not a distribution over them), so its ELBO cannot be computed; use a ConvVAE "
                        f"model such as digits")
    return model.vae


def posterior(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """q(z|x) of each image: (μ, log σ²), float32 N×D (the latents flattened; D = latent size).

    ``model.encode`` as it is, flattened; images are uint8 N×H×W×C of any size (``encode`` fits
    them). ``logvar`` is None for a deterministic encoder (TAESD), which has no posterior spread.
    """
    mean, logvar = model.encode(images)
    mean = np.asarray(mean, np.float32).reshape(len(mean), -1)
    if logvar is not None:
        logvar = np.asarray(logvar, np.float32).reshape(len(logvar), -1)
    return mean, logvar


def kl_per_dim(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(μ, σ²) ‖ N(0, 1)) per dimension, in nats: −½(1 + log σ² − μ² − σ²), elementwise.

    Same shape and float type as the inputs (N×D from ``posterior``). Zero where μ = 0 and
    σ = 1: a dimension the posterior does not move from the prior costs nothing and says nothing.
    """
    mean, logvar = np.asarray(mean), np.asarray(logvar)
    return -0.5 * (1 + logvar - mean ** 2 - np.exp(logvar))


def log_prior(z: np.ndarray) -> np.ndarray:
    """log N(z; 0, I) per latent, in nats: −½‖z‖² − (D/2)·log 2π; z is N×*latent_shape -> N float64."""
    z = np.asarray(z, np.float64)
    z = z.reshape(len(z), -1)
    return -0.5 * (z ** 2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def sample_posterior(mean: np.ndarray, logvar: np.ndarray, k: int, seed: int | None = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """k reparameterised draws per image: (ε, z) with ε ~ N(0, I) and z = μ + σ·ε, float32.

    For one image (μ and log σ² of shape D) both are k×D. For N images (N×D) both are N×k×D:
    one ``np.random.default_rng(seed).standard_normal((N, k, D))`` block, so image i gets the
    values after the first i·k·D (the first image gets the same draws as it would alone).
    """
    mean = np.asarray(mean, np.float32)
    logvar = np.asarray(logvar, np.float32)
    if mean.shape != logvar.shape or mean.ndim not in (1, 2):
        raise ValueError(f"mean and logvar must both be D or N×D, got {mean.shape} and {logvar.shape}")
    k = int(k)
    if k < 0:
        raise ValueError(f"k must be 0 or more, got {k}")
    one = mean.ndim == 1
    m, lv = (mean[None], logvar[None]) if one else (mean, logvar)
    eps = np.random.default_rng(seed).standard_normal((len(m), k, m.shape[1])).astype(np.float32)
    z = m[:, None] + np.exp(np.float32(0.5) * lv[:, None]) * eps
    return (eps[0], z[0]) if one else (eps, z)


def elbo_latents(mean: np.ndarray, logvar: np.ndarray, device="cpu", seed: int = ELBO_SEED,
                 batch_size: int = ELBO_BATCH) -> np.ndarray:
    """The one z = μ + σ·ε per image that ``evaluate``'s reconstruction term is scored at.

    ε comes from ``torch.Generator(device).manual_seed(seed)``, ``torch.randn`` of one batch of
    ``batch_size`` posteriors after another, exactly as ``ConvVAE.loss`` draws it inside
    ``core.train.evaluate_loss``. An image's ε thus depends on its place in its batch: the same
    image alone always gets the stream's first draw. Returns float32 N×D.
    """
    mu = torch.as_tensor(np.asarray(mean, np.float32)).to(device)
    lv = torch.as_tensor(np.asarray(logvar, np.float32)).to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    out = []
    for i in range(0, len(mu), batch_size):
        m, v = mu[i:i + batch_size], lv[i:i + batch_size]
        eps = torch.randn(m.shape, generator=gen, device=m.device, dtype=m.dtype)
        out.append(m + (0.5 * v).exp() * eps)  # ConvVAE.reparameterize, operation for operation
    return torch.cat(out).cpu().numpy() if out else np.zeros(tuple(mu.shape), np.float32)


@torch.inference_mode()
def recon_nats(model, images: np.ndarray, z: np.ndarray, batch_size: int = ELBO_BATCH) -> np.ndarray:
    """The reconstruction term −log p(x|z) of each image at its latent, in nats: N float64.

    The likelihood the ConvVAE is trained with: every pixel in [0, 1] (``model.prepare``, /255)
    scored by binary cross-entropy against ``decode_logits(z)``, summed over pixels and
    channels, as ``ConvVAE.loss`` computes it. Images are uint8 N×H×W×C, z is N×*latent_shape
    (or N×D). A model without a likelihood (a diffusers VAE) raises ``UserError``.
    """
    vae = require_likelihood(model)
    x_all = model.prepare(images)
    z = np.asarray(z, np.float32)
    if len(z) != len(x_all):
        raise ValueError(f"{len(x_all)} images but {len(z)} latents")
    z = z.reshape(len(z), *model.latent_shape)
    out = []
    for i in range(0, len(x_all), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(x_all[i:i + batch_size])).permute(0, 3, 1, 2)
        x = x.to(model.device).float().div_(255)
        logits = vae.decode_logits(torch.from_numpy(z[i:i + batch_size]).to(model.device))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        out.append(bce.double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def explain(model, images: np.ndarray, samples: int = 0, seed: int | None = 0) -> list[dict]:
    """Each image's posterior and ELBO split, in nats (β = 1), as ``evaluate`` computes them.

    Per image a dict: ``mean`` and ``logvar`` (float32 D), ``kl_per_dim`` (D), ``kl_nats``,
    ``recon_nats`` and ``neg_elbo_nats`` = recon + KL (floats), and ``recon_z``, the latent
    the reconstruction term was scored at. That term is a single-sample estimate at a
    *sampled* z = μ + σ·ε, not at z = μ, because ``evaluate`` samples (``elbo_latents``: the
    same ε stream, batches of ``ELBO_BATCH`` in order), so the mean over a test split equals
    ``evaluate``'s. With ``samples`` = k > 0 also ``samples`` (k×D latents from
    ``sample_posterior(μ, log σ², k, seed)``) and ``decodes`` (their k uint8 H×W×C images).
    Raises ``UserError`` for a model without a reconstruction likelihood.
    """
    require_likelihood(model)
    samples = int(samples)
    if samples < 0:
        raise ValueError(f"samples must be 0 or more, got {samples}")
    # a fresh C-order copy: fitted images can carry a 0 stride (a grey channel added as a view), and
    # torch picks another convolution kernel for such strides, which moves μ in the 7th digit
    images = np.array(model.prepare(images), order="C")
    mean, logvar = posterior(model, images)
    kld = kl_per_dim(mean, logvar)
    z = elbo_latents(mean, logvar, model.device)
    rec = recon_nats(model, images, z)
    kl = kld.astype(np.float64).sum(1)
    out = [{"mean": mean[i], "logvar": logvar[i], "kl_per_dim": kld[i], "kl_nats": float(kl[i]),
            "recon_nats": float(rec[i]), "neg_elbo_nats": float(rec[i] + kl[i]), "recon_z": z[i]}
           for i in range(len(mean))]
    if samples and len(mean):
        _, zs = sample_posterior(mean, logvar, samples, seed)
        decodes = model.decode(zs.reshape(-1, *model.latent_shape))
        decodes = decodes.reshape(len(mean), samples, *decodes.shape[1:])
        for r, s, d in zip(out, zs, decodes):
            r["samples"], r["decodes"] = s, d
    return out


def as_json(result: dict) -> dict:
    """One ``explain`` result as plain JSON values (lists and floats; the decoded images left out)."""
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in result.items() if k != "decodes"}
