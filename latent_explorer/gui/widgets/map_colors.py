"""How the latent map's points are coloured, and the legend that says so.

By label (a fixed palette, one swatch per label), or by reconstruction error or point density (a
viridis ramp over the 2nd..98th percentile, shown as a colour bar with its range).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QWidget

from .. import theme


class MapLegend(QWidget):
    """Top-right legend: label swatches, or a colour bar with its range, and what it shows."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.title = ""
        self.items: list[tuple[str, QColor]] = []
        self.bar: list[QColor] = []
        self.range = ("", "")

    def set_labels(self, title: str, items: list[tuple[str, QColor]]) -> None:
        self.title, self.items, self.bar = title, items, []
        self._fit()

    def set_bar(self, title: str, colors: list[QColor], lo: str, hi: str) -> None:
        self.title, self.items, self.bar, self.range = title, [], colors, (lo, hi)
        self._fit()

    def _fit(self):
        fm = self.fontMetrics()
        if self.items:
            cols = 2 if len(self.items) > 6 else 1
            rows = int(np.ceil(len(self.items) / cols))
            widest = max(fm.horizontalAdvance(t) for t, _ in self.items)
            w = max(fm.horizontalAdvance(self.title), cols * (20 + widest + 10))
            self.resize(w + 16, 24 + rows * 16 + 6)
        else:
            self.resize(max(150, fm.horizontalAdvance(self.title) + 16), 62)
        self.update()

    def paintEvent(self, ev):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(22, 24, 29, 215))
        p.drawRoundedRect(self.rect(), 5, 5)
        p.setPen(QColor(theme.TEXT))
        p.drawText(8, 17, self.title)
        if self.items:
            cols = 2 if len(self.items) > 6 else 1
            rows = int(np.ceil(len(self.items) / cols))
            colw = (self.width() - 16) // cols
            for i, (text, color) in enumerate(self.items):
                c, r = divmod(i, rows)
                x, y = 8 + c * colw, 26 + r * 16
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(color)
                p.drawEllipse(QRectF(x, y + 2, 9, 9))
                p.setPen(QColor(theme.TEXT))
                p.drawText(x + 15, y + 11, text)
        elif self.bar:
            r = QRectF(8, 26, self.width() - 16, 10)
            g = QLinearGradient(r.topLeft(), r.topRight())
            for i, c in enumerate(self.bar):
                g.setColorAt(i / max(1, len(self.bar) - 1), c)
            p.setBrush(QBrush(g))
            p.drawRect(r)
            p.setPen(QColor(theme.MUTED))
            p.drawText(8, 52, self.range[0])
            fm = self.fontMetrics()
            p.drawText(int(self.width() - 8 - fm.horizontalAdvance(self.range[1])), 52, self.range[1])
        p.end()


def color_modes(data) -> list[tuple[str, str]]:
    """(mode, words) for the "colour by" menu: the label, each known factor, the error, the density."""
    modes = []
    if data.labels is not None:
        modes.append(("label", data.label_name if data.label_name != "label" else "label"))
    if data.factors is not None:
        modes += [(f"factor:{k}", name.replace("_", " ")) for k, name in enumerate(data.factor_names)
                  if name != data.label_name]
    if bool(np.isfinite(data.recon_error).all()):  # a slow decoder's map has no reconstruction errors
        modes.append(("error", "reconstruction error"))
    return modes + [("density", "density")]


def _categories(values: np.ndarray, names, title: str, legend: MapLegend) -> tuple[np.ndarray, list]:
    uniq, codes = np.unique(np.asarray(values), return_inverse=True)
    text = [names[int(u)] if names and 0 <= int(u) < len(names) else str(int(u)) for u in uniq]
    colors = [QColor(theme.LABEL_COLORS[i % len(theme.LABEL_COLORS)]) for i in range(len(uniq))]
    legend.set_labels(title, [(s, QColor(theme.LABEL_COLORS[i % 10])) for i, s in enumerate(text)])
    return codes.reshape(-1), colors


def point_colors(data, mode: str, legend: MapLegend) -> tuple[np.ndarray, list]:
    """(codes, colours): each point of ``data`` (a MapData) coloured ``colours[codes[i]]`` for colour
    mode ``mode``, vectorised for a million points; ``legend`` is set to match.

    "label" without labels, and "error" on a map without reconstruction errors (a slow decoder's),
    fall back to a ramp: of the errors, then of the density."""
    labels = data.labels
    if mode == "label" and labels is not None:
        return _categories(labels, data.label_names, data.label_name, legend)
    if mode.startswith("factor:") and data.factors is not None:
        k = int(mode.split(":", 1)[1])
        name = data.factor_names[k]
        values = data.factors[:, k]
        if len(np.unique(values)) <= 10:  # few values: a colour each, named
            return _categories(values, data.value_names.get(name), name.replace("_", " "), legend)
        mode, values = "factor", values.astype(np.float32)  # many (positions): a ramp
        legend_title = f"{name.replace('_', ' ')} (factor value)"
    else:
        values = data.recon_error if mode == "error" else data.density
    if mode == "error" and not np.isfinite(values).all():  # a slow decoder's map: errors not computed
        mode, values = "density", data.density
    cmap = pg.colormap.get("viridis")
    colors = list(cmap.getLookupTable(nPts=64, mode=pg.ColorMap.QCOLOR))
    lo, hi = np.percentile(values, [2, 98]) if len(values) else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1e-9
    q = np.clip(((values - lo) / (hi - lo) * 63).round().astype(int), 0, 63)
    if mode == "factor":
        legend.set_bar(legend_title, colors, f"{lo:g}", f"{hi:g}")
    elif mode == "error":
        legend.set_bar("reconstruction error (MSE)", colors, f"{lo:.3f}", f"{hi:.3f}")
    else:
        legend.set_bar("density of points", colors, "sparse", "dense")
    return q, colors


def point_brushes(data, mode: str, legend: MapLegend) -> list:
    """One brush per point of ``data`` for colour mode ``mode`` (see ``point_colors``)."""
    codes, colors = point_colors(data, mode, legend)
    brushes = [pg.mkBrush(c) for c in colors]
    return [brushes[i] for i in codes]
