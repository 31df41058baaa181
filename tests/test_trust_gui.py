"""Refuse early, in the window (issue 22): ``--window-size`` below what the window's panels allow is not
turned silently into another size: the window says the size it opened at and its minimum."""
from __future__ import annotations

import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None)


def test_a_window_size_below_the_minimum_is_said(qtbot, open_window):
    from PySide6.QtWidgets import QApplication

    win = open_window(window_size=(800, 600), map_limit=50)
    QApplication.processEvents()
    got = (win.width(), win.height())
    note = win.size_note()
    if got == (800, 600):
        assert note == ""   # honoured
    else:
        least = win.minimumSizeHint()
        assert "--window-size 800x600" in note and f"opened at {got[0]}×{got[1]}" in note
        assert f"smaller than {least.width()}×" in note
    import dataclasses

    win.resize(1280, 720)
    win.options = dataclasses.replace(win.options, window_size=(1280, 720))
    QApplication.processEvents()
    assert win.size_note() == ""
