"""Re-projecting the map from the window: t-SNE runs out of process, a cancel stops it at once,
and previews keep coming while it runs."""
import time

import numpy as np
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot)


def test_tsne_map_replaces_pca_and_previews_are_served_meanwhile(qtbot, open_window):
    win = open_window(map_limit=200)
    assert win.map_data.projection.method == "pca"
    win.set_projection("tsne")
    # while t-SNE runs (in a child process), a slider edit still gets its preview
    dim = win.sliders.order[0]
    win.sliders.rows[dim].slider.setValue(2.0)
    qtbot.waitUntil(lambda: win.preview.image is not None and
                    win.preview.request_id == win.worker.latest_id("preview"), timeout=10000)
    qtbot.waitUntil(lambda: win.map_data.projection.method == "tsne", timeout=60000)
    assert win.map_data.projection.xy.shape == (200, 2)
    np.testing.assert_allclose(win.map.xy, win.map_data.projection.xy)


def test_cancelling_tsne_stops_it_and_keeps_the_pca_map(qtbot, open_window):
    win = open_window(map_limit=300)
    pca_xy = win.map_data.projection.xy.copy()
    win.set_projection("tsne")
    qtbot.waitUntil(lambda: win.projector.is_busy("map"), timeout=5000)
    time.sleep(0.3)  # the child is working now
    t0 = time.perf_counter()
    win.cancel_map()
    qtbot.waitUntil(lambda: not win.projector.is_busy("map"), timeout=3000)
    assert time.perf_counter() - t0 < 2.0
    qtbot.wait(200)
    assert win.map_data.projection.method == "pca"
    np.testing.assert_array_equal(win.map_data.projection.xy, pca_xy)
