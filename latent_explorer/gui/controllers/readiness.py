"""Readiness: the window has its model, map and first preview (and, for the demo, its strips,
manifold, full decode and morph), so a screenshot shows the whole thing. ``ready`` fires once per
start; a model that fails to load with nothing to fall back on makes it fire too."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Readiness(QObject):
    ready = Signal()

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.sent = False
        ctx.models.loaded.connect(lambda s: self._rearm())
        ctx.models.loadFailed.connect(lambda msg: self.check(failed=ctx.models.summary is None))

    def _rearm(self) -> None:
        self.sent = False

    def is_ready(self) -> bool:
        c = self.ctx
        if c.models.summary is None or c.models.is_loading or c.previews.first_preview_at is None:
            return False
        if not c.views.built or not c.maps.done:
            return False
        d = c.maps.data
        if c.options.demo and d is not None:
            v = c.views
            if v.sliders.rows and not c.sliders.traversal_ready:
                return False
            if c.models.spatial and (v.spatial.directions is None or not c.sliders.traversal_ready):
                return False
            if c.models.slow and not c.previews.final_seen:
                return False
            if c.morphs.pending:
                return False
            if d.projection.method == "identity" and not c.maps.manifold_ready:
                return False
        return True

    def check(self, failed: bool = False) -> None:
        if not self.sent and (failed or self.is_ready()):
            self.sent = True
            self.ready.emit()
