"""Model quality against a baseline, measured in one run.

Baseline: a plain fully connected VAE of the pytorch/examples kind (784-400-20, ReLU, BCE,
Adam 1e-3, batch 128), trained on the same 4,000 mnist-5k training images for the same
number of epochs as the bundled ``digits`` model; its best test −ELBO over epochs is taken.
Then the bundled models are evaluated on the same test split with the same evaluator.

Targets: digits −ELBO at least 5 % below the baseline's best epoch; shapes MIG ≥ 0.25.
Prints one JSON object as its last line.   Usage: python bench/model_quality.py [--epochs N]
``--smoke``: one baseline epoch on 256 images, the models evaluated on 256 test images;
``--save``: bench/results/ (bench/_results.py).
"""
from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from latent_explorer.core.data.datasets import load_mnist_5k
from latent_explorer.core.metrics import evaluate
from latent_explorer.core.models.convvae import VAELoss, kl_per_dim
from latent_explorer.core.models.loading import bundled_models, load_model
from latent_explorer.core.train import _to_tensor, evaluate_loss

import _results  # (bench/ is sys.path[0])

KEYS = ("epochs", "baseline_fc_vae_best_neg_elbo", "digits_neg_elbo", "digits_vs_baseline_ratio", "digits_target_met",
        "shapes_mig", "shapes_target_met")


class FCVAE(nn.Module):
    """pytorch/examples' VAE: 784-400-20, decoder 20-400-784."""

    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(latent_dim=20)
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def loss(self, x, beta=1.0, generator=None):
        h = F.relu(self.fc1(x.flatten(1)))
        mu, logvar = self.fc21(h), self.fc22(h)
        eps = torch.randn(mu.shape, generator=generator)
        z = mu + (0.5 * logvar).exp() * eps
        logits = self.fc4(F.relu(self.fc3(z)))
        recon = F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(1)
        kld = kl_per_dim(mu, logvar)
        return VAELoss(total=recon + beta * kld.sum(1), recon=recon, kl=kld.sum(1), kl_per_dim=kld)


def baseline(epochs: int, seed: int = 0, limit: int | None = None) -> dict:
    torch.manual_seed(seed)
    train, test = load_mnist_5k("train"), load_mnist_5k("test")
    xtr, xte = _to_tensor(train.images[:limit]), _to_tensor(test.images[:limit])
    vae = FCVAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    curve, t0 = [], time.perf_counter()
    for epoch in range(epochs):
        vae.train()
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        perm = torch.randperm(len(xtr), generator=gen)
        for b in range(0, len(xtr), 128):
            x = xtr[perm[b:b + 128]].float() / 255
            loss = vae.loss(x, generator=gen).total.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        curve.append(evaluate_loss(vae, xte, "cpu")["neg_elbo"])
    best = min(range(epochs), key=curve.__getitem__)
    return {"best_neg_elbo": curve[best], "best_epoch": best + 1, "final_neg_elbo": curve[-1],
            "seconds": time.perf_counter() - t0, "curve": [round(c, 2) for c in curve]}


def few_test_images(n: int) -> None:
    """--smoke: the evaluations (core.metrics.evaluate, unchanged) see the first ``n`` test images only."""
    import dataclasses

    from latent_explorer.core.data import datasets

    real = datasets.load_dataset

    def load_dataset(*args, **kwargs):
        if args and args[0] == "shapes":  # (generated: make n, not 10,000, and keep n)
            return datasets.load_shapes(args[1] if len(args) > 1 else kwargs.get("split", "all"), n)
        ds = real(*args, **kwargs)
        cut = {f: getattr(ds, f)[:n] for f in ("images", "labels", "factors") if getattr(ds, f) is not None}
        return dataclasses.replace(ds, **cut)

    datasets.load_dataset = load_dataset


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=None, help="default: the digits model's epochs")
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("model_quality", a)
    if a.smoke:
        a.epochs = 1
        few_test_images(256)
    folders = bundled_models()
    digits_info = json.loads((folders["digits"] / "metrics.json").read_text())
    epochs = a.epochs or int(digits_info["epochs"])
    base = baseline(epochs, limit=256 if a.smoke else None)
    print(f"baseline FC VAE: best test −ELBO {base['best_neg_elbo']:.2f} at epoch {base['best_epoch']}/{epochs}")
    digits = evaluate(load_model("digits", device="cpu"), "mnist-5k")
    ratio = digits["neg_elbo_nats"] / base["best_neg_elbo"]
    print(f"digits ConvVAE:  test −ELBO {digits['neg_elbo_nats']:.2f} ({(1 - ratio) * 100:.1f} % below baseline)")
    shapes = evaluate(load_model("shapes", device="cpu"), "shapes")
    print(f"shapes: MIG {shapes['mig']:.3f}  per factor " +
          ", ".join(f"{k} {v:.3f}" for k, v in shapes["mig_per_factor"].items()))
    result = {
        "epochs": epochs,
        "baseline_fc_vae_best_neg_elbo": round(base["best_neg_elbo"], 3),
        "baseline_best_epoch": base["best_epoch"],
        "baseline_curve": base["curve"],
        "digits_neg_elbo": round(digits["neg_elbo_nats"], 3),
        "digits_vs_baseline_ratio": round(ratio, 4),
        "digits_target_met": ratio <= 0.95,
        "shapes_mig": round(shapes["mig"], 4),
        "shapes_mig_per_factor": {k: round(v, 4) for k, v in shapes["mig_per_factor"].items()},
        "shapes_target_met": shapes["mig"] >= 0.25,
    }
    run.emit(result)


if __name__ == "__main__":
    main()
