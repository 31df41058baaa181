"""The session controller: save and open ``.lexplore`` sessions, and put them back in the window.

Restoring is asynchronous: the session's model is loaded (or its working size set) and its map
encoded first, then ``app.session_io.plan_restore`` decides what fits and the plan is applied
(selection, morph, bookmarks, latent and history, map settings); what could not be put back is
said in one line. A malformed file is refused with a dialog and the current state is kept.
Autosave and crash recovery are in ``autosave.py``.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ...app import session_io
from .. import memory
from ...core.errors import UserError
from ...core.session import Session
from .autosave import AutosaveController

DEFAULT_MODEL = "digits"


class SessionController(QObject):
    #: a session was put back (the notes on what could not be)
    restored = Signal(list)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.path: str | None = None
        self.pending: Session | None = None     # a session to apply once its model and map are up
        self.notes: list[str] = []
        self._fell_back = False   # the session's model failed and the default model was opened instead
        self.autosave = AutosaveController(ctx, self)
        ctx.models.fallback = self._on_model_failed

    # ---- saving ---------------------------------------------------------------------
    def snapshot(self) -> session_io.Snapshot | None:
        """What the user made, as plain values (None before a model is loaded)."""
        c = self.ctx
        s = c.models.summary
        if s is None:
            return None
        h = c.state.history
        snap = session_io.Snapshot(
            model_spec=s.spec, model_hash=c.models.model_hash or "", images=c.options.images,
            latent=None if c.state.z is None else c.state.z.copy(), latent_source=c.state.source,
            selected=c.maps.selected, bookmarks=list(c.bookmarks.items), history=h.entries(),
            history_position=h.position, image_size=tuple(s.image_size) if s.resizable else None)
        snap.family = c.breeding.snapshot()
        v = c.views
        if v.built:
            snap.temperature = float(v.temperature.value())
            snap.color_by = v.map.color_mode
            if c.maps.data is not None:
                snap.projection = c.maps.data.projection.method
                snap.view = list(v.map.visible_range())
            snap.morph = c.morphs.spec()
            snap.directions = c.directions.snapshot()
        return snap

    def save(self, path: str) -> str | None:
        """Write the session now (atomically). Returns the path written, or None."""
        snap = self.snapshot()
        if snap is None:
            self.ctx.error("nothing to save yet: no model is loaded")
            return None
        try:
            out = session_io.capture(snap).save(path)
        except OSError as e:
            self.ctx.error(f"Could not save the session to {path}: {e.strerror or e}")
            return None
        self.path = str(out)
        self.ctx.message(f"session saved to {out}", 5000)
        return str(out)

    def save_quick(self) -> None:
        if self.path:
            self.save(self.path)
        else:
            self.save_dialog()

    def save_dialog(self) -> None:
        path = memory.save_path(self.ctx.window, "Save session", self.path or "untitled.lexplore",
                                 "latent-explorer session (*.lexplore)")
        if path:
            self.save(path)

    # ---- opening --------------------------------------------------------------------
    def open_dialog(self) -> None:
        path = memory.open_path(self.ctx.window, "Open session", "latent-explorer session (*.lexplore)")
        if path:
            self.open(path)

    def open(self, path: str) -> bool:
        """Open a session file; a malformed one is refused in a dialog and nothing changes."""
        try:
            s = Session.load(path)
        except UserError as e:
            self.ctx.error(str(e), dialog=True)
            return False
        self.path = str(path)
        self.restore(s)
        return True

    def restore(self, s: Session) -> None:
        """Load the session's model and images if they differ, then put its state back."""
        c = self.ctx
        self.pending = s
        self._fell_back = False
        images, self.notes = session_io.available_images(s)
        size = session_io.working_size(s)
        summary = c.models.summary
        if summary is None or summary.spec != s.model_spec:
            c.options.images = images
            if size:
                c.options.size = size
            c.models.load(s.model_spec)
        elif size and summary.resizable and tuple(summary.image_size) != size:
            c.options.images = images
            c.models.set_working_size(size)
        elif images != c.options.images or c.maps.data is None:
            c.options.images = images
            c.maps.build()
        else:
            self._finish()

    def _on_model_failed(self, message: str) -> bool:
        """The session's model could not be loaded: say so, and open what we can on another model."""
        s, c = self.pending, self.ctx
        if s is not None and self._fell_back:  # the fallback failed too: give up on the session
            self.pending = None
            return False
        if s is None or s.model_spec == DEFAULT_MODEL or (c.models.summary is not None
                                                          and c.models.summary.spec == s.model_spec):
            return False
        self._fell_back = True
        self.notes.append(f"the session's model {s.model_spec!r} could not be loaded ({message})")
        if c.models.summary is None:
            c.options.images = None
            c.models.load(DEFAULT_MODEL)
        else:
            self._finish()
        return True

    def map_settled(self) -> bool:
        """The map is up (or failed): apply a pending session now. True when there was one."""
        if self.pending is None:
            return False
        self._finish()
        return True

    def _finish(self) -> None:
        c = self.ctx
        if self.pending is None or c.models.summary is None or not c.views.built:
            return  # (before the panels exist: applied once the model's map is up)
        s, self.pending = self.pending, None
        d = c.maps.data
        plan = session_io.plan_restore(s, c.models.summary.latent_shape, None if d is None else len(d.mean),
                                       None if d is None else d.projection.method)
        self._apply(plan)
        notes = list(self.notes) + plan.notes
        self.notes = []

        def check(h: str) -> None:
            c.models.model_hash = h
            model_notes = [n for n in s.check_model(c.models.summary.spec, h) if "image folder" not in n]
            self._report(notes + model_notes)

        if c.models.model_hash is not None:
            check(c.models.model_hash)
        else:
            from ...app.jobs.model import model_hash

            c.worker.submit("hash", model_hash, on_result=check)

    def _apply(self, plan: session_io.RestorePlan) -> None:
        c, v = self.ctx, self.ctx.views
        if plan.color_by:
            v.map.set_color_mode(plan.color_by)
        if plan.temperature is not None:
            v.temperature.setValue(plan.temperature)
        if plan.selected is not None:
            c.maps.select(plan.selected)
        if plan.morph is not None:
            c.morphs.restore(plan.morph)
        c.bookmarks.set(plan.bookmarks)
        if plan.latent is not None or plan.history:
            c.state.restore(plan.latent, plan.latent_source, plan.history, plan.history_position)
            c.note(f"restored: {c.state.source}")
        c.directions.restore(plan.directions)  # (after the latent: their strengths are relative to it)
        if plan.projection:
            c.maps.set_projection(plan.projection)
        elif plan.view:
            v.map.vb.setRange(xRange=plan.view[:2], yRange=plan.view[2:], padding=0.0)
        c.breeding.restore(plan.family)

    def _report(self, notes: list[str]) -> None:
        if notes:
            self.ctx.error("Opened what the session could: " + "; ".join(dict.fromkeys(notes)) + ".")
        else:
            self.ctx.message("session restored", 4000)
        self.restored.emit(notes)
