"""Autosave and crash recovery, per running instance.

Each running window holds its own autosave and ``running`` marker (``core.session.Autosave``:
named by process id, with a liveness check), so a second window or a second app never offers
to recover a session that is still live in another, never deletes another's autosave and
never removes another's marker. At start-up only the autosaves of instances that are no longer
running (they crashed) are offered. Within one process only the first window autosaves (a
second window there is the same running instance: it neither autosaves nor offers recovery). The session is captured on the GUI thread every
``interval`` and written on a plain Python thread, so a big session never blocks the GUI.
"""
from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from ...app import session_io
from ...core.autosave import Autosave

AUTOSAVE_INTERVAL_MS = 60_000


class AutosaveController(QObject):
    #: the controller that holds this process's autosave (one per running instance)
    _holder: "AutosaveController | None" = None

    def __init__(self, ctx, sessions):
        super().__init__(ctx)
        self.ctx = ctx
        self.sessions = sessions
        self.autosave: Autosave | None = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.save_now)
        self._writer: threading.Thread | None = None
        self.saves = 0
        self.recovered = False
        self.last_error: str | None = None

    def start(self) -> None:
        """Offer the autosave of a run that crashed, then hold this instance's marker and save regularly."""
        o = self.ctx.options
        if AutosaveController._holder is not None:
            return  # another window of this process holds this instance's autosave
        try:
            self.autosave = Autosave(o.data_dir)
            orphans = self.autosave.orphans()
        except OSError as e:
            self.ctx.banner(f"autosave is off: cannot use the data folder ({e.strerror or e})")
            self.autosave = None
            return
        if orphans:
            if self._ask_recover():
                self._recover(orphans[0])
            self.autosave.discard_orphans()  # offered once: recovered now, or declined
        self.autosave.start()
        AutosaveController._holder = self
        self.timer.setInterval(int(o.autosave_interval_ms or AUTOSAVE_INTERVAL_MS))
        self.timer.start()

    def _recover(self, path) -> None:
        try:
            s = self.autosave.load_orphan(path)
        except Exception as e:  # an unreadable autosave must never stop the app starting
            self.ctx.banner(f"could not recover the autosave: {e}")
            return
        self.ctx.commands.prepare_restore(s)   # (put back once the first model and map are up)
        self.recovered = True

    def _ask_recover(self) -> bool:
        answer = self.ctx.options.recover
        if answer is not None:
            return bool(answer() if callable(answer) else answer)
        box = QMessageBox(QMessageBox.Icon.Question, "Recover your last session?",
                          "latent-explorer did not close cleanly last time. Recover the session it autosaved "
                          "(model, map, latent, bookmarks, history)?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.ctx.window)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        return box.exec() == QMessageBox.StandardButton.Yes

    def save_now(self, wait: bool = False) -> bool:
        """Capture now, write in the background; False when there is nothing to save or a write is running."""
        if self.autosave is None or (self._writer is not None and self._writer.is_alive()):
            return False
        if self.sessions.pending is not None or self.ctx.model.loading:
            return False  # mid-restore or mid-load: saving now would overwrite what is being restored
        snap = self.sessions.snapshot()
        if snap is None:
            return False
        s, autosave = session_io.capture(snap), self.autosave

        def write():
            try:
                autosave.save(s)
                self.saves += 1
            except Exception as e:  # a full disk must not take the app down; say it once
                self.last_error = f"autosave to {autosave.path} failed: {e}"
                print(f"latent-explorer: {self.last_error}", file=sys.stderr, flush=True)

        self._writer = threading.Thread(target=write, name="autosave", daemon=True)
        self._writer.start()
        if wait:
            self._writer.join()
        return True

    def stop(self) -> None:
        """Stop the timer, finish a running write; a clean exit removes this instance's files."""
        self.timer.stop()
        if self._writer is not None:
            self._writer.join(10)
        if self.autosave is not None and AutosaveController._holder is self:
            self.autosave.clean_exit()
            AutosaveController._holder = None
