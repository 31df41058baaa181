"""The main window on the real bundled models: sliders, map clicks, drag-to-morph, errors, closing."""
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from gui_fixtures import click, close_windows, drag, qt_leak_guard, view_to_viewport, viewport_to_view  # noqa: F401

from latent_explorer.gui.app import launch
from latent_explorer.gui.main_window import LaunchOptions

pytestmark = pytest.mark.usefixtures("qt_leak_guard")

MAP_LIMIT = 400  # a smaller map keeps each window test to a second or two


def reference(win, qtbot):
    """The window's own model, called directly (not through the worker), to check what it shows.

    (The bundled weights may be replaced while tests run, so a second load could differ.)
    Waits until the worker is idle so the two threads never share the model at once.
    """
    qtbot.waitUntil(lambda: not any(win.worker.is_busy(k) for k in ("preview", "strip", "map", "recon",
                                                                     "traversal", "manifold")), timeout=10000)
    return win.worker._model


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    wins = []

    def open_(model="digits", demo=False, wait_map=True):
        _, win = launch(LaunchOptions(model=model, device="cpu", demo=demo, map_limit=MAP_LIMIT))
        wins.append(win)
        if wait_map:
            qtbot.waitUntil(lambda: win.maps.data is not None and win.previews.first_preview_at is not None, timeout=60000)
            # the slider strips arrive last; after them the layout (and map pixels) stay put
            qtbot.waitUntil(lambda: win.ctx.sliders.traversal_ready or not win.views.sliders.rows, timeout=20000)
            settle_layout()
        return win

    yield open_
    close_windows(wins)


def settle_layout():
    """Apply the layout changes already asked for (they are posted events), so map pixels stay put."""
    QApplication.sendPostedEvents()
    QApplication.processEvents()


def wait_preview_of(qtbot, win, z):
    """Wait until the preview shows the decode of latent z: the state is z, no preview decode waits
    or runs, and the result the worker already sent (a queued event) has been delivered."""
    def shown():
        if win.state.z is None or not np.allclose(win.state.z, z) or win.worker.is_busy("preview"):
            return False
        QApplication.sendPostedEvents()  # the last decode's result, if it is still queued
        return win.views.preview.image is not None

    qtbot.waitUntil(shown, timeout=10000)


def test_slider_change_changes_the_preview_pixels(qtbot, open_window):
    win = open_window("digits")
    win.maps.select(0)
    wait_preview_of(qtbot, win, win.maps.data.mean[0])
    before = win.views.preview.image.copy()
    dim = win.views.sliders.order[0]  # the most informative dimension
    row = win.views.sliders.rows[dim]
    target = 2.5 if win.state.z[dim] < 0 else -2.5
    row.slider.setValue(target)  # the widget's own signal path, as a drag does
    assert win.state.z[dim] == pytest.approx(target)
    qtbot.waitUntil(lambda: not np.array_equal(win.views.preview.image, before), timeout=10000)
    wait_preview_of(qtbot, win, win.state.z)
    expect = reference(win, qtbot).decode(win.state.z[None])[0]
    np.testing.assert_array_equal(win.views.preview.image, expect)
    # the map's current-latent marker follows the sliders (to the projection of the new z)
    where = win.maps.data.projection.locate(win.state.z.reshape(-1))
    qtbot.waitUntil(lambda: win.views.map.current_position() is not None
                    and np.allclose(win.views.map.current_position(), where, atol=1e-4), timeout=5000)
    # keyboard: the arrow key nudges the focused slider
    inner = row.slider._slider
    inner.setFocus()
    old = row.slider.value()
    qtbot.keyClick(inner, Qt.Key.Key_Left)
    assert row.slider.value() == pytest.approx(old - 0.05)


def test_map_click_decodes_the_clicked_place_exactly_on_digits_2d(qtbot, open_window):
    win = open_window("digits-2d")
    m = win.views.map
    assert win.maps.data.projection.method == "identity"
    # an empty spot on the map (clicking a point would select that image instead)
    vp = m.plot.viewport()
    spot = None
    for fx in np.linspace(0.1, 0.9, 9):
        for fy in np.linspace(0.1, 0.9, 9):
            p = QPoint(int(vp.width() * fx), int(vp.height() * fy))
            x, y = viewport_to_view(m, p)
            if m.point_at(m.vb.mapSceneToView(m.plot.mapToScene(p)), radius_px=12) is None:
                spot = p
                break
        if spot is not None:
            break
    assert spot is not None
    x, y = viewport_to_view(m, spot)
    click(vp, spot)
    z = np.array([x, y], np.float32)
    qtbot.waitUntil(lambda: win.state.z is not None and np.allclose(win.state.z, z, atol=1e-4), timeout=5000)
    wait_preview_of(qtbot, win, win.state.z)
    expect = reference(win, qtbot).decode(win.state.z[None])[0]
    np.testing.assert_array_equal(win.views.preview.image, expect)
    assert "map point" in win.state.source


def _pickable(win, candidates):
    """The first candidate point that is the nearest point to its own pixel."""
    m = win.views.map
    for i in candidates:
        p = view_to_viewport(m, *win.maps.data.xy[i])
        if m.point_at(m.vb.mapSceneToView(m.plot.mapToScene(p))) == i:
            return int(i), p
    raise AssertionError("no pickable point")


def test_clicking_a_point_selects_that_image(qtbot, open_window):
    win = open_window("digits-2d")
    m = win.views.map
    i, p = _pickable(win, np.argsort(-win.maps.data.xy[:, 0]))  # an outlying point
    click(m.plot.viewport(), p)
    qtbot.waitUntil(lambda: win.maps.selected is not None, timeout=5000)
    assert win.maps.selected == i
    np.testing.assert_array_equal(win.state.z, win.maps.data.mean[i])
    qtbot.waitUntil(lambda: win.views.recon.recon.image.pixmap() is not None
                    and not win.views.recon.recon.image.pixmap().isNull(), timeout=5000)


def test_map_click_on_digits_blends_the_triangle_around_it(qtbot, open_window):
    win = open_window("digits")
    d = win.maps.data
    tri = d.interpolator.tri.simplices[0]
    centre = d.xy[tri].mean(0)
    win.views.map.placeClicked.emit(float(centre[0]), float(centre[1]))
    idx, w = d.interpolator.weights_at(centre)
    expect = (w[:, None] * d.mean[idx]).sum(0)
    np.testing.assert_allclose(win.state.z, expect, atol=1e-5)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)


def _two_far_points(win):
    """Two points, each the nearest to its own pixel, far apart on screen."""
    xy = win.maps.data.xy
    a, _ = _pickable(win, np.argsort(xy[:, 0]))
    b, _ = _pickable(win, np.argsort(-xy[:, 0]))
    return a, b


def test_drag_from_point_to_point_makes_a_morph_strip(qtbot, open_window):
    win = open_window("digits")
    a, b = _two_far_points(win)
    m = win.views.map
    pa, pb = view_to_viewport(m, *win.maps.data.xy[a]), view_to_viewport(m, *win.maps.data.xy[b])
    previews = []
    win.previews.shown.connect(previews.append)
    with qtbot.waitSignal(win.morphs.stripReady, timeout=10000) as sig:
        drag(m.plot.viewport(), pa, pb, steps=10, qtbot=qtbot)
    strip = sig.args[0]
    assert strip.endpoints == (a, b)
    assert len(previews) >= 1  # the preview morphed live along the drag
    ref = reference(win, qtbot)
    np.testing.assert_array_equal(strip.frames[0], ref.decode(win.maps.data.mean[a][None])[0])
    np.testing.assert_array_equal(strip.frames[-1], ref.decode(win.maps.data.mean[b][None])[0])
    assert len(strip.frames) == win.views.morph.frame_count
    # scrubbing shows the frame in the preview
    win.views.morph.scrub.setValue(3)
    np.testing.assert_array_equal(win.views.preview.image, strip.frames[3])
    np.testing.assert_allclose(win.state.z, strip.latents[3])
    # lerp instead of slerp recomputes the strip
    with qtbot.waitSignal(win.morphs.stripReady, timeout=10000) as sig:
        win.views.morph.method.setCurrentIndex(win.views.morph.method.findData("lerp"))
    assert sig.args[0].method == "lerp"


def test_three_pins_blend_inside_their_triangle(qtbot, open_window):
    win = open_window("digits")
    d = win.maps.data
    pins = [int(np.argmin(d.xy[:, 0])), int(np.argmax(d.xy[:, 0])), int(np.argmax(d.xy[:, 1]))]
    for i in pins:
        win.views.map.toggle_pin(i)
    centre = d.xy[pins].mean(0)
    assert win.views.map._drag_mode_at(QPointF(float(centre[0]), float(centre[1]))) == "blend"
    win.views.map.blendMoved.emit(float(centre[0]), float(centre[1]))
    np.testing.assert_allclose(win.state.z, d.mean[pins].mean(0), atol=1e-4)
    assert win.state.source.startswith("blend")


def test_undo_and_redo_latent_edits(qtbot, open_window):
    win = open_window("digits")
    win.maps.select(1)
    z0 = win.state.z.copy()
    dim = win.views.sliders.order[0]
    win.views.sliders.rows[dim].slider.setValue(1.5)
    win.state.commit()
    z1 = win.state.z.copy()
    win.views.menus.undo.trigger()
    np.testing.assert_array_equal(win.state.z, z0)
    assert win.views.sliders.value(dim) == pytest.approx(float(np.clip(z0[dim], -3, 3)), abs=0.01)
    win.views.menus.redo.trigger()
    np.testing.assert_array_equal(win.state.z, z1)


def test_random_sample_reset_and_copy(qtbot, open_window):
    win = open_window("digits")
    win.maps.select(2)
    with qtbot.waitSignal(win.previews.shown, timeout=5000):
        win.views.random_button.click()
    assert win.state.source.startswith("random sample")
    assert "N(0, I)" not in win.views.preview.caption.text()  # its KL is weighed: the prior is where images lie
    assert not np.array_equal(win.state.z, win.maps.data.mean[2])
    win.views.reset_button.click()
    np.testing.assert_array_equal(win.state.z, win.maps.data.mean[2])
    win.views.copy_button.click()
    text = QApplication.clipboard().text()
    assert np.allclose(np.array(eval(text)), win.state.z, atol=1e-4)


def test_kl_orders_the_sliders_and_marks_the_posterior(qtbot, open_window):
    win = open_window("digits")
    kl = win.maps.data.kl_per_dim
    assert win.views.sliders.order == list(np.argsort(-kl, kind="stable"))
    win.maps.select(3)
    row = win.views.sliders.rows[0]
    assert row.mark.mu == pytest.approx(float(win.maps.data.mean[3][0]))
    assert row.mark.sigma == pytest.approx(float(np.exp(0.5 * win.maps.data.logvar[3][0])))
    qtbot.waitUntil(lambda: win.views.sliders.rows[0].strip.pixmap() is not None
                    and not win.views.sliders.rows[0].strip.pixmap().isNull(), timeout=10000)


def test_worker_exception_shows_a_message_and_the_next_request_works(qtbot, open_window):
    win = open_window("digits")
    model = win.worker._model
    real = model.decode

    def broken(z, batch_size=256):
        model.decode = real
        raise RuntimeError("decoder exploded")

    model.decode = broken
    row = win.views.sliders.rows[0]
    with qtbot.waitSignal(win.ctx.errorShown, timeout=5000) as sig:
        row.slider.setValue(1.0)
    assert "decoder exploded" in sig.args[0]
    assert win.views.banner.isVisible() or not win.isVisible()
    assert "decoder exploded" in win.views.banner.text.text()
    with qtbot.waitSignal(win.previews.shown, timeout=5000):
        row.slider.setValue(-1.0)


def test_export_morph_writes_gif_and_png_with_recipe(qtbot, open_window, tmp_path):
    from latent_explorer.core.export import read_png_recipe

    win = open_window("digits")
    with qtbot.waitSignal(win.morphs.stripReady, timeout=10000):
        win.morphs.make(0, 1)
    for name in ("m.gif", "m.png"):
        with qtbot.waitSignal(win.worker.finished, timeout=10000):
            win.exports.export_morph(str(tmp_path / name))
    assert (tmp_path / "m.gif").stat().st_size > 100
    assert (tmp_path / "m.gif.json").exists()
    recipe = read_png_recipe(tmp_path / "m.png")
    assert recipe["kind"] == "morph" and recipe["method"] == "slerp" and "model_hash" in recipe


def test_closing_during_a_blocked_decode_exits_quickly_and_cleanly(qtbot, open_window):
    from latent_explorer.gui.worker import abandoned_threads

    win = open_window("digits")
    model = win.worker._model
    real = model.decode
    started, gate = threading.Event(), threading.Event()

    def stuck(z, batch_size=256):  # stuck until the gate opens: no flag can interrupt it
        started.set()
        gate.wait(60)  # a hang guard only: the test opens the gate itself
        return real(z, batch_size)

    model.decode = stuck
    shown = []
    win.previews.shown.connect(shown.append)
    win.views.sliders.rows[0].slider.setValue(2.0)
    qtbot.waitUntil(started.is_set, timeout=5000)
    try:
        win.close()
        # close() returned while the decode is still stuck: it did not wait for it
        assert not gate.is_set() and not win.isVisible()
        assert win.worker.is_running() and win.worker._thread in abandoned_threads()  # kept, never destroyed
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not win.worker.is_running(), timeout=10000)
    QApplication.sendPostedEvents()
    QApplication.processEvents()
    assert shown == []  # the late decode is never shown in the closed window
    assert win.worker._thread not in abandoned_threads()


def test_a_model_that_loads_while_the_panels_are_built_shows_its_preview_at_once(qtbot, qt_leak_guard):  # noqa: F811
    import latent_explorer as lx
    from latent_explorer.gui.controllers.preview import PreviewController

    model = lx.load_model("digits", device="cpu")  # loaded already: the worker hands it over at once
    seen = []
    real_init = PreviewController.__init__

    def init(self, ctx):  # listen to the frames from the moment the preview controller exists
        real_init(self, ctx)
        self.shown.connect(lambda rid: seen.append((ctx.views.built, ctx.views.preview.caption.text())))

    PreviewController.__init__ = init
    try:
        _, win = launch(LaunchOptions(model_object=model, device="cpu", demo=False, map_limit=MAP_LIMIT))
        qtbot.waitUntil(lambda: win.maps.data is not None, timeout=60000)
    finally:
        PreviewController.__init__ = real_init
    try:
        # the first frame came while the map and sliders were still being built, and it is z = 0
        assert seen[0] == (False, "the prior's mean z = 0")
        qtbot.waitUntil(lambda: win.views.preview.request_id == win.worker.latest_id("preview"), timeout=10000)
        np.testing.assert_array_equal(win.views.preview.image, model.decode(np.zeros((1, 16), np.float32))[0])
    finally:
        win.close()


def test_the_cyclic_collector_is_off_while_starting_and_back_once_ready(qtbot, qt_leak_guard):  # noqa: F811
    import gc

    _, win = launch(LaunchOptions(model="digits", device="cpu", demo=False, map_limit=MAP_LIMIT))
    try:
        assert not gc.isenabled()  # start-up: no full collections over torch's heap on the way
        qtbot.waitUntil(lambda: win.readiness.sent, timeout=60000)
        assert gc.isenabled() and gc.get_freeze_count() > 0  # the start-up heap is frozen, not rescanned
    finally:
        win.close()
    _, win = launch(LaunchOptions(model="digits", device="cpu", demo=False, map_limit=MAP_LIMIT))
    win.close()  # closed before it was ready: the collector is on again all the same
    assert gc.isenabled()


def test_a_model_that_fails_while_the_panels_are_built_says_so_in_them(qtbot, qt_leak_guard):  # noqa: F811
    from PySide6.QtWidgets import QMessageBox

    class Broken:  # no LatentModel API at all: describing it fails on the worker at once
        pass

    _, win = launch(LaunchOptions(model_object=Broken(), device="cpu", demo=False, autosave=False))
    try:
        qtbot.waitUntil(lambda: win.views.built and win.readiness.sent, timeout=30000)
        assert win.models.summary is None and win.exit_code == 2
        assert win.views.preview.placeholder.isVisible() and win.views.preview.placeholder.text() == "No model loaded"
        assert win.views.map.message.text().startswith("No model loaded")
        assert "Could not load the model" in win.views.banner.text.text()
    finally:
        for box in win.findChildren(QMessageBox):
            box.close()
        win.close()


def test_the_history_shows_a_drag_as_it_happens(qtbot, open_window):
    win = open_window("digits")
    panel = win.views.history_panel
    n = panel.list.count()
    row = win.views.sliders.rows[win.views.sliders.order[0]]
    row.slider.setValue(1.7)  # a drag under way: no commit yet
    assert panel.list.count() == n + 1 and "editing" in panel.list.item(n).text()
    win.state.commit()  # the gesture ends (the app commits once the user pauses)
    assert panel.list.count() == n + 1 and "editing" not in panel.list.item(n).text()
    assert panel.list.item(n).text().strip().startswith(str(n + 1))
