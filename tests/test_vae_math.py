"""The VAE as the product teaches it: KL closed form, reparameterisation, the loss.

Reference values are worked out by hand: a zero logit scores every pixel ln 2 under BCE,
KL(N(0, 1) ‖ N(0, 1)) = 0, KL(N(1, 1) ‖ N(0, 1)) = ½ per dimension.
"""
import math

import numpy as np
import pytest
import torch

from latent_explorer.core.models.convvae import ConvVAE, ConvVAEConfig, kl_per_dim


def test_kl_closed_form_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.tensor([0.0, 1.5, -0.7, 0.3])
    logvar = torch.tensor([0.0, -1.0, 0.8, -3.0])
    closed = kl_per_dim(mu, logvar)
    std = (0.5 * logvar).exp()
    z = mu + std * torch.randn(400_000, 4)
    log_q = torch.distributions.Normal(mu, std).log_prob(z)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z)
    mc = (log_q - log_p).mean(0)
    assert torch.allclose(closed, mc, atol=0.02), (closed, mc)
    assert closed[0].item() == 0.0  # q equal to the prior costs nothing


def test_kl_exact_values():
    kl = kl_per_dim(torch.tensor([0.0, 1.0, -1.0, 3.0]), torch.zeros(4))
    assert kl.tolist() == [0.0, 0.5, 0.5, 4.5]  # μ²/2 when σ = 1
    # 2-d: μ = (1, −2), σ² = (2, ½): ½(2 + 1 − 1 − ln 2) + ½(½ + 4 − 1 + ln 2) = 2.75 exactly
    kl2 = kl_per_dim(torch.tensor([1.0, -2.0], dtype=torch.float64),
                     torch.tensor([math.log(2.0), math.log(0.5)], dtype=torch.float64))
    assert kl2.tolist() == pytest.approx([1 - math.log(2) / 2, 1.75 + math.log(2) / 2], abs=1e-12)
    assert kl2.sum().item() == pytest.approx(2.75, abs=1e-12)


def test_reparameterisation_gradients_are_the_analytic_ones():
    mu = torch.zeros(8, 3, requires_grad=True)
    logvar = torch.zeros(8, 3, requires_grad=True)
    z = ConvVAE.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    eps = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(z.detach(), eps)  # z = μ + σ·ε with μ = 0, σ = 1
    (z ** 2).sum().backward()
    # d/dμ Σz² = 2z;  d/d(log σ²) Σz² = 2z · ε · ½σ = ε² at σ = 1
    torch.testing.assert_close(mu.grad, 2 * eps)
    torch.testing.assert_close(logvar.grad, eps ** 2)


def _vae_with_fixed_outputs(latent_dim, beta, mu_value):
    """A ConvVAE whose decoder gives logit 0 everywhere and whose encoder gives μ = mu_value, log σ² = 0."""
    vae = ConvVAE(ConvVAEConfig(latent_dim=latent_dim, beta=beta))
    with torch.no_grad():
        last = vae.decoder[-1]
        last.weight.zero_()
        last.bias.zero_()
        vae.to_stats.weight.zero_()
        vae.to_stats.bias.zero_()
        vae.to_stats.bias[:latent_dim] = mu_value
    return vae


def test_loss_reference_values_in_nats():
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    x[0] = 0.0
    x[1] = 1.0  # binary and grey targets alike: a zero logit scores each pixel ln 2
    vae = _vae_with_fixed_outputs(4, 4.0, 0.0)
    out = vae.loss(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.recon, torch.full((5,), 784 * math.log(2)))
    assert out.kl.tolist() == [0.0] * 5 and torch.equal(out.total, out.recon)
    vae = _vae_with_fixed_outputs(4, 4.0, 1.0)  # μ = 1 in each of 4 dims: KL 0.5 each
    out = vae.loss(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.kl_per_dim, torch.full((5, 4), 0.5))
    torch.testing.assert_close(out.kl, torch.full((5,), 2.0))
    torch.testing.assert_close(out.total, torch.full((5,), 784 * math.log(2) + 4.0 * 2.0))


def test_recon_is_the_bernoulli_cross_entropy_of_the_logits():
    vae = ConvVAE(ConvVAEConfig(latent_dim=3))
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    logits, *_ = vae(x, torch.Generator().manual_seed(2))
    p = torch.sigmoid(logits.double())
    ref = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    out = vae.loss(x, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(out.recon.double(), ref, rtol=1e-5, atol=1e-3)


def test_tcvae_terms_for_identical_posteriors_by_hand():
    """Two images with the same posterior N(0, I) in 3-d, dataset size 2, z at the mean.

    Minibatch-weighted sampling: log q(z) = logsumexp(L, L) − ln(2·2) = L − ln 2 and per
    dimension log q(z_d) = L_d − ln 2, where L = log q(z|x) = log p(z). So MI = ln 2,
    TC = (L − ln 2) − (L − 3 ln 2) = 2 ln 2 and dimension-wise KL = (L − 3 ln 2) − L = −3 ln 2.
    """
    from latent_explorer.core.models.convvae import _tc_decomposition

    z = mu = logvar = torch.zeros(2, 3, dtype=torch.float64)
    mi, tc, dwkl = _tc_decomposition(z, mu, logvar, dataset_size=2)
    ln2 = math.log(2)
    torch.testing.assert_close(mi, torch.full((2,), ln2, dtype=torch.float64))
    torch.testing.assert_close(tc, torch.full((2,), 2 * ln2, dtype=torch.float64))
    torch.testing.assert_close(dwkl, torch.full((2,), -3 * ln2, dtype=torch.float64))


def test_tcvae_terms_match_an_independent_estimate():
    """The estimator of Chen et al. (2018) written out with torch.distributions and loops."""
    from latent_explorer.core.models.convvae import _tc_decomposition

    g = torch.Generator().manual_seed(0)
    n, d, size = 6, 2, 50
    mu = torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.randn(n, d, generator=g, dtype=torch.float64) * 0.3
    z = mu + (0.5 * logvar).exp() * torch.randn(n, d, generator=g, dtype=torch.float64)
    mi, tc, dwkl = _tc_decomposition(z, mu, logvar, dataset_size=size)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    prior = torch.distributions.Normal(0.0, 1.0)
    for i in range(n):
        per_dim = q.log_prob(z[i].expand(n, d))  # log q(z_i,d | x_j), j over the batch
        log_qz = torch.logsumexp(per_dim.sum(1), 0) - math.log(n * size)
        log_prod = sum(torch.logsumexp(per_dim[:, k], 0) - math.log(n * size) for k in range(d))
        log_qzx = per_dim[i].sum()
        log_pz = prior.log_prob(z[i]).sum()
        torch.testing.assert_close(mi[i], log_qzx - log_qz)
        torch.testing.assert_close(tc[i], log_qz - log_prod)
        torch.testing.assert_close(dwkl[i], log_prod - log_pz)


def test_prior_samples_have_unit_variance():
    from latent_explorer.core.models.convvae_model import ConvVAEModel

    m = ConvVAEModel(ConvVAE(ConvVAEConfig(latent_dim=16)))
    z = m.sample_prior(20_000, seed=3)
    assert z.dtype == np.float32 and z.shape == (20_000, 16)
    assert abs(z.std() - 1.0) < 0.02
    z2 = m.sample_prior(20_000, seed=3, temperature=0.5)
    assert abs(z2.std() - 0.5) < 0.01
