"""Principal directions and per-channel offset/gain for spatial latents (core, no Qt)."""
import numpy as np
import pytest

from latent_explorer.core.latent.directions import SpatialEdit, channel_adjust, fit_directions, is_spatial


def spatial_latents(n=40, shape=(4, 6, 6), seed=0):
    rng = np.random.default_rng(seed)
    d = int(np.prod(shape))
    basis = np.linalg.qr(rng.standard_normal((d, 3)))[0].T  # 3 orthonormal directions
    coef = rng.standard_normal((n, 3)) * np.array([5.0, 2.0, 0.5])
    x = coef @ basis + 0.01 * rng.standard_normal((n, d)) + 1.0
    return x.reshape(n, *shape).astype(np.float32), basis


def test_directions_recover_the_data_axes_with_ranges_from_the_data():
    lat, basis = spatial_latents()
    dirs = fit_directions(lat, k=32)
    assert len(dirs) == 32
    assert dirs.components.shape[1] == lat[0].size and dirs.latent_shape == (4, 6, 6)
    # the first three directions span the planted ones, in order of variance
    for i in range(3):
        assert abs(dirs.components[i] @ basis[i]) > 0.99
    assert dirs.std[0] > dirs.std[1] > dirs.std[2] > 10 * dirs.std[5]
    assert dirs.explained[:3].sum() > 0.99
    np.testing.assert_allclose(dirs.ranges[0], [-3 * dirs.std[0], 3 * dirs.std[0]], rtol=1e-6)
    # orthonormal
    g = dirs.components[:5] @ dirs.components[:5].T
    np.testing.assert_allclose(g, np.eye(5), atol=1e-4)
    # the projections of the data have the std the ranges are built from
    proj = np.stack([dirs.coords(z) for z in lat])
    np.testing.assert_allclose(proj[:, 0].std(ddof=1), dirs.std[0], rtol=1e-3)


def test_large_sets_use_randomized_pca_and_agree():
    lat, basis = spatial_latents(n=2100, shape=(2, 4, 4))
    dirs = fit_directions(lat, k=4)
    assert len(dirs) == 4 and abs(dirs.components[0] @ basis[0]) > 0.99


def test_few_latents_give_at_most_n_minus_1_directions():
    lat, _ = spatial_latents(n=3)
    assert len(fit_directions(lat)) <= 2
    with pytest.raises(ValueError):
        fit_directions(lat[:1])


def test_move_sets_one_coordinate_only():
    lat, _ = spatial_latents()
    dirs = fit_directions(lat, k=5)
    z = lat[0]
    z2 = dirs.move(z, 1, 4.0)
    c, c2 = dirs.coords(z), dirs.coords(z2)
    assert c2[1] == pytest.approx(4.0, abs=1e-4)
    np.testing.assert_allclose(np.delete(c2, 1), np.delete(c, 1), atol=1e-4)


def test_channel_gain_is_about_the_channel_mean_and_offset_shifts():
    z = np.random.default_rng(1).standard_normal((4, 5, 5)).astype(np.float32)
    out = channel_adjust(z, offset=[0, 1, 0, 0], gain=[1, 1, 2, 0])
    np.testing.assert_allclose(out[0], z[0], atol=1e-6)
    np.testing.assert_allclose(out[1], z[1] + 1, atol=1e-6)
    np.testing.assert_allclose(out[2].mean(), z[2].mean(), atol=1e-5)
    np.testing.assert_allclose(out[2].std(), 2 * z[2].std(), rtol=1e-5)
    np.testing.assert_allclose(out[3], np.full((5, 5), z[3].mean()), atol=1e-5)


def test_spatial_edit_composes_directions_and_channels_and_resets():
    lat, _ = spatial_latents()
    dirs = fit_directions(lat, k=5)
    ed = SpatialEdit((4, 6, 6), dirs)
    ed.reset(lat[3])
    np.testing.assert_allclose(ed.latent(), lat[3], atol=1e-5)
    assert not ed.edited
    ed.set_direction(0, ed.coords[0] + 2.0)
    z = ed.set_gain(1, 1.5)
    assert ed.edited
    # the direction edit survives the channel edit, and vice versa
    np.testing.assert_allclose(dirs.coords(channel_adjust(dirs.move(lat[3], 0, ed.coords[0]), ed.offset,
                                                          np.ones(4)))[0], ed.coords[0], atol=1e-4)
    np.testing.assert_allclose(z, channel_adjust(dirs.move(lat[3], 0, ed.coords[0]), [0] * 4, [1, 1.5, 1, 1]),
                               atol=1e-4)
    ed.reset(lat[4])
    np.testing.assert_allclose(ed.latent(), lat[4], atol=1e-5)
    assert is_spatial((4, 8, 8)) and not is_spatial((16,))
