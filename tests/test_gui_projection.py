"""Re-projecting the map from the window (t-SNE runs out of process, a cancel stops it at once,
previews keep coming while it runs) and switching the decode device."""
import numpy as np
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot)


def test_tsne_map_replaces_pca_and_previews_are_served_meanwhile(qtbot, open_window):
    win = open_window(map_limit=200)
    assert win.maps.data.projection.method == "pca"
    win.maps.set_projection("tsne")
    # while t-SNE runs (in a child process), a slider edit still gets its preview
    dim = win.views.sliders.order[0]
    win.views.sliders.rows[dim].slider.setValue(2.0)
    qtbot.waitUntil(lambda: win.views.preview.image is not None and
                    win.views.preview.request_id == win.worker.latest_id("preview"), timeout=10000)
    qtbot.waitUntil(lambda: win.maps.data.projection.method == "tsne", timeout=60000)
    assert win.maps.data.projection.xy.shape == (200, 2)
    np.testing.assert_allclose(win.views.map.xy, win.maps.data.projection.xy)


def test_cancelling_tsne_stops_it_and_keeps_the_pca_map(qtbot, open_window):
    win = open_window(map_limit=300)
    pca_xy = win.maps.data.projection.xy.copy()
    win.maps.set_projection("tsne")
    qtbot.waitUntil(lambda: win.maps.projector.is_busy("map"), timeout=5000)
    win.maps.cancel()
    # the child is killed: the projector goes idle, and the t-SNE never lands on the map
    qtbot.waitUntil(lambda: not win.maps.projector.is_busy("map"), timeout=10000)
    assert win.maps.data.projection.method == "pca"
    np.testing.assert_array_equal(win.maps.data.projection.xy, pca_xy)


def test_device_menu_lists_what_torch_sees_and_switching_keeps_previews_working(qtbot, open_window):
    from latent_explorer.core.device import available_devices

    win = open_window(map_limit=100)
    labels = [a.text() for a in win.views.menus.device_group.actions()]
    assert labels == [d.upper() if d != "cpu" else "CPU" for d in available_devices()]
    assert [a.text() for a in win.views.menus.device_group.actions() if a.isChecked()] == ["CPU"]
    errors = []
    win.ctx.errorShown.connect(errors.append)
    if "cuda" not in available_devices():  # refused in words; the model stays where it was
        win.models.set_device("cuda")
        qtbot.waitUntil(lambda: bool(errors), timeout=10000)
        assert "Could not switch device" in errors[0] and "no CUDA GPU" in errors[0]
        assert win.models.summary.device == "cpu"
    win.views.menus.device_group.actions()[0].trigger()  # CPU
    qtbot.waitUntil(lambda: not win.worker.is_busy("device"), timeout=10000)
    assert win.models.summary.device == "cpu"
    before = win.views.preview.request_id
    win.views.sliders.rows[win.views.sliders.order[0]].slider.setValue(-1.5)
    qtbot.waitUntil(lambda: win.views.preview.request_id != before, timeout=10000)
