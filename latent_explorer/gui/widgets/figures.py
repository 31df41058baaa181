"""Figures for slides: any pyqtgraph plot saved as PNG (pyqtgraph's exporter) and SVG (vector: Qt's
SVG generator paints the plot's scene; pyqtgraph's own SVG exporter fails on some paths)."""
from __future__ import annotations

from pathlib import Path


def save_plot(widget, stem: str) -> list[str]:
    """``widget`` (a pg.PlotWidget or GraphicsView) as ``stem``.png and ``stem``.svg; returns the paths."""
    from pyqtgraph.exporters import ImageExporter
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    Path(stem).parent.mkdir(parents=True, exist_ok=True)
    png, svg = f"{stem}.png", f"{stem}.svg"
    item = widget.getPlotItem() if hasattr(widget, "getPlotItem") else widget.scene()
    ImageExporter(item).export(png)
    gen = QSvgGenerator()
    gen.setFileName(svg)
    gen.setSize(widget.size())
    gen.setViewBox(widget.rect())
    gen.setTitle("latent-explorer figure")
    painter = QPainter(gen)
    widget.render(painter)
    painter.end()
    return [png, svg]


def ask_stem(parent, title: str, name: str) -> str:
    """A file name without its extension, from a save dialog ("" when cancelled)."""
    from ..memory import save_path

    path = save_path(parent, title, name, "Figures: PNG and SVG (*)")
    return path.removesuffix(".png").removesuffix(".svg") if path else ""
