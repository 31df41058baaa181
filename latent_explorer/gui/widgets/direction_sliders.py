"""The user's attribute directions as sliders, above the latent dimensions in the sliders column.

One row per direction: its name (elided when long; the whole in its tooltip) and a menu (export
as JSON, rename, remove), then a strength slider (−4 … 4; 1 is one whole group-to-group step, 0 the
image as it is) and a strip of what it does to the image on screen. Several can be moved at once:
the controller adds ``Σ sᵢ·vᵢ`` to the latent they started from. The section hides itself while
there are no directions.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QMenu, QPushButton, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

from ...core.latent.attributes import STRENGTH_LIMIT
from .imaging import show_strip, strip_size
from .spatial_sliders import STRIP_HEIGHT, labeled_slider, set_quietly


class DirectionSliderRow(QWidget):
    strengthChanged = Signal(int, float)
    actionRequested = Signal(int, str)   # row, "export" / "rename" / "remove"

    def __init__(self, i: int, name: str, tip: str, parent=None):
        super().__init__(parent)
        self.i = i
        self.full_name = name
        self.name = QLabel(name)
        self.name.setObjectName("DimName")
        self.name.setMinimumWidth(40)
        self.name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # elided, never wider
        self.name.setToolTip(tip)
        self.slider = labeled_slider(-STRENGTH_LIMIT, STRENGTH_LIMIT, 0.0)
        self.slider.setToolTip(f"{name}: strength s adds s × the direction to the latent "
                               "(1 = from one group's mean to the other's; negative goes back)")
        self.menu_button = QToolButton()
        self.menu_button.setText("⋯")
        self.menu_button.setToolTip("export as JSON, rename or remove this direction")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        for text, key in (("Export as JSON…", "export"), ("Rename…", "rename"), ("Remove", "remove")):
            menu.addAction(text, lambda k=key: self.actionRequested.emit(self.i, k))
        self.menu_button.setMenu(menu)
        self.strip = QLabel()
        self.strip.setFixedSize(7 * STRIP_HEIGHT + 6, STRIP_HEIGHT)
        self.strip.setToolTip("what this direction does to the image on screen: strength −2, −1, −½, 0, ½, 1, 2")
        # two lines, so a narrow column clips nothing: the name and its menu, then the slider and the strip
        lay = QGridLayout(self)
        lay.setContentsMargins(2, 1, 2, 3)
        lay.setHorizontalSpacing(6)
        lay.setVerticalSpacing(1)
        lay.addWidget(self.name, 0, 0, 1, 2)
        lay.addWidget(self.menu_button, 0, 2)
        lay.addWidget(self.slider, 1, 0)
        lay.addWidget(self.strip, 1, 1, 1, 2, Qt.AlignmentFlag.AlignRight)
        lay.setColumnStretch(0, 1)
        self.slider.valueChanged.connect(lambda v: self.strengthChanged.emit(self.i, float(v)))

    def set_strip_width(self, px: int) -> None:
        self.strip.setFixedSize(*strip_size(px))

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self.name.setText(self.name.fontMetrics().elidedText(self.full_name, Qt.TextElideMode.ElideRight,
                                                             max(20, self.name.width() - 4)))


class DirectionSliders(QWidget):
    """The "Your directions" section: one ``DirectionSliderRow`` per direction."""

    strengthChanged = Signal(int, float)
    actionRequested = Signal(int, str)
    resetRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[DirectionSliderRow] = []
        self.strips_visible = True
        self.strip_width = 0      # 0: the rows' own default
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Your directions")
        title.setProperty("role", "heading")
        self.zero_button = QPushButton("All to 0")
        self.zero_button.setToolTip("set every direction's strength back to 0 (the image they started from)")
        self.zero_button.clicked.connect(self.resetRequested.emit)
        head.addWidget(title, 1)
        head.addWidget(self.zero_button)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 6)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addLayout(self.body)
        self.setVisible(False)

    def set_directions(self, items: list[tuple[str, str]]) -> None:
        """(name, tooltip) per direction, in order; strengths start at 0."""
        for r in self.rows:
            r.setParent(None)
            r.deleteLater()
        self.rows = []
        for i, (name, tip) in enumerate(items):
            row = DirectionSliderRow(i, name, tip)
            row.strengthChanged.connect(self.strengthChanged)
            row.actionRequested.connect(self.actionRequested)
            row.strip.setVisible(self.strips_visible)
            if self.strip_width:
                row.set_strip_width(self.strip_width)
            self.body.addWidget(row)
            self.rows.append(row)
        self.setVisible(bool(self.rows))

    def set_strengths(self, strengths) -> None:
        """Move the sliders without emitting anything (a new image, an undo, a session)."""
        for row, s in zip(self.rows, strengths):
            set_quietly(row.slider, float(s))

    def set_strips(self, strips) -> None:
        """One strip per row (uint8 D×S×H×W×C), in order."""
        for row, images in zip(self.rows, strips):
            show_strip(row.strip, images)

    def set_strip_width(self, px: int) -> None:
        """The strips as wide as the dimensions' (the layout's choice for the window's size)."""
        self.strip_width = px
        for row in self.rows:
            row.set_strip_width(px)

    def set_strips_visible(self, on: bool) -> None:
        self.strips_visible = on
        for row in self.rows:
            row.strip.setVisible(on)

    def strengths(self) -> list[float]:
        return [float(r.slider.value()) for r in self.rows]


__all__ = ["DirectionSliders", "DirectionSliderRow"]
