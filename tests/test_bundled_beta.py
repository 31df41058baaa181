"""The bundled 2-d digit models at other KL weights: what β does, side by side.

digits-2d-ae (β = 0, a plain autoencoder), digits-2d (β = 1) and digits-2d-beta8 (β = 8) share the
data, split, augmentation and latent size. On the test split, more β must buy less rate (KL) at
the price of more distortion (reconstruction nats), and the autoencoder's map must leave holes
where the prior puts mass but no digit's posterior reaches.
"""
import json

import numpy as np
import pytest
import torch

import latent_explorer as lx
from latent_explorer.core.data.datasets import load_dataset
from latent_explorer.core.models.loading import BUNDLED_MODELS, bundled_models
from latent_explorer.core.train import evaluate_loss

NEW = {"digits-2d-ae": 0.0, "digits-2d-beta8": 8.0}
MAX_BYTES = 2 * 1024 * 1024
SHIPPED = ("config.json", "model.safetensors", "metrics.json", "training.json")


@pytest.fixture(scope="module")
def models():
    return {name: lx.load_model(name, device="cpu") for name in ("digits-2d-ae", "digits-2d", "digits-2d-beta8")}


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("mnist-5k", "test").images[::4]  # 250 images, 25 of each digit


@pytest.fixture(scope="module")
def terms(models, test_images):
    x = torch.from_numpy(np.ascontiguousarray(test_images)).permute(0, 3, 1, 2)
    return {name: evaluate_loss(m.vae, x, "cpu") for name, m in models.items()}


@pytest.mark.parametrize("name,beta", NEW.items())
def test_loads_by_name_with_a_2d_latent_and_its_beta(name, beta, models):
    assert name in BUNDLED_MODELS
    m = models[name]
    assert m.latent_shape == (2,) and m.image_size == (28, 28) and m.channels == 1
    assert m.vae.config.beta == beta and m.vae.config.tc_beta is None
    mean, logvar = m.encode(np.zeros((2, 28, 28, 1), np.uint8))
    assert mean.shape == logvar.shape == (2, 2) and np.isfinite(mean).all() and np.isfinite(logvar).all()


@pytest.mark.parametrize("name", NEW)
def test_folder_is_small_and_ships_no_optimizer_state(name):
    folder = bundled_models()[name]
    assert all((folder / f).is_file() for f in SHIPPED)
    size = sum(p.stat().st_size for p in folder.iterdir() if p.name != "optimizer.safetensors")
    assert size <= MAX_BYTES, f"{folder}: {size:,} bytes"


@pytest.mark.parametrize("name,beta", NEW.items())
def test_metrics_record_the_command_epochs_and_evaluate_output(name, beta):
    folder = bundled_models()[name]
    metrics = json.loads((folder / "metrics.json").read_text())
    training = json.loads((folder / "training.json").read_text())
    cmd = metrics["command"].split()
    assert cmd[:2] == ["latent-explorer", "train"]
    # the same recipe as digits-2d, at another β
    for flag, value in (("--data", "mnist-5k"), ("--out", f"resources/models/{name}"), ("--latent-dim", "2")):
        assert cmd[cmd.index(flag) + 1] == value
    assert float(cmd[cmd.index("--beta") + 1]) == beta and "--augment" in cmd
    assert metrics["data"] == "mnist-5k" and metrics["epochs"] == training["epoch"] > 0
    assert metrics["training_seconds"] > 0
    ev = metrics["evaluate"]
    assert ev["data"] == "mnist-5k[test]" and ev["n_images"] == 1000 and ev["active_dims"] == 2
    assert ev["neg_elbo_nats"] == pytest.approx(ev["recon_nats"] + ev["kl_nats"])
    assert sum(ev["kl_per_dim"]) == pytest.approx(ev["kl_nats"])
    assert ev["neg_elbo_nats"] == pytest.approx(metrics["final_epoch"]["test_neg_elbo"])


def test_more_beta_less_rate_more_distortion(terms):
    ae, vae, b8 = terms["digits-2d-ae"], terms["digits-2d"], terms["digits-2d-beta8"]
    # rate: β = 0 never pays for KL (≈ 15 nats), β = 1 ≈ 5.5, β = 8 ≈ 2.2
    assert ae["kl"] > vae["kl"] + 5 and vae["kl"] > b8["kl"] + 2
    # distortion: β = 8 reconstructs far worse (≈ +17 nats). β = 0 reconstructs no worse than
    # β = 1: on a 2-d latent the two are within SGD noise of each other (157.3 and 157.6 nats on
    # the whole split), so the extra rate the autoencoder spends buys it nothing
    assert b8["recon"] > vae["recon"] + 10 and b8["recon"] > ae["recon"] + 10
    assert ae["recon"] < vae["recon"] + 2
    # only β = 1 optimises the ELBO itself: it has the best −ELBO of the three
    assert vae["neg_elbo"] < ae["neg_elbo"] - 3 and vae["neg_elbo"] < b8["neg_elbo"] - 3


def _hole_fraction(mean, logvar, n=2000):
    """Share of prior samples z ~ N(0, I) where the images' aggregate posterior q(z) is < 10 % of p(z)."""
    z = np.random.default_rng(0).standard_normal((n, 2))
    mu, lv = mean.astype(np.float64), logvar.astype(np.float64)
    log_qzx = -0.5 * (((z[:, None] - mu[None]) ** 2) / np.exp(lv)[None] + lv[None] + np.log(2 * np.pi)).sum(-1)
    top = log_qzx.max(1)
    log_q = top + np.log(np.exp(log_qzx - top[:, None]).mean(1))
    log_p = -0.5 * (z ** 2).sum(1) - np.log(2 * np.pi)
    return float((log_q - log_p < np.log(0.1)).mean())


def test_the_autoencoder_map_has_holes_and_beta8_fills_the_prior(models, test_images):
    stats = {}
    for name, m in models.items():
        mean, logvar = m.encode(test_images)
        stats[name] = (_hole_fraction(mean, logvar), float(np.median(np.exp(0.5 * logvar))),
                       float((np.linalg.norm(mean, axis=1) > 3).mean()))
    (hole_ae, sd_ae, out_ae), (hole_1, sd_1, out_1), (hole_8, sd_8, out_8) = (
        stats[n] for n in ("digits-2d-ae", "digits-2d", "digits-2d-beta8"))
    # posteriors widen with β: the autoencoder's are points (σ ≈ 0.005), β = 8's blobs (σ ≈ 0.35)
    assert sd_ae < sd_1 / 5 and sd_8 > 3 * sd_1
    # most of the prior is a hole for the autoencoder, none of it for β = 8
    assert hole_ae > 0.8 and hole_ae > hole_1 > hole_8 and hole_8 < 0.05
    # and the autoencoder's digits spill far past the prior's bulk (|z| > 3: 1 % of N(0, I))
    assert out_ae > 0.2 and out_ae > out_1 >= out_8
