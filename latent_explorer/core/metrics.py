"""Model quality: ELBO terms, KL per dimension, active dimensions, and MIG.

All in nats per image. ``mig`` follows disentanglement_lib's ``compute_mig`` exactly:
posterior means of fresh samples, each latent dimension discretised into 20 equal-width
bins, discrete mutual information with each ground-truth factor, the gap between the best
two dimensions normalised by the factor's entropy, averaged over factors.
"""
from __future__ import annotations

import numpy as np
import torch

from .explain import ELBO_BATCH, ELBO_SEED, kl_per_dim

ACTIVE_KL_THRESHOLD = 0.01  # nats; a dimension whose average KL is below this carries nothing


def histogram_discretize(x: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Per column: np.digitize against np.histogram's bin edges (as disentanglement_lib)."""
    out = np.zeros_like(x, dtype=np.int64)
    for j in range(x.shape[1]):
        edges = np.histogram(x[:, j], num_bins)[1][:-1]
        out[:, j] = np.digitize(x[:, j], edges)
    return out


def mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Discrete mutual information in nats (the same as sklearn's mutual_info_score)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    joint = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(joint, (ai, bi), 1)
    p = joint / joint.sum()
    pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * (np.log(p[nz]) - np.log((pa @ pb)[nz]))).sum())


def mig(means: np.ndarray, factors: np.ndarray, factor_names=None, num_bins: int = 20) -> dict:
    """Mutual information gap of posterior means N×D against discrete factors N×K."""
    codes = histogram_discretize(means, num_bins)
    d, k = codes.shape[1], factors.shape[1]
    m = np.array([[mutual_info(codes[:, i], factors[:, j]) for j in range(k)] for i in range(d)])
    entropy = np.array([mutual_info(factors[:, j], factors[:, j]) for j in range(k)])
    top = np.sort(m, axis=0)[::-1]
    per = (top[0] - top[1]) / entropy
    names = list(factor_names) if factor_names is not None else [str(j) for j in range(k)]
    return {
        "mig": float(per.mean()),
        "mig_per_factor": {n: float(v) for n, v in zip(names, per)},
        "best_dim_per_factor": {n: int(v) for n, v in zip(names, m.argmax(0))},
    }


def elbo_terms(model, images: np.ndarray, seed: int = ELBO_SEED, batch_size: int = ELBO_BATCH) -> dict:
    """−ELBO, reconstruction and KL (nats per image, β = 1) of a ConvVAE model on images.

    The reconstruction term is scored at one reparameterised sample z = μ + σ·ε per image (ε from
    a torch generator seeded ``seed``, batch by batch); ``core.explain`` gives the same numbers
    image by image.
    """
    from .train import _to_tensor, evaluate_loss

    x = _to_tensor(model.prepare(images))
    ev = evaluate_loss(model.vae, x, model.device, batch_size=batch_size, seed=seed)
    kld = ev["kl_per_dim"]
    return {
        "neg_elbo_nats": ev["neg_elbo"],
        "recon_nats": ev["recon"],
        "kl_nats": ev["kl"],
        "kl_per_dim": kld,
        "active_dims": int(sum(v > ACTIVE_KL_THRESHOLD for v in kld)),
    }


def kl_per_dim_from_posteriors(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Average KL(q(z|x) ‖ N(0, 1)) per latent dimension over a set of posteriors."""
    kl = kl_per_dim(mean, logvar)
    return kl.reshape(len(kl), -1).mean(0)


def evaluate(model, data: str | None = None, progress=None) -> dict:
    """The full report for ``latent-explorer evaluate``: test-split metrics, plus MIG for shapes."""
    from .data.datasets import load_dataset

    bundled = getattr(model, "metrics", {}).get("data") if hasattr(model, "metrics") else None
    data = data or bundled or ("shapes" if model.image_size == (64, 64) and model.channels == 3 else "mnist-5k")
    ds = load_dataset(data, "test")
    out: dict = {"model": model.spec or model.name, "data": ds.name, "n_images": len(ds)}
    if hasattr(model, "vae"):
        with torch.no_grad():
            out.update(elbo_terms(model, ds.images))
    else:
        mean, logvar = model.encode(ds.images)
        if logvar is not None:
            kld = kl_per_dim_from_posteriors(mean, logvar)
            out.update(kl_nats=float(kld.sum()), kl_per_dim=kld.tolist(),
                       active_dims=int((kld > ACTIVE_KL_THRESHOLD).sum()))
        rec = model.decode(mean)
        err = (rec.astype(np.float32) - model.prepare(ds.images).astype(np.float32)) / 255.0
        out["recon_mse"] = float((err ** 2).mean())
    if data == "shapes" and ds.factors is not None:
        mean, _ = model.encode(ds.images)
        out.update(mig(mean.reshape(len(mean), -1), ds.factors, ds.factor_names))
    return out
