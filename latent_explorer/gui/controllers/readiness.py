"""Readiness: the window has its model, map and first preview (and, for the demo, its strips,
manifold, full decode and morph), so a screenshot shows the whole thing. ``ready`` fires once per
start; a model that fails to load with nothing to fall back on makes it fire too.

It reads the application model and ``ctx.drawn`` (what each controller has drawn) and checks
whenever one of them changes: no controller calls it.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Readiness(QObject):
    ready = Signal()

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.sent = False
        m = ctx.model
        m.loaded.connect(lambda s: self._rearm())
        m.load_failed.connect(lambda msg: self.check(failed=m.summary is None))
        m.events.map_done.connect(lambda done: self.check())
        ctx.drawn.events.connect(lambda *a: self.check())

    def _rearm(self) -> None:
        self.sent = False

    def is_ready(self) -> bool:
        c, drawn, m = self.ctx, self.ctx.drawn, self.ctx.model
        if m.summary is None or m.loading or drawn.first_preview_at is None:
            return False
        if not c.views.built or not m.map_done:
            return False
        d = m.map
        if c.options.demo and d is not None:
            if drawn.slider_rows and not drawn.traversal_ready:
                return False
            if m.spatial and (drawn.spatial_directions is None or not drawn.traversal_ready):
                return False
            if m.slow and not drawn.final_seen:
                return False
            if drawn.morph_pending:
                return False
            if d.projection.method == "identity" and not drawn.manifold_ready:
                return False
        return True

    def check(self, failed: bool = False) -> None:
        if not self.sent and (failed or self.is_ready()):
            self.sent = True
            self.ready.emit()
