"""core.explain and ``latent-explorer explain``: each number checked against an independent reference.

References: torch.distributions for the KL and the prior, ``ConvVAE.loss`` for the reconstruction
term, ``core.metrics.evaluate`` for the test-split averages, the sample moments for the
reparameterisation, and ``explain()`` itself for what the CLI prints and draws.
"""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch.distributions import Normal, kl_divergence

from latent_explorer.cli import main
from latent_explorer.core import explain as ex
from latent_explorer.core.errors import UserError
from latent_explorer.core.export import read_png_recipe


@pytest.fixture(scope="module")
def digits():
    from latent_explorer.core.models.loading import load_model

    return load_model("digits", device="cpu")


@pytest.fixture(scope="module")
def test_split():
    from latent_explorer.core.data.datasets import load_dataset

    return load_dataset("mnist-5k", "test")


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory, test_split):
    p = tmp_path_factory.mktemp("explain") / "seven.png"
    Image.fromarray(test_split.images[test_split.labels == 7][0, ..., 0]).save(p)
    return p


def test_kl_per_dim_for_known_posteriors():
    mean = np.array([[0.0, 1.0, 0.0, -2.0]], np.float32)
    logvar = np.array([[0.0, 0.0, math.log(4.0), math.log(0.25)]], np.float32)
    # by hand: 0 at the prior; ½μ² for a shifted unit Gaussian; ½(σ² − 1 − log σ²) for a scaled one
    by_hand = [0.0, 0.5, 0.5 * (4 - 1 - math.log(4)), 0.5 * (0.25 + 4 - 1 - math.log(0.25))]
    np.testing.assert_allclose(ex.kl_per_dim(mean, logvar)[0], by_hand, rtol=1e-6, atol=1e-7)
    rng = np.random.default_rng(1)
    mean, logvar = rng.normal(size=(5, 16)), rng.normal(size=(5, 16))
    ref = kl_divergence(Normal(torch.tensor(mean), torch.tensor(np.exp(0.5 * logvar))), Normal(0.0, 1.0)).numpy()
    np.testing.assert_allclose(ex.kl_per_dim(mean, logvar), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(1,), (16,), (4, 8, 8)])
def test_log_prior(shape):
    d = int(np.prod(shape))
    np.testing.assert_allclose(ex.log_prior(np.zeros((3, *shape))), [-(d / 2) * math.log(2 * math.pi)] * 3)
    z = np.random.default_rng(0).normal(size=(4, *shape))
    ref = Normal(0.0, 1.0).log_prob(torch.tensor(z)).flatten(1).sum(1).numpy()
    np.testing.assert_allclose(ex.log_prior(z), ref, rtol=1e-12)


def test_posterior_is_encode_flattened(digits, test_split):
    mean, logvar = ex.posterior(digits, test_split.images[:3])
    m2, lv2 = digits.encode(test_split.images[:3])
    assert mean.shape == logvar.shape == (3, 16) and mean.dtype == np.float32
    np.testing.assert_array_equal(mean, m2)
    np.testing.assert_array_equal(logvar, lv2)


def test_recon_nats_equals_the_training_loss_term(digits, test_split):
    img = test_split.images[5:6]
    vae = digits.vae
    x = torch.from_numpy(img).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        loss = vae.loss(x, beta=1.0, generator=torch.Generator().manual_seed(7))
        mu, logvar = vae.encode(x)
        z = vae.reparameterize(mu, logvar, torch.Generator().manual_seed(7))  # the loss's own draw
        direct = torch.nn.functional.binary_cross_entropy_with_logits(vae.decode_logits(z), x, reduction="sum")
    rec = ex.recon_nats(digits, img, z.numpy())
    assert rec.shape == (1,) and rec.dtype == np.float64
    assert rec[0] == pytest.approx(loss.recon.item(), abs=1e-4)
    assert rec[0] == pytest.approx(direct.item(), abs=1e-4)
    # a 1-channel 56×56 copy of the image is fitted first, as the model's encode fits it
    big = np.repeat(np.repeat(img, 2, 1), 2, 2)
    assert ex.recon_nats(digits, big, z.numpy())[0] == pytest.approx(
        ex.recon_nats(digits, digits.prepare(big), z.numpy())[0])


def test_explain_over_the_test_split_equals_evaluate(digits, test_split):
    from latent_explorer.core.metrics import evaluate

    report = evaluate(digits, "mnist-5k")
    rows = ex.explain(digits, test_split.images)
    assert len(rows) == report["n_images"] == 1000
    for key in ("neg_elbo_nats", "recon_nats", "kl_nats"):
        assert np.mean([r[key] for r in rows]) == pytest.approx(report[key], abs=0.1), key
    np.testing.assert_allclose(np.mean([r["kl_per_dim"] for r in rows], 0), report["kl_per_dim"], atol=0.01)
    r = rows[0]
    assert r["neg_elbo_nats"] == pytest.approx(r["recon_nats"] + r["kl_nats"])
    assert r["kl_nats"] == pytest.approx(float(r["kl_per_dim"].sum()), rel=1e-5)
    # the reconstruction term is scored at a sampled z = μ + σ·ε, the first of evaluate's ε stream
    eps = torch.randn((1, 16), generator=torch.Generator().manual_seed(ex.ELBO_SEED)).numpy()[0]
    np.testing.assert_allclose(r["recon_z"], r["mean"] + np.exp(0.5 * r["logvar"]) * eps, rtol=1e-5, atol=1e-6)
    alone = ex.explain(digits, test_split.images[:1])[0]
    assert alone["recon_nats"] == pytest.approx(r["recon_nats"], abs=1e-3)


def test_sample_posterior_approaches_mu_and_sigma():
    mean = np.array([0.0, 2.0, -1.5], np.float32)
    logvar = np.array([0.0, math.log(0.09), math.log(4.0)], np.float32)
    k = 40_000
    eps, z = ex.sample_posterior(mean, logvar, k, seed=3)
    assert eps.shape == z.shape == (k, 3) and z.dtype == np.float32
    sigma = np.exp(0.5 * logvar)
    np.testing.assert_allclose(z.mean(0), mean, atol=float(5 * sigma.max() / math.sqrt(k)))
    np.testing.assert_allclose(z.std(0), sigma, rtol=0.02)
    np.testing.assert_allclose(z, mean + sigma * eps, rtol=1e-6, atol=1e-6)
    # N images: N×k×D; the first image gets the draws it gets alone; the seed repeats them
    e2, z2 = ex.sample_posterior(np.stack([mean, -mean]), np.stack([logvar, logvar]), 5, seed=3)
    assert z2.shape == (2, 5, 3)
    np.testing.assert_array_equal(e2[0], ex.sample_posterior(mean, logvar, 5, seed=3)[0])
    np.testing.assert_array_equal(z2, ex.sample_posterior(np.stack([mean, -mean]), np.stack([logvar, logvar]),
                                                          5, seed=3)[1])


def test_explain_samples_decode_to_their_latents(digits, test_split):
    r = ex.explain(digits, test_split.images[:2], samples=4, seed=9)
    assert r[0]["samples"].shape == (4, 16) and r[1]["decodes"].shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(r[1]["decodes"], digits.decode(r[1]["samples"]))
    assert not np.array_equal(r[0]["samples"], r[1]["samples"])


class _NoLikelihood:
    """A model whose decoder outputs pixels only (like a diffusers VAE)."""
    spec, latent_shape, image_size, channels, device = "sd-like", (4,), (8, 8), 3, "cpu"


def test_a_model_without_likelihood_is_a_user_error():
    with pytest.raises(UserError, match="no reconstruction likelihood"):
        ex.recon_nats(_NoLikelihood(), np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 4), np.float32))
    with pytest.raises(UserError, match="no reconstruction likelihood"):
        ex.explain(_NoLikelihood(), np.zeros((1, 8, 8, 3), np.uint8))


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_equals_explain(capsys, digits, digit_png, test_split):
    code, out, err = _cli(capsys, "explain", "--model", "digits", "--device", "cpu", digit_png, "--json")
    assert code == 0, err
    got = json.loads(out)
    want = ex.explain(digits, test_split.images[test_split.labels == 7][:1])[0]
    assert set(got) == {"model", "image", "mean", "logvar", "kl_per_dim", "kl_nats", "recon_nats",
                        "neg_elbo_nats", "recon_z"}
    for key in ("mean", "logvar", "kl_per_dim", "recon_z"):
        assert got[key] == want[key].tolist(), key
    for key in ("kl_nats", "recon_nats", "neg_elbo_nats"):
        assert got[key] == want[key], key
    code, out, _ = _cli(capsys, "explain", "--model", "digits", "--device", "cpu", digit_png)
    assert code == 0 and f"{want['neg_elbo_nats']:.3f}" in out and f"{want['kl_nats']:.3f}" in out


def test_cli_samples_write_a_grid_of_k_decodes(capsys, digits, digit_png, test_split, tmp_path, monkeypatch):
    k = 5
    code, out, err = _cli(capsys, "explain", "--model", "digits", "--device", "cpu", digit_png, "--samples", k,
                          "--seed", 11, "--out", tmp_path / "new" / "dir", "--json")
    assert code == 0, err
    got = json.loads(out)
    grid_path = tmp_path / "new" / "dir" / "seven-posterior-samples.png"
    assert got["grid"] == str(grid_path) and len(got["samples"]) == k
    want = ex.explain(digits, test_split.images[test_split.labels == 7][:1], samples=k, seed=11)[0]
    assert got["samples"] == want["samples"].tolist()
    grid = np.asarray(Image.open(grid_path))
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2)  # make_grid: 3 columns, 2 rows, 2-pixel gutters
    tiles = [grid[2 + r * 30:2 + r * 30 + 28, 2 + c * 30:2 + c * 30 + 28] for r in range(2) for c in range(3)]
    for i in range(k):
        np.testing.assert_array_equal(tiles[i], want["decodes"][i, ..., 0])
    assert (tiles[k] == 255).all()  # the sixth place is empty
    recipe = read_png_recipe(grid_path)
    assert recipe["kind"] == "explain" and recipe["samples"] == k and recipe["seed"] == 11
    monkeypatch.chdir(tmp_path)  # default --out: the current folder
    code, out, _ = _cli(capsys, "explain", "--model", "digits", "--device", "cpu", digit_png, "--samples", 1)
    assert code == 0 and (tmp_path / "seven-posterior-samples.png").exists() and "wrote" in out


def test_cli_refuses_a_model_without_likelihood(capsys, digit_png, tmp_path):
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(block_out_channels=[32], down_block_types=["DownEncoderBlock2D"],
                                  up_block_types=["UpDecoderBlock2D"], latent_channels=4, norm_num_groups=8,
                                  layers_per_block=1, sample_size=32)
    vae.save_pretrained(str(tmp_path / "kl"), safe_serialization=True)
    code, out, err = _cli(capsys, "explain", "--model", tmp_path / "kl", "--device", "cpu", "--size", 32,
                          digit_png, "--samples", 2, "--out", tmp_path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "no reconstruction likelihood" in err
    assert not list(tmp_path.glob("*.png"))
