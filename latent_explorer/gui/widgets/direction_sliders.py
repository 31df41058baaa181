"""The user's attribute directions as sliders, above the latent dimensions in the sliders column.

One row per direction: its name, a strength slider (−4 … 4; 1 is one whole group-to-group step,
0 the image as it is), and a menu (export as JSON, rename, remove). Several can be moved at once:
the controller adds ``Σ sᵢ·vᵢ`` to the latent they started from. The section hides itself while
there are no directions.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QVBoxLayout, QWidget

from ...core.latent.attributes import STRENGTH_LIMIT
from .spatial_sliders import _set_quietly, _slider


class DirectionSliderRow(QWidget):
    strengthChanged = Signal(int, float)
    actionRequested = Signal(int, str)   # row, "export" / "rename" / "remove"

    def __init__(self, i: int, name: str, tip: str, parent=None):
        super().__init__(parent)
        self.i = i
        self.name = QLabel(name)
        self.name.setObjectName("DimName")
        self.name.setMinimumWidth(60)
        self.name.setMaximumWidth(130)
        self.name.setToolTip(tip)
        self.slider = _slider(-STRENGTH_LIMIT, STRENGTH_LIMIT, 0.0)
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
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 1, 2, 1)
        lay.setSpacing(6)
        lay.addWidget(self.name)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.menu_button)
        self.slider.valueChanged.connect(lambda v: self.strengthChanged.emit(self.i, float(v)))


class DirectionSliders(QWidget):
    """The "Your directions" section: one ``DirectionSliderRow`` per direction."""

    strengthChanged = Signal(int, float)
    actionRequested = Signal(int, str)
    resetRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[DirectionSliderRow] = []
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
            self.body.addWidget(row)
            self.rows.append(row)
        self.setVisible(bool(self.rows))

    def set_strengths(self, strengths) -> None:
        """Move the sliders without emitting anything (a new image, an undo, a session)."""
        for row, s in zip(self.rows, strengths):
            _set_quietly(row.slider, float(s))

    def strengths(self) -> list[float]:
        return [float(r.slider.value()) for r in self.rows]


__all__ = ["DirectionSliders", "DirectionSliderRow"]
