"""Approximate-then-final previews for slow decoders (the SD VAE takes seconds per decode on a CPU).

``TieredPreviewer.request(z)`` asks the worker for the approximate decode (kind "preview",
milliseconds) and restarts a pause timer; when the latent has not changed for ``pause_ms`` the
full decode is requested (kind "final"). A new latent cancels the pending or running full
decode first: its result is dropped by the worker's request ids and the decode itself stops
at its next layer (``app.jobs.tiers.interruptible``), so a stale full decode is never queued
and never shown. ``widgets.tier_badge.TierBadge`` says which tier is on screen.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ...app.jobs import tiers

PAUSE_MS = 300


class TieredPreviewer(QObject):
    """Drives the two tiers on the DecodeWorker; ``show(image, request_id, caption, seconds, final)``
    puts a frame on screen (on the GUI thread)."""

    #: (request id, final) each time a frame is shown
    frameShown = Signal(int, bool)
    #: notices from the model (fp32 fallback, out-of-memory fallbacks)
    notices = Signal(list)
    #: a full decode failed (its message): the approximate frame stays
    failed = Signal(str)

    def __init__(self, worker, show: Callable, pause_ms: int = PAUSE_MS, parent=None):
        super().__init__(parent)
        self.worker = worker
        self._show = show
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(pause_ms)
        self.timer.timeout.connect(self._request_final)
        self._z: np.ndarray | None = None
        self._caption = ""
        self.final_requests = 0      # full decodes asked of the worker (for tests)
        #: which approximate preview made the last approximate frame ("linear", "learned", "taesd")
        self.preview_kind = ""
        self.finals_shown = 0
        self.enabled = True

    @property
    def pause_ms(self) -> int:
        return self.timer.interval()

    def set_pause(self, ms: int) -> None:
        self.timer.setInterval(int(ms))

    def request(self, z: np.ndarray, caption: str = "", image: np.ndarray | None = None, final: bool = False,
                seconds: float = 0.0) -> int:
        """A new latent: show ``image`` if it is known (of tier ``final``), else ask for the approximate
        decode; unless the shown frame is final, ask for the full decode once the user pauses."""
        self.worker.cancel("final")
        self.timer.stop()
        self._z = np.array(z, np.float32, copy=True)
        self._caption = caption
        if image is not None:
            rid = self.worker.latest_id("preview") or 0
            self._display(image, rid, caption, seconds, final)
            if not final:
                self.timer.start()
            return rid
        rid = self.worker.submit("preview", tiers.approx, self._z,
                                 on_result=lambda d, c=caption: self._on_approx(d, c))
        self.timer.start()
        return rid

    def _on_approx(self, d, caption: str) -> None:
        self.preview_kind = str(d.extra.get("preview", ""))
        self._display(d.image, self.worker.latest_id("preview") or 0, caption, d.seconds, False)

    def _request_final(self) -> None:
        if self._z is None or not self.enabled:
            return
        self.final_requests += 1
        caption = self._caption
        self.worker.submit("final", tiers.final, self._z,
                           on_result=lambda d, c=caption: self._on_final(d, c),
                           on_error=lambda f: self.failed.emit(f.message))

    def _on_final(self, d, caption: str) -> None:
        self.finals_shown += 1
        self._display(d.image, self.worker.latest_id("final") or 0, caption, d.seconds, True)
        notes = d.extra.get("notices") or []
        if notes:
            self.notices.emit(list(notes))

    def _display(self, image, rid: int, caption: str, seconds: float, final: bool) -> None:
        self._show(image, rid, caption, seconds, final)
        self.frameShown.emit(rid, final)

    def flush(self) -> None:
        """Ask for the full decode now (no pause): exports, tests."""
        if self.timer.isActive():
            self.timer.stop()
            self._request_final()

    def stop(self) -> None:
        """Forget the pending full decode and stop the timer (a new model, closing the window)."""
        self.timer.stop()
        self._z = None
        self.worker.cancel("final")
