"""The pieces the latent map is drawn with, and the geometry of pointing at it.

The plot (styled axes), points that leave clicks to the view, a view box that turns left clicks
and point-drags into signals, the hover card; hit-testing in screen pixels and the pins' convex
hull. Nothing here knows about the map's data: LatentMapWidget (latent_map.py) puts them together;
the colours and their legend are in map_colors.py.
"""
from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QPolygonF
from PySide6.QtWidgets import QFrame, QGraphicsItem, QLabel, QVBoxLayout

from .. import theme
from .imaging import to_pixmap


def convex_hull(pts: np.ndarray) -> np.ndarray:
    """Indices of the convex hull of 2-D points, counter-clockwise (monotone chain)."""
    pts = np.asarray(pts, np.float64)
    order = np.lexsort((pts[:, 1], pts[:, 0]))

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for i in order:
        while len(lower) >= 2 and cross(pts[lower[-2]], pts[lower[-1]], pts[i]) <= 0:
            lower.pop()
        lower.append(i)
    for i in order[::-1]:
        while len(upper) >= 2 and cross(pts[upper[-2]], pts[upper[-1]], pts[i]) <= 0:
            upper.pop()
        upper.append(i)
    return np.array(lower[:-1] + upper[:-1], int)


def axis_names(proj) -> tuple[str, str]:
    """The map's axis titles for a projection; a 2-d latent's are the names its sliders, exports and
    the Theory panel use."""
    if proj.method == "identity":
        return "z0", "z1"
    if proj.method == "pca" and proj.explained:
        return tuple(f"PC{i + 1} ({v * 100:.0f}% var.)" for i, v in enumerate(proj.explained))
    if proj.method == "tsne":
        return "t-SNE 1", "t-SNE 2"
    return f"{proj.method.upper()} 1", f"{proj.method.upper()} 2"


def hull_contains(pts: np.ndarray, p: QPointF) -> bool:
    """Whether ``p`` lies inside the convex hull of the 2-D points ``pts``."""
    hull = pts[convex_hull(pts)]
    poly = QPolygonF([QPointF(float(x), float(y)) for x, y in hull])
    return poly.containsPoint(p, Qt.FillRule.OddEvenFill)


def map_plot(vb: pg.ViewBox) -> pg.PlotWidget:
    """A PlotWidget on ``vb``: no menu or buttons, a faint grid, muted axes drawn from a cache."""
    plot = pg.PlotWidget(viewBox=vb)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.showGrid(x=True, y=True, alpha=0.08)
    for ax in ("left", "bottom"):
        axis = plot.getAxis(ax)
        axis.setPen(pg.mkPen("#3a3f4b"))
        axis.setTextPen(pg.mkPen(theme.MUTED))
        # its grid lines span the plot, so every marker move repainted them: blit a cached copy
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return plot


class PassiveScatter(pg.ScatterPlotItem):
    """Points that leave clicks to the ViewBox (which hit-tests them itself, in screen pixels)."""

    def mouseClickEvent(self, ev):
        ev.ignore()


class MapViewBox(pg.ViewBox):
    """A ViewBox whose left clicks and point-drags are ours; other drags pan as usual."""

    clicked = Signal(QPointF, object)          # view position, keyboard modifiers
    dragStarted = Signal(str, QPointF, QPointF)  # mode, press position, current position
    dragMoved = Signal(str, QPointF)
    dragFinished = Signal(str, QPointF)

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        #: callable(view QPointF) -> "morph", "blend" or None (None: pan as usual)
        self.drag_mode_at = lambda p: None
        self._mode = None

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapToView(ev.pos()), ev.modifiers())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        if ev.isStart():
            start = self.mapToView(ev.buttonDownPos())
            self._mode = self.drag_mode_at(start)
            if self._mode:
                ev.accept()
                self.dragStarted.emit(self._mode, start, self.mapToView(ev.pos()))
                return
        if self._mode:
            ev.accept()
            p = self.mapToView(ev.pos())
            if ev.isFinish():
                mode, self._mode = self._mode, None
                self.dragFinished.emit(mode, p)
            else:
                self.dragMoved.emit(self._mode, p)
            return
        super().mouseDragEvent(ev, axis)


def _short_name(path, limit: int = 28) -> str:
    """A file's name for the hover card, shortened in the middle when long."""
    name = os.path.basename(str(path))
    return name if len(name) <= limit else name[:limit // 2 - 1] + "…" + name[-(limit // 2):]


class HoverCard(QFrame):
    """The thumbnail-and-label card shown next to a hovered point."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("HoverCard")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.thumb = QLabel()
        self.thumb.setFixedSize(84, 84)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 4)
        lay.setSpacing(2)
        lay.addWidget(self.thumb)
        lay.addWidget(self.text)
        self.index: int | None = None
        self.hide()

    def show_point(self, index: int, image: np.ndarray, text: str, at: QPoint) -> None:
        if index != self.index:
            self.index = index
            self.thumb.setPixmap(to_pixmap(image, 84).scaled(84, 84, Qt.AspectRatioMode.KeepAspectRatio))
            self.text.setText(text)
            self.adjustSize()
        parent = self.parentWidget()
        x = at.x() + 16
        y = at.y() + 16
        if x + self.width() > parent.width():
            x = at.x() - 16 - self.width()
        if y + self.height() > parent.height():
            y = at.y() - 16 - self.height()
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()

    def hide_card(self) -> None:
        self.index = None
        self.hide()
