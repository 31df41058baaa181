"""Presentation mode (View → Presentation mode, F5): the window for a projector at the back of a room.

Every font and control is larger (the theme's style sheet scaled, and the plots' tick labels), and
the layout goes to its tightest density (``layout.FitLayout``: side docks collapsed, strips hidden,
narrower columns) so a 1024 × 768 screen holds the map, the preview and the sliders. Leaving the
mode puts everything back.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from . import theme

SCALE = 1.2


class Presentation(QObject):
    toggled = Signal(bool)

    def __init__(self, ctx, fit):
        super().__init__(ctx)
        self.ctx = ctx
        self.fit = fit
        self.on = False

    def set(self, on: bool) -> None:
        if on == self.on:
            return
        self.on = on
        theme.apply(QApplication.instance(), SCALE if on else 1.0)
        self._plot_fonts(SCALE if on else 1.0)
        self.fit.present(on)
        w = self.ctx.window
        if on and not w.isMaximized() and not w.isFullScreen():
            # once the larger type is laid out: a window wider than the projector's screen shrinks
            QTimer.singleShot(0, lambda: w.fit_to_screen(w.width(), w.height()))
        self.ctx.message("presentation mode: larger type, side docks closed (F5 to leave)" if on
                         else "presentation mode off", 4000)
        self.toggled.emit(on)

    def _plot_fonts(self, scale: float) -> None:
        v = self.ctx.views
        plots = [] if v.map is None else [v.map.plot]
        if v.theory is not None:
            plots += [v.theory.post_plot, v.theory.kl_plot]
        font = QFont()
        font.setPointSizeF(8.0 * scale)
        for w in plots:
            item = w.getPlotItem() if hasattr(w, "getPlotItem") else w
            for name in ("bottom", "left"):
                axis = item.getAxis(name)
                axis.setStyle(tickFont=font)
                axis.label.setFont(font)
