"""The Directions panel (a dock): define two groups of images and make the direction between them.

Each side ("from", "to") shows what its group is, a few of its images, and a "Set from" menu:
the map's lasso selection, the pinned images, the bookmarks, a label, a known factor's value, or a
folder. Below: how to compute the direction (difference of means, or a linear classifier's
normal), its name, and "Make direction". The panel only asks; the directions controller does.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QMenu,
                               QPushButton, QToolButton, QVBoxLayout, QWidget)

from ...core.latent.attributes import METHOD_NAMES, METHODS
from .imaging import show_strip

SIDES = ("from", "to")
THUMB = 26
INTRO = ("Pick two groups of images: the direction from the first to the second becomes a slider of its "
         "own (in the sliders column), usable on any image. Shift+drag on the map draws a lasso.")


class GroupBox(QWidget):
    """One side: its description, a strip of its images, and the "Set from" menu."""

    def __init__(self, side: str, panel: "DirectionsPanel"):
        super().__init__()
        self.side, self.panel = side, panel
        self.text = QLabel("not set")
        self.text.setProperty("role", "muted")
        self.text.setWordWrap(True)
        self.strip = QLabel()
        self.strip.setFixedSize(8 * THUMB + 7, THUMB)
        self.button = QToolButton()
        self.button.setText("Set from ▾")
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.button)
        self.button.setMenu(self.menu)
        self.menu.aboutToShow.connect(self._fill_menu)
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setHorizontalSpacing(6)
        lay.addWidget(self.text, 0, 0)
        lay.addWidget(self.button, 0, 1)
        lay.addWidget(self.strip, 1, 0, 1, 2)
        lay.setColumnStretch(0, 1)

    def _fill_menu(self) -> None:
        self.panel.menuOpening.emit()  # (the counts are brought up to date first)
        m, p, ask = self.menu, self.panel, self.panel.groupRequested.emit
        m.clear()
        a = m.addAction(f"Lasso selection on the map ({p.lasso_count})", lambda: ask(self.side, "lasso", None))
        a.setEnabled(p.lasso_count > 0)
        a = m.addAction(f"Pinned images ({p.pin_count})", lambda: ask(self.side, "pins", None))
        a.setEnabled(p.pin_count > 0)
        a = m.addAction(f"Bookmarks ({p.bookmark_count})", lambda: ask(self.side, "bookmarks", None))
        a.setEnabled(p.bookmark_count > 0)
        labels = m.addMenu(f"{p.label_name.capitalize()}")
        labels.setEnabled(bool(p.labels))
        for value, name in p.labels:
            labels.addAction(name, lambda v=value: ask(self.side, "label", v))
        factors = m.addMenu("Known factor")
        factors.setEnabled(bool(p.factors))
        for fname, values in p.factors:
            sub = factors.addMenu(fname)
            for text in values:
                sub.addAction(text, lambda f=fname, t=text: ask(self.side, "factor", (f, t)))
        m.addAction("Folder of images…", lambda: ask(self.side, "folder", None))

    def show_group(self, text: str | None, images: np.ndarray | None = None) -> None:
        self.text.setText(text or "not set")
        self.text.setProperty("role", "" if text else "muted")
        self.text.style().unpolish(self.text)
        self.text.style().polish(self.text)
        if images is not None and len(images):
            show_strip(self.strip, images[:8])
        else:
            self.strip.clear()


class DirectionsPanel(QWidget):
    groupRequested = Signal(str, str, object)   # side, source ("lasso", "pins", "label", …), value
    makeRequested = Signal(str, str)            # method, name
    importRequested = Signal()
    lassoArmed = Signal(bool)
    menuOpening = Signal()                      # a "Set from" menu is about to show

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lasso_count = self.pin_count = self.bookmark_count = 0
        self.labels: list[tuple[int, str]] = []
        self.label_name = "label"
        self.factors: list[tuple[str, list[str]]] = []
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setProperty("role", "caption")
        self.lasso_button = QPushButton("Lasso")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip("drag on the map to draw round a group of points (or hold Shift and drag)")
        self.lasso_button.toggled.connect(self.lassoArmed.emit)
        self.lasso_label = QLabel("no lasso yet")
        self.lasso_label.setProperty("role", "caption")
        lasso_row = QHBoxLayout()
        lasso_row.addWidget(self.lasso_button)
        lasso_row.addWidget(self.lasso_label, 1)
        self.groups = {side: GroupBox(side, self) for side in SIDES}
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_NAMES[m], m)
        self.method.setToolTip("difference of means: plat's attribute vector; linear classifier normal: keeps only "
                               "what separates the groups (sharper when they overlap)")
        self.name = QLineEdit()
        self.name.setPlaceholderText("its name, e.g. 1 → 7 or smile")
        self.make_button = QPushButton("Make direction")
        self.make_button.setEnabled(False)
        self.make_button.clicked.connect(
            lambda: self.makeRequested.emit(self.method.currentData(), self.name.text().strip()))
        self.import_button = QPushButton("Import JSON…")
        self.import_button.setToolTip("add a direction saved by the app or by `latent-explorer direction`")
        self.import_button.clicked.connect(self.importRequested.emit)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setProperty("role", "caption")
        form = QFormLayout()
        form.addRow("From", self.groups["from"])
        form.addRow("To", self.groups["to"])
        form.addRow("Method", self.method)
        form.addRow("Name", self.name)
        buttons = QHBoxLayout()
        buttons.addWidget(self.make_button)
        buttons.addWidget(self.import_button)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(lasso_row)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        lay.addStretch(1)

    def set_choices(self, labels: list[tuple[int, str]], factors: list[tuple[str, list[str]]],
                    label_name: str = "label") -> None:
        """The labels and factor values the map's images have (for the "Set from" menus)."""
        self.labels, self.factors, self.label_name = list(labels), list(factors), label_name

    def set_counts(self, lasso: int, pins: int, bookmarks: int) -> None:
        self.lasso_count, self.pin_count, self.bookmark_count = lasso, pins, bookmarks
        self.lasso_label.setText(f"{lasso:,} images lassoed" if lasso else "no lasso yet")

    def show_group(self, side: str, text: str | None, images=None) -> None:
        self.groups[side].show_group(text, images)

    def set_ready(self, ready: bool) -> None:
        self.make_button.setEnabled(ready)


__all__ = ["DirectionsPanel", "GroupBox", "SIDES"]
