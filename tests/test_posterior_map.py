"""A posterior on the map: under PCA its projected covariance P·diag(σ²)·Pᵀ is what many projected
samples show; for a 2-d latent it is diag(σ²); t-SNE gives none; the k-σ ellipse has the right radii."""
import numpy as np
import pytest

from latent_explorer.core.latent.posterior_map import ellipse, projected_gaussian
from latent_explorer.core.latent.project import fit_projection


def test_pca_projected_covariance_equals_the_empirical_covariance_of_projected_samples():
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((400, 8)).astype(np.float32) * np.linspace(3, 0.5, 8).astype(np.float32)
    proj = fit_projection(latents, "pca")
    mu = rng.standard_normal(8).astype(np.float32)
    var = rng.uniform(0.05, 1.5, 8).astype(np.float32)
    centre, cov = projected_gaussian(proj, mu, var)
    z = mu + np.sqrt(var) * rng.standard_normal((200_000, 8)).astype(np.float32)
    xy = proj.locate(z).astype(np.float64)
    np.testing.assert_allclose(centre, proj.locate(mu), atol=1e-5)
    np.testing.assert_allclose(xy.mean(0), centre, atol=0.01)
    np.testing.assert_allclose(np.cov(xy.T), cov, atol=0.01)


def test_a_2d_latent_is_its_own_map_and_t_sne_has_no_ellipse():
    rng = np.random.default_rng(1)
    latents = rng.standard_normal((60, 2)).astype(np.float32)
    ident = fit_projection(latents, "identity")
    centre, cov = projected_gaussian(ident, np.array([0.5, -1.0]), np.array([0.25, 4.0]))
    np.testing.assert_allclose(centre, [0.5, -1.0])
    np.testing.assert_allclose(cov, np.diag([0.25, 4.0]))

    class NotLinear:
        method = "tsne"

    assert projected_gaussian(NotLinear(), np.zeros(2), np.ones(2)) is None


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_the_k_sigma_ellipse_has_radii_k_times_the_standard_deviations(k):
    cov = np.array([[4.0, 0.0], [0.0, 0.25]])
    pts = ellipse(np.array([1.0, 2.0]), cov, k_sigma=k, n=400)
    d = pts - [1.0, 2.0]
    np.testing.assert_allclose(np.abs(d[:, 0]).max(), 2.0 * k, rtol=1e-3)
    np.testing.assert_allclose(np.abs(d[:, 1]).max(), 0.5 * k, rtol=1e-3)
    # every point is at Mahalanobis distance k
    m = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    np.testing.assert_allclose(m, k * k, rtol=1e-6)


def test_holes_are_where_the_prior_reaches_and_the_data_does_not():
    from latent_explorer.core.latent.posterior_map import density_grid, gaussian_grid, holes, map_rect, prior_on_map

    rng = np.random.default_rng(2)
    # data only in the right half-plane of a 2-d latent: the left half of the prior is a hole
    xy = np.stack([np.abs(rng.standard_normal(3000)) + 0.3, rng.standard_normal(3000)], 1).astype(np.float32)
    proj = fit_projection(xy, "identity")
    prior = prior_on_map(proj)
    np.testing.assert_allclose(prior[0], [0, 0])
    np.testing.assert_allclose(prior[1], np.eye(2))
    rect = map_rect(xy, prior)
    p = gaussian_grid(prior[0], prior[1], rect, 64)
    d = density_grid(xy, rect, 64)
    h = holes(xy, prior, rect, 64)
    dp = density_grid(xy, rect, 64, pdf=True)
    cell = (rect[2] / 64) * (rect[3] / 64)
    assert dp.sum() * cell == pytest.approx(1.0)
    from latent_explorer.core.latent.posterior_map import grid_centres

    xs, ys = grid_centres(rect, 64)
    j_left, j_right = int(np.argmin(np.abs(xs + 1.0))), int(np.argmin(np.abs(xs - 1.0)))
    i_mid = int(np.argmin(np.abs(ys)))
    assert h[i_mid, j_left] and not h[i_mid, j_right]
    assert p.max() == pytest.approx(1.0, abs=0.01) and d.max() == pytest.approx(1.0)


def test_the_plain_autoencoder_leaves_more_holes_than_beta_1_and_beta_8_none():
    import latent_explorer as lx
    from latent_explorer.core.data.datasets import load_dataset
    from latent_explorer.core.latent.posterior_map import gaussian_grid, holes, map_rect, posterior_spread, prior_on_map

    images = load_dataset("mnist-5k", "all").images
    fraction = {}
    for name in ("digits-2d-ae", "digits-2d", "digits-2d-beta8"):
        model = lx.load_model(name, device="cpu")
        mean, logvar = model.encode(images)
        proj = fit_projection(mean, "identity")
        prior = prior_on_map(proj)
        rect = map_rect(proj.xy, prior)
        h = holes(proj.xy, prior, rect, 128, spread=posterior_spread(proj, logvar))
        inside = gaussian_grid(prior[0], prior[1], rect, 128) >= np.exp(-2)
        fraction[name] = h.sum() / inside.sum()
    assert fraction["digits-2d-ae"] > fraction["digits-2d"] > fraction["digits-2d-beta8"], fraction
    assert fraction["digits-2d-beta8"] < 0.01 and fraction["digits-2d-ae"] > 0.05
