"""The window's layout fitted to its width: the map gets the space first.

Three densities, chosen from the window's width (and forced to the tightest in presentation mode):
- roomy (≥ 1,500 px): everything, with the docks as the user left them;
- compact (≥ 1,150 px, a 1280 × 720 laptop): the side docks (History, Bookmarks, Lab) collapse —
  View brings any back — and the sliders' traversal strips are drawn smaller;
- tight (a 1024 × 700 screen, or presenting): the strips hide, the map's control words give way
  to their boxes, Copy z hides (Ctrl+Shift+C still copies), thumbnails shrink and the columns'
  minimums come down.
Whenever the density changes (and once the panels exist) the columns are shared out: the preview
and slider columns get what their rows need (no horizontal scrolling), the map the rest.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QScrollArea

ROOMY, COMPACT, TIGHT = 0, 1, 2
NAMES = ("roomy", "compact", "tight")
#: per density: strip width (0: hidden), preview column minimum, slider column minimum, thumbnail side
SPECS = {ROOMY: (160, 280, 380, 112), COMPACT: (118, 260, 360, 104), TIGHT: (0, 230, 330, 96)}
#: the map's share of the splitter at least (the issue's 35 % of the window, with room to spare)
MAP_SHARE = 0.38


def density_for(width: int, presenting: bool = False) -> int:
    if presenting or width < 1150:
        return TIGHT
    return COMPACT if width < 1500 else ROOMY


class FitLayout(QObject):
    def __init__(self, ctx, window, side_docks):
        super().__init__(ctx)
        self.ctx, self.window = ctx, window
        self.side_docks = list(side_docks)
        self.density: int | None = None
        self.presenting = False
        #: the width the window was opened at: inserting the panels may widen it to their minimums,
        #: so the first fit uses this width and brings the window back to it
        self.intended = window.width()
        self._settling = False
        # a new model has other slider rows: share the columns again once they are there
        ctx.model.loaded.connect(lambda s: self.apply(force=True))
        ctx.model.events.map.connect(lambda d: d is not None and self.apply(force=True))  # the KL badges widen the rows
        self._collapsed: list = []   # (dock, the density it was closed at): opened again when roomier

    def apply(self, force: bool = False) -> None:
        """Fit to the window's width now (the window calls it on resize; ``force``: share the columns again)."""
        if not self.ctx.views.built:
            return
        first = self.density is None
        if first:
            self._settling = True
        # until the window is back at its intended width, the panels' minimums widened it, not the user
        width = self.intended if self._settling else self.window.width()
        d = density_for(width, self.presenting)
        if d != self.density:
            self._set(d)
            force = True
        if first:
            QTimer.singleShot(0, self._settle)
        if force:
            QTimer.singleShot(0, self.share)  # once the new minimums are laid out

    def _settle(self) -> None:
        if self.window.width() != self.intended:
            self.window.resize(self.intended, self.window.height())
        self._settling = False
        self.apply(force=True)

    def present(self, on: bool) -> None:
        self.presenting = on
        self.apply(force=True)

    def _set(self, d: int) -> None:
        self.density = d
        strip, mid_min, right_min, thumb = SPECS[d]
        v = self.ctx.views
        # a dock closed at a tighter density than this one opens again (the user's own choices stay)
        back = [dock for dock, at in self._collapsed if at > d]
        for dock in back:
            dock.show()
        self._collapsed = [(dock, at) for dock, at in self._collapsed if at <= d]
        if d != ROOMY:
            for dock in self.side_docks:
                if dock.isVisible() and dock not in back:  # open now (reopened by the user): closed here
                    self._collapsed = [(k, at) for k, at in self._collapsed if k is not dock] + [(dock, d)]
                    dock.hide()
        v.sliders.set_strips_visible(strip > 0)
        v.user_directions.set_strips_visible(strip > 0)
        if strip:
            v.sliders.set_strip_width(strip)
            v.user_directions.set_strip_width(strip)
        for lab in v.map.control_labels:
            lab.setVisible(d != TIGHT)
        v.copy_button.setVisible(d != TIGHT)
        v.recon.set_thumb_side(thumb)
        v.preview_column.setMinimumWidth(mid_min)
        v.slider_stack.parentWidget().setMinimumWidth(right_min)
        QTimer.singleShot(0, v.sliders.refit_labels)

    def _slider_need(self) -> int:
        """The slider column's width with no sideways scrolling: a row, the scroll bar, the margins."""
        rows = self.ctx.views.sliders.rows
        if not rows:
            return 0
        scroll = self.ctx.views.sliders.findChild(QScrollArea)
        bar = scroll.verticalScrollBar().sizeHint().width() if scroll is not None else 14
        return rows[0].minimumSizeHint().width() + bar + 32

    def share(self) -> None:
        """Columns: the preview and the sliders what they need, the map the rest (at least MAP_SHARE)."""
        sp = self.window.splitter
        if sp.count() < 3:
            return
        total = sum(sp.sizes()) or sp.width()
        right = max(sp.widget(2).minimumSizeHint().width(), sp.widget(2).minimumWidth(), self._slider_need())
        mid = max(sp.widget(1).minimumSizeHint().width(), sp.widget(1).minimumWidth(), int(0.22 * total))
        left = max(total - right - mid, int(MAP_SHARE * total))
        spare = total - left - right - mid
        if spare < 0:  # squeeze the preview column first, never below its minimum
            mid = max(sp.widget(1).minimumWidth(), mid + spare)
        sp.setSizes([left, mid, right])
