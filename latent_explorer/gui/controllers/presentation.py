"""Presentation mode (View → Presentation mode, F5): the window for a projector at the back of a room.

Every font and control is larger (the theme's style sheet scaled, and the plots' tick labels).
To fit a 1024 × 768 projector the side docks (History, Bookmarks, Lab) close, the map's
"colour by" / "projection" words give way to their boxes (tooltips keep them) and the sliders'
traversal strips and the Copy z button hide (the big preview shows what a dimension does as the
teacher drags it; Ctrl+Shift+C still copies z).
Leaving the mode puts everything back.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from .. import theme

SCALE = 1.2
#: narrower columns while presenting (the window's own are 380 and 280 px)
MIN_SLIDERS_ON, MIN_PREVIEW_ON = 330, 230


class Presentation(QObject):
    toggled = Signal(bool)

    def __init__(self, ctx, side_docks):
        super().__init__(ctx)
        self.ctx = ctx
        self.on = False
        self.side_docks = list(side_docks)
        self._were_open: list = []

    def set(self, on: bool) -> None:
        if on == self.on:
            return
        self.on = on
        app = QApplication.instance()
        theme.apply(app, SCALE if on else 1.0)
        if on:
            self._were_open = [d for d in self.side_docks if d.isVisible()]
            for d in self.side_docks:
                d.hide()
        else:
            for d in self._were_open:
                d.show()
        self._plot_fonts(SCALE if on else 1.0)
        w = self.ctx.window
        if on and not w.isMaximized() and not w.isFullScreen():
            # once the larger type is laid out: a window wider than the projector's screen shrinks
            QTimer.singleShot(0, lambda: w.fit_to_screen(w.width(), w.height()))
        v = self.ctx.views
        if v.built:
            for lab in v.map.control_labels:
                lab.setVisible(not on)
            v.sliders.set_strips_visible(not on)
            QTimer.singleShot(0, v.sliders.refit_labels)  # the value labels, for the new type size
            v.copy_button.setVisible(not on)  # (Ctrl+Shift+C still copies the latent)
            v.slider_stack.parentWidget().setMinimumWidth(MIN_SLIDERS_ON if on else 380)
            v.preview_column.setMinimumWidth(MIN_PREVIEW_ON if on else 280)
            v.recon.set_thumb_side(96 if on else 112)
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
