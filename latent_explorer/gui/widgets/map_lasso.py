"""A lasso on the latent map: draw round some points to select them (a group for a direction).

Shift+drag from anywhere on the map draws a lasso; so does a plain drag while the lasso is armed
(the Directions panel's "Lasso" button). The lassoed points get a ring; ``selected(list)`` carries
their indices into the map's data. It wraps the map's ``drag_mode_at`` so the map's own gestures
(morph from a point, blend inside the pins' hull, pan elsewhere) are untouched when no lasso is
wanted. The directions controller clears it when the map shows other images.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtWidgets import QApplication

MODE = "lasso"
RING = "#7fdbff"
MAX_RINGS = 20_000     # a larger selection rings an even sample of itself (the count says how many)
MAX_VERTICES = 512     # a long lasso path is thinned evenly before the points are tested against it
LARGE_MAP, LARGE_MAP_VERTICES = 100_000, 128   # (fewer on a large map: ~0.2 s for 1M points)


def points_in_polygon(xy: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``xy`` (N×2) inside the closed polygon ``poly`` (K×2), even-odd rule."""
    xy, poly = np.asarray(xy, np.float64), np.asarray(poly, np.float64)
    if len(poly) < 3 or len(xy) == 0:
        return np.zeros(0, np.int64)
    lo, hi = poly.min(0), poly.max(0)
    cand = np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1))
    x, y = xy[cand, 0], xy[cand, 1]
    inside = np.zeros(len(cand), bool)
    xa, ya = poly[:, 0], poly[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    for x1, y1, x2, y2 in zip(xa, ya, xb, yb):
        crosses = (y1 > y) != (y2 > y)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < xc)
    return cand[inside]


class MapLasso(QObject):
    """The lasso tool of one ``LatentMapWidget``."""

    #: the indices of the lassoed points (an empty list: the lasso was cleared)
    selected = Signal(list)

    def __init__(self, map_widget):
        super().__init__(map_widget)
        self.map = map_widget
        self.armed = False
        self.indices: list[int] = []
        self._path: list[tuple[float, float]] = []
        self.line = pg.PlotCurveItem(pen=pg.mkPen(RING, width=2, style=Qt.PenStyle.DashLine))
        self.marks = pg.ScatterPlotItem(size=9, symbol="o", pen=pg.mkPen(RING, width=1.2), brush=None)
        self.marks.setZValue(8)
        for item in (self.line, self.marks):
            map_widget.plot.addItem(item, ignoreBounds=True)
        vb = map_widget.vb
        self._map_mode_at = vb.drag_mode_at
        vb.drag_mode_at = self._mode_at
        vb.dragStarted.connect(self._on_start)
        vb.dragMoved.connect(self._on_move)
        vb.dragFinished.connect(self._on_finish)

    def set_armed(self, on: bool) -> None:
        self.armed = bool(on)
        self.map.plot.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def _mode_at(self, p: QPointF):
        shift = QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier
        if self.map.data is not None and (self.armed or shift):
            return MODE
        return self._map_mode_at(p)

    def _on_start(self, mode, start: QPointF, p: QPointF) -> None:
        if mode == MODE:
            self._path = [(start.x(), start.y()), (p.x(), p.y())]
            self._draw(closed=False)

    def _on_move(self, mode, p: QPointF) -> None:
        if mode == MODE:
            self._path.append((p.x(), p.y()))
            self._draw(closed=False)

    def _on_finish(self, mode, p: QPointF) -> None:
        if mode != MODE:
            return
        self._path.append((p.x(), p.y()))
        self.line.setData(x=[], y=[])
        path = np.array(self._path)
        most = LARGE_MAP_VERTICES if len(self.map.xy) > LARGE_MAP else MAX_VERTICES
        if len(path) > most:
            path = path[np.linspace(0, len(path) - 1, most).round().astype(int)]
        self.select(points_in_polygon(self.map.xy, path).tolist())
        self._path = []

    def _draw(self, closed: bool) -> None:
        pts = np.array(self._path + (self._path[:1] if closed else []))
        self.line.setData(x=pts[:, 0], y=pts[:, 1])

    def select(self, indices: list[int]) -> None:
        """Ring these points (indices into the map's data) and say so."""
        self.indices = [int(i) for i in indices]
        if self.indices:
            shown = self.indices
            if len(shown) > MAX_RINGS:
                shown = np.asarray(shown)[np.linspace(0, len(shown) - 1, MAX_RINGS).round().astype(int)]
            pts = self.map.xy[shown]
            self.marks.setData(x=pts[:, 0], y=pts[:, 1])
        else:
            self.marks.clear()
        self.selected.emit(list(self.indices))

    def clear(self) -> None:
        if self.indices:
            self.select([])


__all__ = ["MapLasso", "points_in_polygon", "MODE"]
