"""DecodeWorker: the Qt face of ``app/scheduler.py``'s ``Scheduler``.

The scheduler (no Qt) owns the model and runs every request by the rules of ``app/requests.py``
on its own thread. This adapter lives on the GUI thread: it gives the scheduler a ``deliver``
that posts each result, failure or progress report to the GUI thread through one queued Qt
signal, and re-emits the scheduler's events there as Qt signals (``finished``, ``failed``,
``progress``, ``dropped``), so widgets connect to it as to any QObject. Freshness (stale ids,
cancelled requests, a closed worker) is checked by the scheduler at delivery, on the GUI thread.

``Request``, ``Failure``, ``TaskContext``, ``abandon`` and ``abandoned_threads`` are the
scheduler's, re-exported here for the callers that import them from the GUI.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..app.scheduler import Failure, Request, Scheduler, TaskContext, abandon, abandoned_threads

__all__ = ["DecodeWorker", "Failure", "Request", "Scheduler", "TaskContext", "abandon", "abandoned_threads"]


class DecodeWorker(QObject):
    """Lives on the GUI thread; its ``scheduler``'s thread runs the requests."""

    #: kind, id, value, seconds — only fresh results, on the GUI thread
    finished = Signal(str, int, object, float)
    #: a Failure, on the GUI thread (stale failures are dropped too)
    failed = Signal(object)
    #: kind, id, done, total, text
    progress = Signal(str, int, int, int, str)
    #: kind, id of a result that arrived after a newer request of its kind (for tests / stats)
    dropped = Signal(str, int)

    # the scheduler's deliveries, posted from its thread, run queued on the GUI thread
    _post = Signal(object)

    def __init__(self, parent=None, torch_threads: int | None = 1, model=None):
        super().__init__(parent)
        self._post.connect(self._run_posted, Qt.ConnectionType.QueuedConnection)
        self.scheduler = s = Scheduler(deliver=self._post.emit, torch_threads=torch_threads, model=model)
        s.finished.connect(self._on_finished)
        s.failed.connect(self._on_failed)
        s.progress.connect(self._on_progress)
        s.dropped.connect(self._on_dropped)
        self.gui_thread = s.gui_thread

    @Slot(object)
    def _run_posted(self, fn: Callable[[], None]) -> None:
        fn()

    def _on_finished(self, kind: str, rid: int, value, seconds: float) -> None:
        self.finished.emit(kind, rid, value, seconds)

    def _on_failed(self, failure: Failure) -> None:
        self.failed.emit(failure)

    def _on_progress(self, kind: str, rid: int, done: int, total: int, text: str) -> None:
        self.progress.emit(kind, rid, done, total, text)

    def _on_dropped(self, kind: str, rid: int) -> None:
        self.dropped.emit(kind, rid)

    # ---- the scheduler's API, on the GUI thread -------------------------------------------
    def start(self) -> None:
        self.scheduler.start()

    def is_running(self) -> bool:
        return self.scheduler.is_running()

    def submit(self, kind: str, fn: Callable, *args, on_result=None, on_error=None, **kwargs) -> int:
        """Ask for ``fn(ctx, *args, **kwargs)`` as a request of ``kind`` (its rule: ``app/requests.py``)."""
        return self.scheduler.submit(kind, fn, *args, on_result=on_result, on_error=on_error, **kwargs)

    def cancel(self, kind: str) -> None:
        self.scheduler.cancel(kind)

    def cancel_all(self, keep: tuple[str, ...] = (), queued: bool = False) -> None:
        self.scheduler.cancel_all(keep, queued)

    def latest_id(self, kind: str) -> int | None:
        return self.scheduler.latest_id(kind)

    def is_busy(self, kind: str) -> bool:
        return self.scheduler.is_busy(kind)

    def pending_count(self, kind: str | None = None) -> int:
        return self.scheduler.pending_count(kind)

    def quiet(self, ignore: tuple[str, ...] = ()) -> bool:
        return self.scheduler.quiet(ignore)

    def stop(self, timeout_ms: int = 1500) -> bool:
        """End the thread; True when it ended within ``timeout_ms`` (else it is abandoned)."""
        return self.scheduler.stop(timeout_ms)

    @property
    def worker_thread_ident(self) -> int | None:
        return self.scheduler.worker_thread_ident

    # for tests and tools that look inside
    @property
    def _model(self):
        return self.scheduler._model

    @_model.setter
    def _model(self, model) -> None:
        self.scheduler._model = model

    @property
    def _thread(self):
        return self.scheduler._thread
