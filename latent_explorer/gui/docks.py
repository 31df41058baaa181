"""The window's docks: History and Bookmarks and the Lab (tabbed, right), the Theory panel and the
skipped-files report (bottom, on demand). ``build_docks(win, history_panel)`` makes them and sets
``win.docks`` (the View menu's toggles), ``win.theory_dock`` and ``win.lab_dock``."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from .widgets.bookmarks import BookmarksPanel
from .widgets.lab_panel import LabPanel
from .widgets.panels import placeholder
from .widgets.skipped import SkippedFilesPanel

RIGHT, BOTTOM = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
THEORY_HEIGHT = 250  # the first time it opens: the map above keeps most of the height


def dock(win, title: str, name: str, widget, area) -> QDockWidget:
    d = QDockWidget(title, win)
    d.setObjectName(name)
    d.setWidget(widget)
    d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                  | QDockWidget.DockWidgetFeature.DockWidgetMovable
                  | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    win.addDockWidget(area, d)
    return d


def build_docks(win, history_panel) -> None:
    v = win.views
    v.history_panel = history_panel
    v.bookmarks_panel = BookmarksPanel()
    v.skipped_panel = SkippedFilesPanel()
    history = dock(win, "History", "HistoryDock", v.history_panel, RIGHT)
    v.bookmarks_dock = dock(win, "Bookmarks", "BookmarksDock", v.bookmarks_panel, RIGHT)
    win.lab_dock = dock(win, "Lab", "LabDock", LabPanel(), RIGHT)  # Help → Guided lab… (Ctrl+L)
    win.tabifyDockWidget(history, v.bookmarks_dock)
    win.tabifyDockWidget(v.bookmarks_dock, win.lab_dock)
    win.lab_dock.hide()
    history.raise_()
    v.skipped_dock = dock(win, "Skipped files", "SkippedDock", v.skipped_panel, BOTTOM)
    v.skipped_dock.hide()
    win.theory_dock = dock(win, "Theory: the selected image in numbers", "TheoryDock",
                           placeholder("The Theory panel is being built…"), BOTTOM)
    win.theory_dock.hide()  # View → Theory (Ctrl+E)
    sized = []

    def size_theory(visible: bool) -> None:
        if visible and not sized:
            sized.append(True)
            win.resizeDocks([win.theory_dock], [THEORY_HEIGHT], Qt.Orientation.Vertical)

    win.theory_dock.visibilityChanged.connect(size_theory)
    win.docks = (history, v.bookmarks_dock, win.theory_dock, v.skipped_dock, win.lab_dock)
    win.resizeDocks([history], [185], Qt.Orientation.Horizontal)
