"""The session controller: save and open ``.lexplore`` sessions from the window.

A session is the application model's dump (``app.session_io``). Opening one is a command
(``Commands.open_session``): the session's model is loaded (or its working size set) and its
map encoded first, then ``plan_restore`` decides what fits and the plan is written into the
model, whose views follow; what could not be put back is said in one line. A malformed file
is refused with a dialog and the current state is kept. Autosave and crash recovery are in
``autosave.py``.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ...app import session_io
from .. import memory
from ...core.errors import UserError
from ...core.session import Session
from .autosave import AutosaveController



class SessionController(QObject):
    """Save / Open session in the window: the dialogs and the report. Saving is the application
    model's dump and opening is ``Commands.open_session`` (app/commands.py): this controller only
    asks for files and says what happened."""

    #: a session was put back (the notes on what could not be)
    restored = Signal(list)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.path: str | None = None
        self.autosave = AutosaveController(ctx, self)
        ctx.model.session_opened.connect(self._report)

    @property
    def pending(self) -> Session | None:
        """A session to apply once its model and map are up (``model.opening_session``)."""
        return self.ctx.model.opening_session

    # ---- saving ---------------------------------------------------------------------
    def snapshot(self) -> session_io.Snapshot | None:
        """What the user made (``session_io.snapshot``: the application model's fields; None before a
        model is loaded)."""
        return session_io.snapshot(self.ctx.model)

    def save(self, path: str) -> str | None:
        """Write the session now (atomically). Returns the path written, or None."""
        try:
            out = self.ctx.commands.save_session(path)
        except UserError as e:
            self.ctx.error(str(e))
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
            self.ctx.commands.open_session(path)
        except UserError as e:
            self.ctx.error(str(e), dialog=True)
            return False
        self.path = str(path)
        return True

    def restore(self, s: Session) -> None:
        """Load the session's model and images if they differ, then put its state back."""
        self.ctx.commands.restore(s)

    def _report(self, notes: list[str]) -> None:
        if notes:
            self.ctx.error("Opened what the session could: " + "; ".join(dict.fromkeys(notes)) + ".")
        else:
            self.ctx.message("session restored", 4000)
        self.restored.emit(notes)
