"""Watching a training run: are the reconstructions still flat, is the held-out loss rising?

After each evaluation the engine measures the model's reconstructions (decoded from the
posterior means) of a fixed set of up to ``STATS_IMAGES`` training images and of the held-out
images: their mean squared error per pixel (values in [0, 1]), the error of predicting the
training set's mean image for the same images, and the *spread*: how much the reconstructions
differ from one another (per-pixel standard deviation across the images, averaged over pixels),
as a fraction of how much the images themselves do.

Two warnings come of it, in words, on the dialog's warning line and on the command line:

* **flat**: at the end, the kept model's reconstructions of training images vary less than
  ``FLAT_SPREAD`` (35 %) as much as the images do, or their error is at least ``FLAT_MSE`` (0.8×)
  that of the mean image: the grey, all-alike pictures of a run that stopped too soon.
* **overfitting**: the held-out −ELBO, averaged over the last ``RISE_EVALS`` (5) evaluations, has
  risen more than ``RISE_MARGIN`` (1 %) above the lowest such average, and its best single value
  is at least 5 evaluations old. Said once per run; the folder keeps the best epoch.
"""
from __future__ import annotations

import numpy as np
import torch

STATS_IMAGES = 64
TEST_STATS_IMAGES = 256
FLAT_SPREAD = 0.35
FLAT_MSE = 0.8
RISE_EVALS = 5
RISE_MARGIN = 0.01


def spaced(x: torch.Tensor, k: int) -> torch.Tensor:
    """Up to ``k`` rows of ``x``, evenly spaced (bundled splits are sorted by class)."""
    if len(x) <= k:
        return x
    return x[np.linspace(0, len(x) - 1, k).round().astype(int)]


def mean_image(x: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """The mean of uint8 N×C×H×W images as a float 1×C×H×W in [0, 1], without a float copy of all."""
    total = torch.zeros((1, *x.shape[1:]), dtype=torch.float64)
    for i in range(0, len(x), chunk):
        total += x[i:i + chunk].double().sum(0, keepdim=True)
    return (total / max(1, len(x)) / 255).float()


@torch.no_grad()
def recon_stats(vae, images: torch.Tensor | None, mean: torch.Tensor, device: str) -> dict:
    """``mse``, ``mean_mse`` and ``spread`` of the reconstructions of uint8 ``images`` (see the module doc)."""
    if images is None or not len(images):
        return {"mse": None, "mean_mse": None, "spread": None}
    was_training = vae.training
    vae.eval()
    mse = mean_mse = 0.0
    recs = []
    for i in range(0, len(images), 128):
        x = images[i:i + 128].to(device).float().div_(255)
        r = vae.decode(vae.encode(x)[0])
        mse += (r - x).pow(2).sum().item()
        mean_mse += (x - mean.to(device)).pow(2).sum().item()
        recs.append(r.cpu())
    vae.train(was_training)
    count = images.numel()
    spread = None
    if len(images) >= 2:
        rec = torch.cat(recs)
        data_sd = images.float().div(255).std(0).mean().item()
        spread = rec.std(0).mean().item() / data_sd if data_sd > 1e-6 else 1.0
    return {"mse": mse / count, "mean_mse": mean_mse / count, "spread": spread}


def flat_warning(res) -> str | None:
    """The flat-reconstructions warning for an ``EpochResult`` (the kept model's), or None."""
    spread, mse, base = res.spread, res.train_mse, res.train_mean_mse
    ratio = mse / base if mse is not None and base else None
    low_spread = spread is not None and spread < FLAT_SPREAD
    no_better = ratio is not None and ratio >= FLAT_MSE
    if not (low_spread or no_better):
        return None
    what = []
    if spread is not None:
        what.append(f"they vary {spread:.0%} as much as the images do")
    if ratio is not None:
        what.append(f"their error is {ratio:.2f}× that of the mean image")
    return ("Reconstructions are still flat: " + " and ".join(what) + ". The model has not learnt the "
            "images yet: train longer (more minutes or steps), or lower β.")


def rising_warning(history: list, n_train: int) -> str | None:
    """The overfitting warning when the held-out −ELBO, averaged over the last ``RISE_EVALS``
    evaluations, has risen more than ``RISE_MARGIN`` above the lowest such average, and the best
    single evaluation is at least ``RISE_EVALS`` evaluations old; None otherwise.

    The averages keep a small held-out set's noise (a 30-image folder holds out 3) from passing
    for a rise."""
    tests = [(h.epoch, h.test_neg_elbo) for h in history if h.test_neg_elbo is not None]
    k = RISE_EVALS
    if len(tests) < 2 * k:
        return None
    values = np.array([v for _, v in tests], float)
    avg = np.convolve(values, np.ones(k) / k, mode="valid")  # avg[i]: evaluations i … i + k − 1
    best_i = int(np.argmin(values))
    low = float(avg.min())
    rise = (avg[-1] - low) / abs(low) if low else 0.0
    if best_i > len(values) - 1 - k or rise <= RISE_MARGIN:
        return None
    best_epoch, best = tests[best_i]
    return (f"Overfitting: the held-out −ELBO has risen for {len(values) - 1 - best_i} evaluations "
            f"(best {best:,.1f} nats at epoch {best_epoch:,}; the average of the last {k} is {rise:.1%} above "
            f"its lowest). The model folder keeps epoch {best_epoch:,}; more images (this run has {n_train:,}) "
            f"would help more than more training.")
