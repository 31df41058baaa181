"""2-D projections of latents and the way back from a map point (core.latent.project)."""
import numpy as np
import pytest

from latent_explorer.core.latent.project import (MapInterpolator, available_methods, blend_weights, fit_projection,
                                                 point_density, umap_available)


@pytest.fixture
def latents(rng):
    # three clusters in 6-d, so the map has structure
    centres = rng.normal(size=(3, 6)) * 4
    return np.concatenate([c + rng.normal(size=(25, 6)) for c in centres]).astype(np.float32)


def test_pca_projection_locates_fitted_latents_where_it_drew_them(latents):
    p = fit_projection(latents, "pca")
    assert p.xy.shape == (75, 2) and p.xy.dtype == np.float32
    np.testing.assert_allclose(p.locate(latents), p.xy, atol=1e-4)
    np.testing.assert_allclose(p.locate(latents[5]), p.xy[5], atol=1e-4)
    assert p.exact and len(p.explained) == 2 and p.explained[0] >= p.explained[1]


def test_pca_inverse_lies_on_the_plane_and_round_trips(latents):
    p = fit_projection(latents, "pca")
    xy = np.array([[0.5, -1.0], [2.0, 3.0]], np.float32)
    z = p.inverse(xy)
    np.testing.assert_allclose(p.locate(z), xy, atol=1e-4)


def test_identity_projection_is_the_2d_latent_itself(rng):
    z = rng.normal(size=(50, 2)).astype(np.float32)
    p = fit_projection(z, "identity")
    np.testing.assert_array_equal(p.xy, z)
    np.testing.assert_array_equal(p.inverse(z[:3]), z[:3])
    with pytest.raises(ValueError, match="2-d"):
        fit_projection(np.zeros((5, 3), np.float32), "identity")


def test_tsne_projection_and_nearest_neighbour_locate(latents):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # OpenMP threads spinning against torch's on 2 busy cores are slow
        p = fit_projection(latents, "tsne")
    assert p.xy.shape == (75, 2) and np.isfinite(p.xy).all()
    assert not p.exact
    # a fitted latent lands on (or right next to) its own map point
    np.testing.assert_allclose(p.locate(latents[7]), p.xy[7], atol=1e-2)
    with pytest.raises(ValueError, match="no inverse"):
        p.inverse(p.xy[:1])


def test_tsne_with_poll_runs_in_a_child_process_and_gives_the_same_map(latents):
    from threadpoolctl import threadpool_limits

    calls = []
    p = fit_projection(latents, "tsne", poll=lambda: calls.append(1))
    assert calls, "poll() is called while the child works"
    with threadpool_limits(1):  # the child runs on one thread too
        inline = fit_projection(latents, "tsne")
    assert p.method == "tsne" and p.xy.shape == (75, 2)
    np.testing.assert_allclose(p.xy, inline.xy, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(p.locate(latents[7]), p.xy[7], atol=1e-2)


def test_a_raising_poll_kills_the_tsne_child_at_once(rng, monkeypatch):
    import signal
    import subprocess
    import sys

    from latent_explorer.core.errors import Cancelled

    started = []
    real_popen = subprocess.Popen

    def popen(*a, **kw):
        started.append(real_popen(*a, **kw))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    big = rng.normal(size=(4000, 16)).astype(np.float32)  # tens of seconds of t-SNE
    polls = []

    def poll():
        polls.append(started[0].poll())  # the child's state at each poll
        if len(polls) == 3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        fit_projection(big, "tsne", poll=poll)
    assert polls == [None, None, None]  # polled while the child ran, and not once after the cancel
    assert len(started) == 1 and started[0].returncode is not None  # reaped before the exception came out
    if sys.platform != "win32":
        assert started[0].returncode == -signal.SIGKILL  # killed, not finished


def test_a_failing_child_is_a_clear_error(latents):
    with pytest.raises(RuntimeError, match="t-SNE failed"):
        fit_projection(latents[:2], "tsne", poll=lambda: None)  # fewer than 3 points


def test_unknown_method_and_missing_umap_are_clear_errors(latents):
    with pytest.raises(ValueError, match="unknown projection"):
        fit_projection(latents, "mds")
    if not umap_available():
        with pytest.raises(ValueError, match="umap-learn"):
            fit_projection(latents, "umap")
        assert "umap" not in available_methods(16)
    assert available_methods(2)[0] == "identity" and available_methods(16)[0] == "pca"


def test_interpolator_returns_data_latents_at_data_points(latents):
    p = fit_projection(latents, "pca")
    interp = MapInterpolator(p.xy, latents)
    for i in (0, 33, 74):
        np.testing.assert_allclose(interp.latent_at(p.xy[i]), latents[i], atol=1e-4)


def test_interpolator_blends_the_triangle_around_a_point(latents):
    p = fit_projection(latents, "pca")
    interp = MapInterpolator(p.xy, latents)
    tri = interp.tri.simplices[10]
    w_true = np.array([0.2, 0.3, 0.5])
    q = (w_true[:, None] * p.xy[tri]).sum(0)
    idx, w = interp.weights_at(q)
    assert sorted(idx) == sorted(tri)
    np.testing.assert_allclose(interp.latent_at(q), (w_true[:, None] * latents[tri]).sum(0), atol=1e-3)
    assert w.min() >= 0 and w.sum() == pytest.approx(1)


def test_interpolator_outside_the_hull_stays_on_the_data(latents):
    p = fit_projection(latents, "pca")
    interp = MapInterpolator(p.xy, latents)
    far = p.xy.max(0) + 100
    idx, w = interp.weights_at(far)
    assert w.min() >= 0 and w.sum() == pytest.approx(1)
    z = interp.latent_at(far)
    assert np.isfinite(z).all()
    assert np.all(z <= latents.max(0) + 1e-4) and np.all(z >= latents.min(0) - 1e-4)


def test_blend_weights_of_three_and_more_pins():
    pts = np.array([[0, 0], [1, 0], [0, 1]], np.float64)
    idx, w = blend_weights(pts, (1 / 3, 1 / 3))
    np.testing.assert_allclose(w, [1 / 3] * 3, atol=1e-9)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    idx, w = blend_weights(square, (0.9, 0.9))
    assert 2 in idx and w.sum() == pytest.approx(1) and w.min() >= 0
    z = (w[:, None] * square[idx]).sum(0)
    np.testing.assert_allclose(z, [0.9, 0.9], atol=1e-6)
    with pytest.raises(ValueError):
        blend_weights(pts[:2], (0, 0))


def test_point_density_is_higher_in_a_cluster(rng):
    xy = np.concatenate([rng.normal(size=(200, 2)) * 0.1, rng.uniform(-5, 5, size=(20, 2))])
    d = point_density(xy)
    assert d.shape == (220,) and d.max() == pytest.approx(1.0) and d.min() >= 0
    assert d[:200].mean() > d[200:].mean() * 3


def test_large_maps_pca_incrementally_and_tsne_on_a_sample(rng, monkeypatch):
    from latent_explorer.core.latent import project

    z = (rng.normal(size=(1700, 6)) * [5, 3, 1, 1, 1, 1]).astype(np.float32)
    monkeypatch.setattr(project, "PCA_BATCH", 500)
    inc = fit_projection(z, "pca").xy
    for k in range(2):  # the incremental axes are PCA's (up to sign)
        assert abs(np.corrcoef(inc[:, k], (z - z.mean(0)) @ np.eye(6)[k])[0, 1]) > 0.98
    monkeypatch.setattr(project, "FIT_POINTS", {"tsne": 150})
    p = fit_projection(z[:400], "tsne")
    fit = p.extra["fit"]
    assert p.xy.shape == (400, 2) and len(fit) == 150 and np.isfinite(p.xy).all()
    rest = np.setdiff1d(np.arange(400), fit)
    np.testing.assert_allclose(p.locate(z[rest[:5]]), p.xy[rest[:5]], atol=1e-3)  # placed by the same neighbours
