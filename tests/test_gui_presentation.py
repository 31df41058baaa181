"""Presentation mode (View → Presentation mode, F5): larger type, side docks closed, a window that
fits a 1024-px screen; leaving it puts everything back."""
import pytest
from PySide6.QtWidgets import QApplication

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built and bool(w.views.sliders.rows))


def test_presentation_mode_scales_the_type_and_makes_room(qtbot, open_window):
    win = open_window(map_limit=100)
    history = win.docks[0]
    win.show()
    assert history.isVisible()
    normal_min = win.minimumSizeHint().width()
    win.views.menus.presentation.setChecked(True)
    QApplication.processEvents()
    assert "font-size: 12.0pt" in QApplication.instance().styleSheet()  # 10 pt × 1.2
    assert not history.isVisible() and not win.views.sliders.rows[0].strip.isVisible()
    assert win.minimumSizeHint().width() < min(normal_min, 1024)  # room for a 1024-px projector
    row = win.views.sliders.rows[0]
    fm = row.value_label.fontMetrics()
    assert row.value_label.width() > fm.horizontalAdvance("-3.00")  # a negative value keeps its sign
    win.views.menus.presentation.setChecked(False)
    QApplication.processEvents()
    assert "font-size: 10.0pt" in QApplication.instance().styleSheet()
    assert history.isVisible() and win.views.sliders.rows[0].strip.isVisible()
