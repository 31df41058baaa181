"""A layout that fits: at 1024 × 700, 1280 × 720 and 1600 × 920 the map gets at least 35 % of the
window's width, the slider column never scrolls sideways, and the window is the size asked for."""
import pytest
from PySide6.QtWidgets import QApplication, QScrollArea

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built and bool(w.views.sliders.rows))


@pytest.mark.parametrize("size, density", [((1024, 700), "tight"), ((1280, 720), "compact"), ((1600, 920), "roomy")])
def test_the_map_gets_the_space_first_at_every_size(qtbot, open_window, size, density):
    from latent_explorer.gui.layout import NAMES

    win = open_window(window_size=size, map_limit=100)
    win.show()
    qtbot.waitUntil(lambda: win.fit.density is not None, timeout=5000)
    for _ in range(3):
        QApplication.processEvents()
    assert (win.width(), win.height()) == size
    assert NAMES[win.fit.density] == density
    assert win.views.map.width() >= 0.35 * win.width(), (win.views.map.width(), win.width())
    scroll = win.views.sliders.findChild(QScrollArea)
    assert not scroll.horizontalScrollBar().isVisible()  # no sideways scrolling in the slider column
    history = win.docks[0]
    assert history.isVisible() == (density == "roomy")  # side docks collapse on smaller screens
