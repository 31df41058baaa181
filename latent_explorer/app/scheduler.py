"""Scheduler: the one thread that owns the model and runs every encode / decode. No Qt, ever.

A front-end (the window, a web session, a script) hands it *requests*: a kind ("preview",
"export", "map", ...) and a job, a plain function ``fn(ctx, *args)`` (``app/jobs``) to run with
the model. Each kind's rules are declared in one table, ``app/requests.py``, and enforced here:

- **coalesce** kinds (previews, strips, the map): a newer request replaces the pending one of its
  kind and asks a running one to stop at its next checkpoint; a result is delivered only while
  its request is the newest of its kind, otherwise it is dropped as stale;
- **queue** kinds (exports; load, size, device, precision, pair): every request runs, in the
  order submitted, and reports success (``on_result``) or failure (``on_error``);
- **nested** kinds (read-only decodes: preview, sample, recon, final) are the only ones a long
  job's ``ctx.checkpoint()`` serves, so a slider preview never waits behind the map;
- **exclusive** kinds change the model: never nested, nothing nested inside them, and they wait
  for every request submitted before them.

Delivery
--------
Results, failures and progress reach the front-end on *its* thread, never the worker's:
``Scheduler(deliver=...)`` takes a function ``deliver(fn)`` that must arrange for ``fn()`` to be
called later on the front-end's thread (``gui/worker.py`` posts it through a queued Qt signal to
the GUI thread; a web session would hand it to its handler). Every freshness check (a stale id,
a cancelled request, a closed scheduler) happens when ``fn()`` runs, on that thread, so a result
that was overtaken while in flight is dropped (the ``dropped`` event) rather than shown.

Without ``deliver`` (scripts, headless tests) the scheduler keeps a thread-safe *inbox*: nothing
is delivered until its owner calls ``process_events()`` (deliver everything waiting, on the
calling thread) or ``wait_for(predicate, timeout)`` (deliver as things arrive until
``predicate()`` holds)::

    s = Scheduler(model=model)
    s.start()
    out = []
    s.submit("preview", decode_jobs.decode, z, on_result=out.append)
    assert s.wait_for(lambda: out, timeout=5)
    s.stop()

Events are psygnal signals, emitted on the delivering thread: ``finished(kind, id, value,
seconds)`` (fresh results only), ``failed(Failure)``, ``progress(kind, id, done, total, text)``
(the newest request of its kind only) and ``dropped(kind, id)`` (a stale or cancelled result).

An exception in a request becomes a ``failed`` event (and the request's ``on_error``); the
scheduler lives on. ``stop()`` ends the thread; a thread stuck in a long native call is left for
the front-end to end the process over (see ``abandoned_threads``).
"""
from __future__ import annotations

import itertools
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from psygnal import Signal

from ..core.errors import Cancelled, UserError
from .requests import rule

# Worker threads that would not stop in time (blocked in native code), kept referenced until the
# process exits; a front-end ends the process with os._exit while one is alive (gui/app.py).
_ABANDONED: list = []


def _alive(t) -> bool:
    is_alive = getattr(t, "is_alive", None)  # a threading.Thread; else a thread of a GUI toolkit
    return is_alive() if is_alive is not None else t.isRunning()


def abandoned_threads() -> list:
    """The abandoned threads that still run (a ``threading.Thread``, or any object with ``isRunning``)."""
    return [t for t in _ABANDONED if _alive(t)]


def abandon(thread) -> None:
    """Keep a thread that would not stop (stuck in native code) referenced until the process exits."""
    _ABANDONED.append(thread)


_ANY = object()  # any lane


@dataclass
class Request:
    kind: str
    id: int
    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    on_result: Callable | None = None
    on_error: Callable | None = None
    submitted: float = 0.0
    cancelled: bool = False
    #: whose request it is (a classroom's student), or None: coalescing is per kind *and* lane
    lane: str | None = None

    @property
    def key(self):
        return self.kind if self.lane is None else (self.kind, self.lane)

    @property
    def rule(self):
        return rule(self.kind)


@dataclass
class Failure:
    kind: str
    id: int
    message: str
    detail: str = ""
    user_error: bool = False
    #: the exception itself (a folder import's UserError carries ``skipped``)
    error: BaseException | None = None
    #: the request had its own on_error, which tells the user
    handled: bool = False


class TaskContext:
    """What a request's function sees: the model, cancellation, progress, checkpoints."""

    def __init__(self, scheduler: "Scheduler", request: Request):
        self._scheduler = scheduler
        self.request = request

    @property
    def model(self):
        m = self._scheduler._model
        if m is None:
            raise UserError("no model is loaded")
        return m

    @property
    def has_model(self) -> bool:
        return self._scheduler._model is not None

    def set_model(self, model) -> None:
        self._scheduler._model = model

    @property
    def cancelled(self) -> bool:
        return self.request.cancelled or self._scheduler._stopping

    def checkpoint(self) -> None:
        """Raise Cancelled if this request was superseded or cancelled; else serve waiting requests of
        *nested* kinds (read-only decodes) that rank above this one. An exclusive request (it is
        changing the model) serves nothing."""
        if self.cancelled:
            raise Cancelled()
        if not self.request.rule.exclusive:
            self._scheduler._serve_pending(below=self.request.rule.rank, nested_only=True)
        if self.cancelled:
            raise Cancelled()

    def waiting(self) -> bool:
        """True when a request that outranks this one waits: background work can give way to it."""
        return self._scheduler._outranked(self.request.rule.rank)

    def progress(self, done: int, total: int, text: str = "") -> None:
        self._scheduler._send_progress(self.request, int(done), int(total), text)


class Lane:
    """One user's view of a shared scheduler (``Scheduler.lane``): the API ``Commands`` uses, with
    coalescing, ids, ``quiet`` and cancelling scoped to the lane."""

    def __init__(self, scheduler: "Scheduler", name: str):
        self.scheduler = scheduler
        self.name = name

    def submit(self, kind: str, fn: Callable, *args, on_result=None, on_error=None, **kwargs) -> int:
        return self.scheduler._submit(self.name, kind, fn, args, kwargs, on_result, on_error)

    def cancel(self, kind: str) -> None:
        self.scheduler.cancel(kind, self.name)

    def cancel_all(self, keep: tuple[str, ...] = (), queued: bool = False) -> None:
        self.scheduler.cancel_all(keep, queued, lane=self.name)

    def latest_id(self, kind: str) -> int | None:
        return self.scheduler.latest_id(kind, self.name)

    def is_busy(self, kind: str) -> bool:
        return self.scheduler.is_busy(kind, self.name)

    def pending_count(self, kind: str | None = None) -> int:
        return self.scheduler.pending_count(kind, self.name)

    def quiet(self, ignore: tuple[str, ...] = ()) -> bool:
        return self.scheduler.quiet(ignore, lane=self.name)


class _Inbox:
    """The default delivery: callables queued by the worker, run by whoever drains the inbox."""

    def __init__(self):
        self._items: deque = deque()
        self._cond = threading.Condition()

    def put(self, fn: Callable) -> None:
        with self._cond:
            self._items.append(fn)
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def pop(self) -> Callable | None:
        with self._cond:
            return self._items.popleft() if self._items else None

    def wait(self, timeout: float) -> None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)


class _Thread(threading.Thread):
    def __init__(self, scheduler: "Scheduler"):
        super().__init__(name="DecodeWorker", daemon=True)
        self._scheduler = scheduler

    def run(self):  # the worker thread
        self._scheduler._loop()

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Join for up to ``timeout_ms`` (forever when None); True when the thread has ended."""
        self.join(None if timeout_ms is None else max(0, timeout_ms) / 1000)
        return not self.is_alive()


class Scheduler:
    """The worker's rules over one plain thread; results reach the front-end through ``deliver``."""

    #: kind, id, value, seconds: only fresh results, on the delivering thread
    finished = Signal(str, int, object, float)
    #: a Failure, on the delivering thread (stale failures are dropped too)
    failed = Signal(object)
    #: kind, id, done, total, text (the newest request of its kind only)
    progress = Signal(str, int, int, int, str)
    #: kind, id of a result that arrived after a newer request of its kind (for tests / stats)
    dropped = Signal(str, int)

    def __init__(self, deliver: Callable[[Callable[[], None]], None] | None = None,
                 torch_threads: int | None = 1, model=None):
        self._inbox = _Inbox() if deliver is None else None
        self._post = deliver if deliver is not None else self._inbox.put
        self._torch_threads = torch_threads
        self._model = model
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._pending: list[Request] = []   # oldest first
        self._running: list[Request] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._closed = False
        self._thread = _Thread(self)
        #: the front-end's thread (the one that made the scheduler)
        self.gui_thread = threading.get_ident()
        self.worker_thread_ident: int | None = None

    # ---- front-end API ------------------------------------------------------------------
    def start(self) -> None:
        if self._thread.ident is None and not self._closed:
            self._thread.start()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def submit(self, kind: str, fn: Callable, *args, on_result=None, on_error=None, **kwargs) -> int:
        """Ask for ``fn(ctx, *args, **kwargs)`` as a request of ``kind`` (its rule: ``app/requests.py``)."""
        return self._submit(None, kind, fn, args, kwargs, on_result, on_error)

    def lane(self, name: str) -> "Lane":
        """A view of this scheduler for one of several users sharing it (a classroom's students):
        its requests run on the same thread under the same rules, but a coalescing kind coalesces
        within the lane only, so one student's newest preview never replaces another's."""
        return Lane(self, str(name))

    def _submit(self, lane, kind, fn, args, kwargs, on_result, on_error) -> int:
        if self._closed:
            return -1
        r = rule(kind)  # an undeclared kind is a bug: refuse it here, not on the worker
        rid = next(self._ids)
        req = Request(kind, rid, fn, args, kwargs, on_result, on_error, time.perf_counter(), lane=lane)
        with self._cond:
            self._latest[req.key] = rid
            if not r.queued:  # coalesce: the newest replaces the pending one and stops a running one
                self._cancel_locked(req.key)
            self._pending.append(req)
            self._cond.notify_all()
        return rid

    def cancel(self, kind: str, lane: str | None = None) -> None:
        """Forget the pending requests of ``kind`` (in ``lane``), stop a running one, drop its results."""
        key = kind if lane is None else (kind, lane)
        with self._cond:
            self._latest[key] = next(self._ids)
            self._cancel_locked(key)

    def _cancel_locked(self, key) -> None:
        """Drop the pending requests of ``key`` (a kind, or (kind, lane)) and flag a running one to
        stop (``_cond`` held)."""
        for q in [q for q in self._pending if q.key == key]:
            q.cancelled = True
            self._pending.remove(q)
        for q in self._running:
            if q.key == key:
                q.cancelled = True

    def cancel_all(self, keep: tuple[str, ...] = (), queued: bool = False, lane: str | None = None) -> None:
        """Cancel every kind but ``keep`` (in ``lane``: None, the front-end's own requests);
        queued kinds (exports, model changes) only when ``queued``."""
        with self._cond:
            kinds = {q.kind for q in self._pending + self._running if q.lane == lane}
            kinds |= {k if lane is None else k[0] for k in self._latest
                      if (lane is None and isinstance(k, str)) or (isinstance(k, tuple) and k[1] == lane)}
        for k in kinds - set(keep):
            if queued or not rule(k).queued:
                self.cancel(k, lane)

    def forget_lane(self, lane: str) -> None:
        """A user left: cancel their requests and forget their ids (the table does not grow)."""
        self.cancel_all(queued=True, lane=lane)
        with self._cond:
            for k in [k for k in self._latest if isinstance(k, tuple) and k[1] == lane]:
                del self._latest[k]

    def latest_id(self, kind: str, lane: str | None = None) -> int | None:
        return self._latest.get(kind if lane is None else (kind, lane))

    def _mine(self, q: Request, kind: str | None, lane) -> bool:
        return (kind is None or q.kind == kind) and (lane is _ANY or q.lane == lane)

    def is_busy(self, kind: str, lane=None) -> bool:
        with self._cond:
            return any(self._mine(q, kind, lane) for q in self._pending + self._running)

    def pending_count(self, kind: str | None = None, lane=None) -> int:
        """Requests waiting (of ``kind``, or all; of ``lane``), not counting running ones."""
        lane = _ANY if kind is None and lane is None else lane
        with self._cond:
            return sum(1 for q in self._pending if self._mine(q, kind, lane))

    def quiet(self, ignore: tuple[str, ...] = (), lane=None) -> bool:
        """Nothing waits and nothing runs but requests of the kinds in ``ignore``: the worker is idle
        (with ``lane``: nothing of that lane waits or runs)."""
        with self._cond:
            return not any(q.kind not in ignore and (lane is None or q.lane == lane)
                           for q in self._pending + self._running)

    def _outranked(self, rank: int) -> bool:
        with self._cond:
            return any(q.rule.rank < rank for q in self._pending)

    def stop(self, timeout_ms: int = 1500) -> bool:
        """End the thread; True when it ended within ``timeout_ms``. A thread that does not (stuck in
        native code) is abandoned: kept referenced, see ``abandoned_threads``."""
        self._closed = True
        with self._cond:
            self._stopping = True
            for q in self._pending:
                q.cancelled = True
            self._pending.clear()
            for q in self._running:
                q.cancelled = True
            self._cond.notify_all()
        if not self._thread.is_alive():
            return True
        if self._thread.wait(timeout_ms):
            return True
        abandon(self._thread)
        return False

    # ---- the default inbox (no ``deliver`` given) -----------------------------------------
    def process_events(self) -> int:
        """Deliver, on the calling thread, everything the worker has sent so far; how many.

        Only for a scheduler made without ``deliver`` (its owner's thread drains the inbox)."""
        inbox = self._require_inbox()
        n = 0
        while (fn := inbox.pop()) is not None:
            fn()
            n += 1
        return n

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> bool:
        """Deliver results on the calling thread as they arrive until ``predicate()`` is true (True)
        or ``timeout`` seconds have passed (False). ``predicate`` is checked after each delivery and
        whenever a request ends, so it may test results as well as ``is_busy``/``quiet``."""
        inbox = self._require_inbox()
        deadline = time.monotonic() + timeout
        while True:
            self.process_events()
            if predicate():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            inbox.wait(min(left, 0.05))

    def _require_inbox(self) -> _Inbox:
        if self._inbox is None:
            raise RuntimeError("this scheduler delivers through its front-end's deliver(); "
                               "process_events/wait_for are for one made without it")
        return self._inbox

    # ---- delivery (on the front-end's thread) -------------------------------------------
    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the front-end's thread, as results are (for jobs that answer several
        callers themselves, such as the classroom's batched decodes)."""
        self._send(fn)

    def _send(self, fn: Callable[[], None]) -> None:
        """Hand ``fn`` to the front-end (from the worker thread)."""
        try:
            self._post(fn)
        except Exception as e:  # the front-end is gone (a closed window): nothing to show it on
            print(f"latent-explorer: a result could not be delivered ({type(e).__name__}: {e})",
                  file=sys.stderr, flush=True)

    def _deliver(self, req: Request, value, seconds: float) -> None:
        if self._closed or req.cancelled or self._stale(req):
            self.dropped.emit(req.kind, req.id)
            return
        if req.on_result is not None:
            req.on_result(value)
        self.finished.emit(req.kind, req.id, value, seconds)

    def _deliver_error(self, req: Request, failure: Failure) -> None:
        if self._closed or req.cancelled or self._stale(req):
            self.dropped.emit(req.kind, req.id)
            return
        if req.on_error is not None:
            failure.handled = True
            req.on_error(failure)
        self.failed.emit(failure)

    def _stale(self, req: Request) -> bool:
        """A coalescing kind's result is stale once a newer request of its kind was made; a queued
        kind's results all count (only a cancel drops them)."""
        return not req.rule.queued and self._latest.get(req.key) != req.id

    def _deliver_progress(self, req: Request, done, total, text) -> None:
        if not self._closed and self._latest.get(req.key) == req.id:
            self.progress.emit(req.kind, req.id, done, total, text)

    def _send_progress(self, req: Request, done: int, total: int, text: str) -> None:
        self._send(lambda: self._deliver_progress(req, done, total, text))

    # ---- worker thread ------------------------------------------------------------------
    def _loop(self) -> None:
        self.worker_thread_ident = threading.get_ident()
        if self._torch_threads:
            try:  # one intra-op thread: on a 2-core machine the GUI thread must not starve
                import torch

                torch.set_num_threads(self._torch_threads)
            except ImportError:  # pragma: no cover - torch is a dependency
                pass
        while True:
            with self._cond:
                while not self._stopping and not self._pending:
                    self._cond.wait()
                if self._stopping:
                    return
            self._serve_pending(below=None)

    def _take(self, below: int | None, nested_only: bool) -> Request | None:
        """The next request to run: the lowest rank (then the oldest); an exclusive one only after
        every request submitted before it; at a checkpoint, nested kinds ranked above ``below`` only."""
        with self._cond:
            if self._stopping or not self._pending:
                return None
            if nested_only:
                ready = [q for q in self._pending if q.rule.nesting == "nested" and q.rule.rank < below]
                if not ready:
                    return None
                req = min(ready, key=lambda q: (q.rule.rank, q.id))
            else:
                req = min(self._pending, key=lambda q: (q.rule.rank, q.id))
                if req.rule.exclusive:  # in order: whatever was asked for before it runs first
                    req = min((q for q in self._pending if q.id <= req.id), key=lambda q: q.id)
            self._pending.remove(req)
            self._running.append(req)
            return req

    def _serve_pending(self, below: int | None, nested_only: bool = False) -> None:
        while True:
            req = self._take(below, nested_only)
            if req is None:
                return
            try:
                self._run(req)
            finally:
                with self._cond:
                    self._running.remove(req)
                if self._inbox is not None:
                    self._inbox.wake()  # wait_for's predicate may look at is_busy / quiet

    def _run(self, req: Request) -> None:
        ctx = TaskContext(self, req)
        t0 = time.perf_counter()
        try:
            if req.cancelled:
                return
            value = req.fn(ctx, *req.args, **req.kwargs)
        except Cancelled:
            return
        except UserError as e:
            failure = Failure(req.kind, req.id, str(e), "", True, e)
            self._send(lambda: self._deliver_error(req, failure))
            return
        except Exception as e:  # a bug or a broken model: show it, keep serving
            detail = traceback.format_exc()
            print(f"latent-explorer: {req.kind} request failed:\n{detail}", file=sys.stderr, flush=True)
            msg = str(e).splitlines()[0] if str(e) else ""
            failure = Failure(req.kind, req.id, f"{type(e).__name__}: {msg}".rstrip(": "), detail, False, e)
            self._send(lambda: self._deliver_error(req, failure))
            return
        if not self._stopping:
            seconds = time.perf_counter() - t0
            self._send(lambda: self._deliver(req, value, seconds))
