"""The selected image's posterior q(z|x) drawn on the map: its 1σ and 2σ ellipses and a cloud of samples.

A plain pyqtgraph item group that the map adds on top of its points (``LatentMapWidget.add_overlay``);
the geometry comes from ``core.latent.posterior_map`` (exact for a 2-d latent and under PCA).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

ELLIPSE_COLOR = "#5ec8ff"


class PosteriorOverlay:
    def __init__(self):
        self.ellipses = [pg.PlotCurveItem(pen=pg.mkPen(ELLIPSE_COLOR, width=w, style=s))
                         for w, s in ((2.0, pg.QtCore.Qt.PenStyle.SolidLine), (1.2, pg.QtCore.Qt.PenStyle.DashLine))]
        self.cloud = pg.ScatterPlotItem(size=5, brush=pg.mkBrush(ELLIPSE_COLOR + "cc"), pen=pg.mkPen(None))
        self.items = [*self.ellipses, self.cloud]
        for item in self.items:
            item.setZValue(20)

    def show(self, ellipses: list, cloud: np.ndarray | None) -> None:
        """``ellipses``: point arrays (1σ, 2σ) or empty where the map is not linear; ``cloud``: M×2 or None."""
        for i, item in enumerate(self.ellipses):
            if i < len(ellipses):
                item.setData(ellipses[i][:, 0], ellipses[i][:, 1])
            else:
                item.setData([], [])
        if cloud is None:
            self.cloud.setData([], [])
        else:
            self.cloud.setData(cloud[:, 0], cloud[:, 1])

    def clear(self) -> None:
        self.show([], None)


class PriorOverlay:
    """The prior N(0, I) on the map (its 1σ, 2σ, 3σ contours), the encoded data's density (two
    contours), and the holes between them (shaded: the prior covers them, no data reaches them)."""

    HOLE_RGBA = (235, 80, 255, 170)

    def __init__(self):
        dash = pg.QtCore.Qt.PenStyle.DashLine
        self.contours = [pg.PlotCurveItem(pen=pg.mkPen((235, 235, 240, a), width=1.3, style=dash))
                         for a in (220, 160, 110)]
        self.holes = pg.ImageItem()
        self.density = [pg.IsocurveItem(level=lv, pen=pg.mkPen((126, 217, 140, 200), width=1.2)) for lv in (0.1, 0.4)]
        self.items = [self.holes, *self.density, *self.contours]
        for item in self.items:
            item.setZValue(15)

    def show(self, prior_ellipses: list, rect, data: np.ndarray | None, holes: np.ndarray | None) -> None:
        """``rect`` = (x0, y0, w, h) of the n×n grids ``data`` (density, 1 at its peak) and ``holes`` (bool)."""
        from PySide6.QtCore import QRectF

        for i, item in enumerate(self.contours):
            pts = prior_ellipses[i] if i < len(prior_ellipses) else None
            item.setData([] if pts is None else pts[:, 0], [] if pts is None else pts[:, 1])
        if data is None:
            self.clear_grids()
            return
        r = QRectF(*rect)
        rgba = np.zeros((*holes.shape, 4), np.uint8)
        rgba[holes] = self.HOLE_RGBA
        # the app draws images row-major (pyqtgraph's imageAxisOrder): row i is y, column j is x, as the grids
        self.holes.setImage(rgba, autoLevels=False)
        self.holes.setRect(r)
        # the contours come in grid units (x = column, y = row, row-major): place cell centres on the map
        cw, ch = r.width() / data.shape[1], r.height() / data.shape[0]
        place = pg.QtGui.QTransform()
        place.translate(r.x() + cw / 2, r.y() + ch / 2)
        place.scale(cw, ch)
        for iso in self.density:
            iso.setData(np.ascontiguousarray(data))
            iso.setTransform(place)

    def clear_grids(self) -> None:
        self.holes.clear()
        for iso in self.density:
            iso.setData(None)

    def clear(self) -> None:
        self.show([], None, None, None)
