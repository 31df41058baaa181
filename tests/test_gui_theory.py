"""The Theory panel: the selected image's numbers are the core's, the edited latent's numbers follow
the sliders, z = μ + σ·ε step by step, and the posterior drawn on the map."""
import numpy as np
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

from latent_explorer.core import explain
from latent_explorer.core.latent.posterior_map import ellipse


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.previews.first_preview_at is not None
                             and w.views.theory is not None)


def settle(qtbot, win):
    qtbot.waitUntil(lambda: win.worker.pending_count() == 0 and not any(
        win.worker.is_busy(k) for k in ("theory", "posterior", "preview", "recon")), timeout=20000)


def selected_numbers(qtbot, win, i):
    win.theory_dock.show()
    win.maps.select(i)
    qtbot.waitUntil(lambda: win.theory.image_numbers is not None
                    and np.allclose(win.theory.image_numbers.mean, win.maps.data.mean[i].reshape(-1), atol=1e-5),
                    timeout=20000)
    settle(qtbot, win)
    return win.theory.image_numbers


def test_the_panel_shows_the_cores_numbers_for_the_selected_image(qtbot, open_window):
    win = open_window(map_limit=120)
    n = selected_numbers(qtbot, win, 7)
    model, image = win.worker._model, win.maps.data.images[7]
    ref = explain.explain(model, image[None])[0]
    np.testing.assert_allclose(n.kl_per_dim, ref["kl_per_dim"], rtol=1e-5, atol=1e-6)
    assert n.recon_nats == pytest.approx(ref["recon_nats"], rel=1e-5)
    assert n.neg_elbo_nats == pytest.approx(ref["neg_elbo_nats"], rel=1e-5)
    text = win.views.theory.elbo_text.text()
    assert f"{ref['neg_elbo_nats']:.1f}" in text and "reconstruction" in text
    # the top dimension's μ, σ², log σ² and KL in numbers
    top = win.views.sliders.order[0]
    table = win.views.theory.steps.text()
    for value in (f"{n.var[top]:.3f}", f"{n.logvar[top]:+.2f}", f"{n.kl_per_dim[top]:.2f}"):
        assert value in table
    # the bars follow the sliders' order
    order = win.views.sliders.order
    x, y = win.views.theory.mu.getData()
    np.testing.assert_allclose(y, n.mean[order], rtol=1e-6)


def test_editing_z_shows_log_prior_and_the_reconstruction_term_of_the_image(qtbot, open_window):
    win = open_window(map_limit=120)
    selected_numbers(qtbot, win, 3)
    row = win.views.sliders.rows[win.views.sliders.order[0]]
    row.slider.setValue(2.9)  # far out along the most informative dimension
    z = win.state.z.copy()
    qtbot.waitUntil(lambda: win.theory.latent_for is not None and np.array_equal(win.theory.latent_for, z),
                    timeout=20000)
    model, image = win.worker._model, win.maps.data.images[3]
    lp = float(explain.log_prior(z.reshape(1, -1))[0])
    rec = float(explain.recon_nats(model, image[None], z[None])[0])
    text = win.views.theory.live.text()
    assert f"{lp:.1f}" in text and f"{rec:.1f}" in text


def test_sampling_z_mu_plus_sigma_eps_step_by_step(qtbot, open_window):
    win = open_window(map_limit=120)
    n = selected_numbers(qtbot, win, 5)
    with qtbot.waitSignal(win.previews.shown, timeout=20000):
        win.views.theory.sample_button.click()
    d = win.theory.draws
    sigma = np.exp(0.5 * n.logvar)
    np.testing.assert_allclose(d.z.reshape(-1), n.mean + sigma * d.eps[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d.sigma_eps[0], sigma * d.eps[0], rtol=1e-5)
    np.testing.assert_array_equal(win.state.z, d.z[0])
    np.testing.assert_array_equal(win.views.preview.image, win.worker._model.decode(d.z[:1])[0])
    assert "z = μ + σ·ε" in win.views.theory.steps.text()
    win.views.theory.many_button.click()
    qtbot.waitUntil(lambda: win.theory.draws is not None and len(win.theory.draws.z) == 16, timeout=20000)
    assert not win.views.theory.grid.pixmap().isNull()
    x, y = win.theory.overlay.cloud.getData()
    assert len(x) == 16
    ex, ey = win.theory.overlay.ellipses[0].getData()  # PCA: the 1σ ellipse is drawn
    assert len(ex) > 10


def test_on_a_2d_latent_the_ellipse_is_the_posterior_itself(qtbot, open_window):
    win = open_window(model="digits-2d", map_limit=120)
    n = selected_numbers(qtbot, win, 2)
    expect = ellipse(n.mean, np.diag(n.var), 2.0)
    ex, ey = win.theory.overlay.ellipses[1].getData()
    np.testing.assert_allclose(np.stack([ex, ey], 1), expect, rtol=1e-5, atol=1e-6)


def test_the_prior_and_the_holes_on_the_map_and_a_click_in_a_hole_decodes_it(qtbot, open_window):
    from latent_explorer.core.latent.posterior_map import grid_centres

    win = open_window(model="digits-2d", map_limit=300)
    selected_numbers(qtbot, win, 1)
    win.views.theory.prior_check.setChecked(True)
    assert win.theory.hole_grid is not None
    ex, ey = win.theory.prior.contours[0].getData()  # the prior's 1σ circle: radius 1 around 0
    np.testing.assert_allclose(np.hypot(ex, ey), 1.0, atol=1e-6)
    rect, holes = win.theory.hole_grid
    assert holes.any(), "a 300-image map leaves parts of the prior's 2σ disc empty"
    i, j = np.argwhere(holes)[0]
    xs, ys = grid_centres(rect, holes.shape[0])
    win.views.map.placeClicked.emit(float(xs[j]), float(ys[i]))
    np.testing.assert_allclose(win.state.z, [xs[j], ys[i]], atol=1e-6)  # exact: the latent at the hole
    assert "a hole" in win.views.preview.caption.text()
    win.views.theory.prior_check.setChecked(False)
    assert win.model.prior_holes is None


def test_a_latent_beyond_the_sliders_range_shows_its_real_value(qtbot, open_window):
    win = open_window(map_limit=100)
    z = np.zeros(16, np.float32)
    dim = win.views.sliders.order[0]
    z[dim] = 4.37
    win.previews.set_latent(z, "far out")
    row = win.views.sliders.rows[dim]
    assert row.slider.value() == pytest.approx(3.0)          # the handle waits at the end ...
    assert row.value_label.text() == "4.37"                 # ... and the label says where z is
    assert "beyond" in row.value_label.toolTip()
    z[dim] = 1.0
    win.previews.set_latent(z, "back in range")
    assert float(row.value_label.text()) == pytest.approx(1.0) and row.value_label.toolTip() == ""


def test_the_plots_save_as_png_and_svg_for_slides(qtbot, open_window, tmp_path):
    win = open_window(map_limit=100)
    selected_numbers(qtbot, win, 2)
    written = win.views.theory.save_figures(str(tmp_path / "theory")) + win.maps.save_map_figure(str(tmp_path / "map"))
    assert sorted(p.rsplit("/", 1)[1] for p in written) == [
        "map.png", "map.svg", "theory-kl.png", "theory-kl.svg", "theory-posterior.png", "theory-posterior.svg"]
    for p in written:
        data = open(p, "rb").read()
        assert len(data) > 500 and (data.startswith(b"\x89PNG") if p.endswith(".png") else b"<svg" in data)


def test_the_2d_manifold_figure_linear_and_inverse_cdf(qtbot, open_window):
    from scipy.stats import norm

    win = open_window(model="digits-2d", map_limit=100)
    selected_numbers(qtbot, win, 0)
    box = win.views.theory.manifold_box
    assert box.isVisibleTo(win)
    box.setCurrentIndex(box.findData("icdf"))
    qtbot.waitUntil(lambda: win.theory.manifold_latents is not None, timeout=20000)
    z = win.theory.manifold_latents
    u = np.linspace(0.5 / 15, 1 - 0.5 / 15, 15)
    np.testing.assert_allclose(z[-1, :, 0], norm.ppf(u), rtol=1e-5)   # bottom row: z0 from left to right
    np.testing.assert_allclose(z[:, 0, 1], norm.ppf(u)[::-1], rtol=1e-5)  # first column: z1 from top down
    assert not win.views.theory.grid.pixmap().isNull()
    box.setCurrentIndex(box.findData("linear"))
    qtbot.waitUntil(lambda: np.isclose(win.theory.manifold_latents[0, 0, 0], -3.0), timeout=20000)


def test_on_a_t_sne_map_the_samples_are_placed_approximately_and_the_panel_says_why(qtbot, open_window):
    win = open_window(map_limit=80)
    selected_numbers(qtbot, win, 1)
    win.maps.set_projection("tsne")
    qtbot.waitUntil(lambda: win.maps.data.projection.method == "tsne", timeout=60000)
    win.maps.select(1)
    qtbot.waitUntil(lambda: win.views.theory.note.isVisibleTo(win), timeout=20000)
    assert "not linear" in win.views.theory.note.text()
    ex, _ = win.theory.overlay.ellipses[0].getData()
    assert ex is None or len(ex) == 0  # no ellipse on a map that is not linear
    win.views.theory.many_button.click()
    qtbot.waitUntil(lambda: win.theory.draws is not None and len(win.theory.draws.z) == 16, timeout=20000)
    x, _ = win.theory.overlay.cloud.getData()
    assert len(x) == 16


def test_the_drawn_holes_and_density_contours_sit_where_the_grids_say(qtbot, open_window):
    from latent_explorer.core.latent.posterior_map import grid_centres

    win = open_window(model="digits-2d-ae", map_limit=300)
    selected_numbers(qtbot, win, 1)
    win.views.theory.prior_check.setChecked(True)
    rect, holes = win.theory.hole_grid
    n = holes.shape[0]
    xs, ys = grid_centres(rect, n)
    image = win.theory.prior.holes
    for i, j in np.argwhere(holes)[:: max(1, holes.sum() // 20)]:
        # the hole image's pixel at map point (x_j, y_i) is shaded
        p = image.mapFromView(pg_point(xs[j], ys[i]))
        assert image.image[int(p.y()), int(p.x()), 3] > 0
    # the densest cell of the data lies inside the inner density contour's bounds
    from latent_explorer.core.latent.posterior_map import density_grid

    dens = density_grid(win.maps.data.xy, rect, n)
    i, j = np.unravel_index(np.argmax(dens), dens.shape)
    inner = win.theory.prior.density[1]
    bounds = inner.mapRectToView(inner.boundingRect())
    assert bounds.left() <= xs[j] <= bounds.right() and bounds.top() <= ys[i] <= bounds.bottom()


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(float(x), float(y))
