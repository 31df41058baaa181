"""The classroom: many students, one model, one scheduler. No Qt, no web.

``Classroom`` is what ``latent-explorer serve`` runs (``web/`` is its page and HTTP): every student
has an ``ExplorerModel`` and ``Commands`` of their own (their selection, latent, undo history,
seed, lab step), made over a *lane* of the one shared scheduler (``Scheduler.lane``), so one
student's newest request never replaces another's. What every student sees alike is shared,
read-only: the open model's summary and the map (images, latents, projection, interpolator).

The hot path (a slider moved, the map clicked → the new picture) is ``change``: it applies the
operation to the student's model through their commands, then hands the student's latent to the
``Batcher``. The batcher keeps only each student's newest latent (a newer one answers the older
with None: superseded) and decodes all students' waiting latents as one batch in one "class"
request on the worker, encoded as PNG there, off the server's thread.

Threads: everything but the decode runs on the front-end's thread (the web server's event loop):
the scheduler delivers there (``Scheduler(deliver=loop.call_soon_threadsafe)``), and
``change`` / ``join`` / ``leave`` are called there. The batcher's table is the one thing both
threads touch, under its lock. The objects students share are safe for concurrent reads
(``tests/test_concurrency.py``).
"""
from __future__ import annotations

import io
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..core.errors import UserError
from .commands import Commands
from .model import ExplorerModel

#: a student's undo history (latents) is capped at this many entries, or ``HISTORY_BYTES`` in all
HISTORY_LIMIT = 100
HISTORY_BYTES = 1_000_000
#: at most this many changes a second per student (a burst of ``RATE_BURST``), so no one student
#: can slow the class; the page sends at most one change in flight, so a student dragging as fast
#: as the network allows stays well under it
RATE_PER_S = 30.0
RATE_BURST = 30
#: a latent value a slider may take (the prior's ±3σ and far beyond; the page's sliders span ±4)
VALUE_LIMIT = 10.0
TEMPERATURE_RANGE = (0.0, 3.0)
#: the most images one batch decodes at once
BATCH_LIMIT = 64
#: the most students a class admits (each costs well under its memory share; see bench/classroom_load.py)
MAX_STUDENTS = 200


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 H×W×C image as PNG (fast compression: the decode's own cost is about a millisecond)."""
    from PIL import Image

    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


@dataclass
class Frame:
    """What a change made: the picture and its words."""

    png: bytes
    caption: str
    seq: int
    seconds: float = 0.0


class Batcher:
    """Each student's newest latent, decoded for everyone at once on the worker ("class" requests).

    ``put(key, z, done)``: ``done(png)`` is called through ``post`` (on the front-end's thread)
    with the PNG of z's decode, or with None when a newer ``put`` of the same key replaced it
    before it was decoded; ``fail(key, message)`` when the decode failed.
    """

    def __init__(self, scheduler, post: Callable[[Callable[[], None]], None]):
        self.scheduler = scheduler
        self.post = post
        self._lock = threading.Lock()
        self._pending: dict = {}          # key -> (z, done)
        self._asked = False               # a "class" request is waiting or running
        #: decodes done, batches run (for the teacher's load figures)
        self.decoded = 0
        self.batches = 0

    def put(self, key, z: np.ndarray, done: Callable) -> None:
        with self._lock:
            old = self._pending.pop(key, None)
            self._pending[key] = (np.asarray(z, np.float32), done)
            ask, self._asked = not self._asked, True
        if old is not None:
            self.post(lambda cb=old[1]: cb(None))
        if ask:
            self.scheduler.submit("class", self._run)

    def forget(self, key) -> None:
        with self._lock:
            self._pending.pop(key, None)

    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    def _take(self) -> list:
        with self._lock:
            keys = list(self._pending)[:BATCH_LIMIT]
            items = [(k, *self._pending.pop(k)) for k in keys]
            if not items:
                self._asked = False
            return items

    def _run(self, ctx) -> int:  # the worker thread
        n = 0
        while items := self._take():
            try:
                imgs = ctx.model.decode(np.stack([z for _, z, _ in items]))
                pngs = [png_bytes(im) for im in imgs]
            except Exception as e:  # answer everyone in the batch, keep serving
                msg = f"{type(e).__name__}: {e}".splitlines()[0]
                for _, _, done in items:
                    self.post(lambda cb=done: cb(UserError(f"the decode failed ({msg})")))
                continue
            self.decoded += len(items)
            self.batches += 1
            n += len(items)
            answers = [(done, png) for (_, _, done), png in zip(items, pngs)]
            self.post(lambda a=answers: [cb(p) for cb, p in a])  # one hand-over a batch
        return n


class RateLimit:
    """A token bucket: ``take()`` is False once a student asks faster than ``rate`` for a while."""

    def __init__(self, rate: float = RATE_PER_S, burst: int = RATE_BURST, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.t = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class Student:
    token: str
    number: int
    model: ExplorerModel
    commands: Commands
    limit: RateLimit
    joined: float
    last_seen: float
    #: messages for the page (the teacher's "everyone to step N", "show everyone this image")
    inbox: deque = field(default_factory=lambda: deque(maxlen=20))
    #: called when the inbox gets a message (the web layer wakes the page's event stream)
    wake: Callable | None = None
    #: connections the page holds open (its event stream): 0 for a while → the tab is gone
    streams: int = 0
    seq: int = 0
    changes: int = 0
    #: an image file of their own (uint8 H×W×C fitted to the model, its name), or None
    upload: tuple | None = None


class Classroom:
    """Students over one loaded model (``teacher``: the ExplorerModel that opened it and holds the map)."""

    def __init__(self, teacher: ExplorerModel, scheduler, post: Callable | None = None, clock=time.monotonic):
        self.teacher = teacher
        self.scheduler = scheduler
        self.clock = clock
        self.batcher = Batcher(scheduler, post or scheduler.post)
        self.students: dict[str, Student] = {}
        self._numbers = iter(range(1, 1 << 30))
        #: the teacher's broadcasts so far (a page that joins late applies the last one)
        self.lab_step: int | None = None
        self.shown: int | None = None
        #: (when, seconds) of hot-path changes: a minute of a large class's (the teacher's figures)
        self.latencies: deque = deque(maxlen=40_000)

    # ---- students ---------------------------------------------------------------------------
    def join(self) -> Student:
        t = self.teacher
        if t.summary is None or t.map is None:
            raise UserError("the class is not open yet (the model or its map is still loading)")
        if len(self.students) >= MAX_STUDENTS:
            raise UserError(f"the class is full ({MAX_STUDENTS} students)")
        token = secrets.token_urlsafe(18)
        m = ExplorerModel(spec=t.spec, size=t.size, device=t.device, precision=t.precision)
        m.summary, m.model_hash, m.map, m.prior_holes = t.summary, t.model_hash, t.map, t.prior_holes
        per = max(1, int(np.prod(t.summary.latent_shape)) * 4)
        m.latent.history.limit = max(5, min(HISTORY_LIMIT, HISTORY_BYTES // per))
        c = Commands(m, self.scheduler.lane(token), pipelines=True)
        now = self.clock()
        s = Student(token, next(self._numbers), m, c, RateLimit(clock=self.clock), now, now)
        self.students[token] = s
        c.select(0)
        if self.lab_step is not None:
            m.lab_step = self.lab_step
        return s

    def student(self, token) -> Student:
        s = self.students.get(token) if isinstance(token, str) else None
        if s is None:
            raise KeyError("unknown student")
        s.last_seen = self.clock()
        return s

    def leave(self, token: str) -> bool:
        s = self.students.pop(token, None)
        if s is None:
            return False
        self.batcher.forget(token)
        self.scheduler.forget_lane(token)
        s.wake = None
        s.model.close()  # its listeners hold its commands: without this nothing of theirs is freed
        return True

    def reap(self, idle_s: float) -> list[str]:
        """Free the students whose page holds no event stream and who asked nothing for ``idle_s``
        seconds (a closed tab; a reload within that time keeps its state)."""
        now = self.clock()
        gone = [k for k, s in self.students.items() if s.streams <= 0 and now - s.last_seen > idle_s]
        for k in gone:
            self.leave(k)
        return gone

    # ---- the hot path -------------------------------------------------------------------------
    def change(self, token: str, op: dict, done: Callable[[object], None]) -> None:
        """Apply one operation of the page to the student's model, then decode their latent:
        ``done(Frame)``, ``done(None)`` (a newer change of theirs replaced it) or ``done(UserError)``.
        Raises KeyError (unknown student), UserError (a bad value: nothing changed) or
        ``RateLimited``."""
        s = self.student(token)
        if not s.limit.take():
            raise RateLimited("too many changes a second: wait a moment")
        apply_op(s, op)
        s.seq += 1
        s.changes += 1
        seq, t0, caption = s.seq, time.perf_counter(), s.model.caption

        def decoded(png):
            if isinstance(png, bytes):
                dt = time.perf_counter() - t0
                self.latencies.append((self.clock(), dt))
                done(Frame(png, caption, seq, dt))
            else:
                done(png)

        self.batcher.put(token, s.model.latent.z, decoded)

    # ---- the teacher ------------------------------------------------------------------------------
    def broadcast(self, message: dict) -> int:
        """Tell every student's page (``{"type": "step", "step": n}`` or ``{"type": "show", "i": i}``)."""
        if message.get("type") == "step":
            self.lab_step = int(message["step"])
            for s in self.students.values():
                s.model.lab_step = self.lab_step
        elif message.get("type") == "show":
            self.shown = int(message["i"])
        for s in list(self.students.values()):
            s.inbox.append(message)
            if s.wake is not None:
                s.wake()
        return len(self.students)

    def load(self, window_s: float = 10.0) -> dict:
        """The class in numbers, for the teacher: students connected, changes served in the last
        ``window_s`` seconds, their p50/p95 latency, and what waits."""
        now = self.clock()
        recent = np.array([dt for t, dt in self.latencies if now - t <= window_s])
        return {
            "students": len(self.students),
            "connected": sum(1 for s in self.students.values() if s.streams > 0),
            "changes_per_s": round(len(recent) / window_s, 1),
            "p50_ms": round(float(np.percentile(recent, 50)) * 1000, 1) if len(recent) else None,
            "p95_ms": round(float(np.percentile(recent, 95)) * 1000, 1) if len(recent) else None,
            "waiting": self.batcher.waiting(),
            "decoded": self.batcher.decoded,
        }


class RateLimited(Exception):
    pass


# ---- the operations a page may ask for (every value checked: nothing is trusted) ------------------
def _number(op: dict, key: str, lo: float, hi: float) -> float:
    v = op.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UserError(f"{key} must be a number")
    v = float(v)
    if not lo <= v <= hi:  # NaN fails too; the bounds are well inside float32's range
        raise UserError(f"{key} must lie in [{lo:g}, {hi:g}]")
    return v


def _index(op: dict, key: str, n: int) -> int:
    v = op.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n:
        raise UserError(f"{key} must be a whole number in [0, {n - 1}]")
    return v


def map_bounds(model: ExplorerModel, margin: float = 0.5) -> tuple[float, float, float, float]:
    """The map's extent, widened by ``margin`` of its size on each side: where a click may land."""
    xy = model.map.xy
    x0, y0 = xy.min(0)
    x1, y1 = xy.max(0)
    w, h = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    return float(x0 - margin * w), float(x1 + margin * w), float(y0 - margin * h), float(y1 + margin * h)


OPS = ("select", "place", "dims", "random", "undo", "redo", "commit", "current")


def apply_op(s: Student, op: dict) -> None:
    """One page operation on the student's model, through their commands."""
    if not isinstance(op, dict):
        raise UserError("a change must be a JSON object")
    kind = op.get("op")
    if kind not in OPS:
        raise UserError(f"unknown operation {str(kind)[:40]!r}")
    m, c = s.model, s.commands
    if kind == "select":
        c.select(_index(op, "i", len(m.map.mean)))
        s.upload = None
    elif kind == "place":
        x0, x1, y0, y1 = map_bounds(m)
        c.show_place(_number(op, "x", x0, x1), _number(op, "y", y0, y1))
    elif kind == "dims":
        values = op.get("values")
        d = int(np.prod(m.latent_shape))
        if not isinstance(values, dict) or not 0 < len(values) <= d:
            raise UserError(f"values must map up to {d} dimensions to numbers")
        z = np.array(m.latent.z, np.float32).reshape(-1)
        for k, v in values.items():
            if not (isinstance(k, str) and k.isdigit() and int(k) < d):
                raise UserError(f"no latent dimension {str(k)[:12]!r} (0 … {d - 1})")
            z[int(k)] = _number({"v": v}, "v", -VALUE_LIMIT, VALUE_LIMIT)
        m.caption = "your latent, edited with the sliders"
        c.set_latent(z.reshape(m.latent_shape), "sliders", commit=bool(op.get("commit", False)))
    elif kind == "random":
        m.temperature = _number(op, "t", *TEMPERATURE_RANGE)
        m.sample_seed += 1
        z = prior_sample(m.latent_shape, m.sample_seed, m.temperature)
        m.caption = f"random sample z ~ N(0, T² I) (T {m.temperature:.2f}, seed {m.sample_seed})"
        c.set_latent(z, f"random sample T {m.temperature:.2f} seed {m.sample_seed}")
    elif kind == "undo":
        c.undo()
    elif kind == "redo":
        c.redo()
    elif kind == "commit":
        m.latent.commit()


def prior_sample(shape, seed: int, temperature: float) -> np.ndarray:
    """z ~ N(0, T² I) with ``seed``, as the window's Random draws it (``LatentModel.sample_prior``)."""
    from ..core.models.base import prior_samples

    return prior_samples(tuple(shape), 1, seed, temperature)[0]
