"""The classroom's application layer, headless (no web, no Qt): students over one model and one
scheduler, each with their own state; the batched, per-student-coalesced decode; every value a page
sends checked; rate limits; leaving frees a student."""
from __future__ import annotations

import numpy as np
import pytest

from latent_explorer.app.classroom import Batcher, Classroom, RateLimit, RateLimited, apply_op
from latent_explorer.app.commands import Commands
from latent_explorer.app.model import ExplorerModel
from latent_explorer.app.scheduler import Scheduler
from latent_explorer.core.errors import UserError


@pytest.fixture(scope="module")
def opened():
    s = Scheduler()
    s.start()
    m = ExplorerModel()
    c = Commands(m, s)
    c.open_model("digits", first=True)
    assert s.wait_for(lambda: m.map is not None and c.idle(), 300), c.failures
    yield m, s
    s.stop()


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def room(opened):
    m, s = opened
    clock = Clock()
    cl = Classroom(m, s, clock=clock)
    yield cl, s, clock
    for k in list(cl.students):
        cl.leave(k)


def _frames(cl, s, changes):
    """Apply (student, op) changes; wait for every answer; the answers in order."""
    out = [None] * len(changes)
    for k, (st, op) in enumerate(changes):
        cl.change(st.token, op, lambda r, k=k: out.__setitem__(k, ("done", r)))
    assert s.wait_for(lambda: all(o is not None for o in out), 30)
    return [r for _, r in out]


def same(a, b) -> bool:
    """One picture: a batched decode may differ from a single one by one grey level in a pixel."""
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


def test_each_student_has_their_own_state(room, opened):
    cl, s, _ = room
    m, _ = opened
    a, b = cl.join(), cl.join()
    fa, fb = _frames(cl, s, [(a, {"op": "select", "i": 3}), (b, {"op": "select", "i": 7})])
    assert a.model.selected == 3 and b.model.selected == 7
    assert np.array_equal(a.model.latent.z, m.map.mean[3]) and np.array_equal(b.model.latent.z, m.map.mean[7])
    # each picture is the decode of that student's own latent (a batch decodes as one at a time does)
    model = s._model
    assert same(_pixels(fa.png), model.decode(m.map.mean[3][None])[0][:, :, 0])
    assert same(_pixels(fb.png), model.decode(m.map.mean[7][None])[0][:, :, 0])
    # one student's edits and undo never reach the other
    _frames(cl, s, [(a, {"op": "dims", "values": {"0": 2.5}, "commit": True})])
    assert a.model.latent.z[0] == np.float32(2.5) and np.array_equal(b.model.latent.z, m.map.mean[7])
    _frames(cl, s, [(b, {"op": "undo"})])
    assert a.model.latent.z[0] == np.float32(2.5)
    assert a.model is not b.model and a.model.latent is not b.model.latent


def test_a_click_decodes_that_place(room, opened):
    cl, s, _ = room
    m, _ = opened
    st = cl.join()
    x, y = (m.map.xy[10] + m.map.xy[20]) / 2
    (f,) = _frames(cl, s, [(st, {"op": "place", "x": float(x), "y": float(y)})])
    want = m.map.interpolator.latent_at((float(x), float(y)))
    assert np.allclose(st.model.latent.z, want)
    assert same(_pixels(f.png), s._model.decode(want[None])[0][:, :, 0])
    assert "map point" in f.caption


def test_random_is_the_windows_random(room, opened):
    cl, s, _ = room
    m, _ = opened
    st = cl.join()
    _frames(cl, s, [(st, {"op": "random", "t": 0.7})])
    assert np.allclose(st.model.latent.z, s._model.sample_prior(1, seed=1, temperature=0.7)[0])


def test_the_batcher_keeps_each_students_newest_only(opened):
    m, s = opened
    got = {}
    b = Batcher(s, s.post)
    # hold the worker so that every put waits together, then one batch decodes them
    import threading

    gate = threading.Event()
    s.submit("export", lambda ctx: gate.wait(10))
    b.put("a", m.map.mean[1], lambda r: got.setdefault("a1", r))
    b.put("a", m.map.mean[2], lambda r: got.setdefault("a2", r))
    b.put("b", m.map.mean[3], lambda r: got.setdefault("b", r))
    gate.set()
    assert s.wait_for(lambda: len(got) == 3, 30)
    assert got["a1"] is None  # replaced before it was decoded: answered "superseded"
    assert same(_pixels(got["a2"]), s._model.decode(m.map.mean[2][None])[0][:, :, 0])
    assert isinstance(got["b"], bytes) and b.batches == 1 and b.decoded == 2


BAD_OPS = [
    "select", ["op", "select"], {}, {"op": "launch"}, {"op": None}, {"op": "select"}, {"op": "select", "i": -1},
    {"op": "select", "i": 10**9}, {"op": "select", "i": 2.0}, {"op": "select", "i": True}, {"op": "select", "i": "3"},
    {"op": "place", "x": float("nan"), "y": 0}, {"op": "place", "x": 1e300, "y": 0}, {"op": "place", "x": 0},
    {"op": "place", "x": "0", "y": 0}, {"op": "dims"}, {"op": "dims", "values": []}, {"op": "dims", "values": {}},
    {"op": "dims", "values": {"99": 1}}, {"op": "dims", "values": {"-1": 1}}, {"op": "dims", "values": {"x": 1}},
    {"op": "dims", "values": {"0": 11}}, {"op": "dims", "values": {"0": float("inf")}},
    {"op": "dims", "values": {"0": 4e38}}, {"op": "dims", "values": {"0": None}},
    {"op": "dims", "values": {str(k): 0 for k in range(17)}}, {"op": "random"}, {"op": "random", "t": -1},
    {"op": "random", "t": 99}, {"op": "random", "t": [1]},
]


@pytest.mark.parametrize("op", BAD_OPS, ids=[repr(o)[:40] for o in BAD_OPS])
def test_bad_values_are_refused_and_change_nothing(room, op):
    cl, s, _ = room
    st = cl.join()
    before = (st.model.latent.z.copy(), st.model.selected, st.model.temperature, st.model.sample_seed,
              st.model.latent.history.position)
    with pytest.raises(UserError):
        apply_op(st, op)
    after = (st.model.latent.z, st.model.selected, st.model.temperature, st.model.sample_seed,
             st.model.latent.history.position)
    assert np.array_equal(before[0], after[0]) and before[1:] == after[1:]


def test_one_student_cannot_flood_the_class(room):
    cl, s, clock = room
    st, other = cl.join(), cl.join()
    n = 0
    with pytest.raises(RateLimited):
        for _ in range(1000):
            cl.change(st.token, {"op": "current"}, lambda r: None)
            n += 1
    assert 10 <= n <= 100
    cl.change(other.token, {"op": "current"}, lambda r: None)  # the others are not limited
    clock.t += 1.0  # a second later the student may go on
    cl.change(st.token, {"op": "current"}, lambda r: None)
    assert s.wait_for(lambda: cl.batcher.waiting() == 0 and s.quiet(), 30)


def test_rate_limit_refills():
    clock = Clock()
    r = RateLimit(rate=10, burst=5, clock=clock)
    assert [r.take() for _ in range(6)] == [True] * 5 + [False]
    clock.t += 0.1
    assert r.take() and not r.take()


def test_a_closed_tab_frees_its_state(room):
    cl, s, clock = room
    gone, kept, streaming = cl.join(), cl.join(), cl.join()
    streaming.streams = 1
    clock.t += 10
    cl.student(kept.token)  # it asked for something just now
    assert cl.reap(idle_s=5) == [gone.token]
    assert gone.token not in cl.students and kept.token in cl.students and streaming.token in cl.students
    with pytest.raises(KeyError):
        cl.change(gone.token, {"op": "current"}, lambda r: None)
    # its lane's ids are forgotten: the scheduler's table does not grow with every student ever seen
    assert not [k for k in s._latest if isinstance(k, tuple) and k[1] == gone.token]


def test_unknown_tokens_are_refused(room):
    cl, _, _ = room
    for t in (None, "", "x" * 10, 5, ["a"]):
        with pytest.raises(KeyError):
            cl.student(t)


def test_lanes_coalesce_per_student(opened):
    _, s = opened
    out = []
    gate = __import__("threading").Event()
    s.submit("export", lambda ctx: gate.wait(10))
    a, b = s.lane("a"), s.lane("b")
    a.submit("strip", lambda ctx: "a1", on_result=out.append)
    a.submit("strip", lambda ctx: "a2", on_result=out.append)
    b.submit("strip", lambda ctx: "b1", on_result=out.append)
    gate.set()
    assert s.wait_for(lambda: a.quiet() and b.quiet(), 30)
    assert sorted(out) == ["a2", "b1"]


def test_the_teachers_broadcast_reaches_every_student(room):
    cl, _, _ = room
    woke = []
    a, b = cl.join(), cl.join()
    a.wake = lambda: woke.append("a")
    assert cl.broadcast({"type": "step", "step": 3}) == 2
    assert a.model.lab_step == 3 and b.model.lab_step == 3 and woke == ["a"]
    assert list(b.inbox) == [{"type": "step", "step": 3}]
    late = cl.join()
    assert late.model.lab_step == 3  # who joins later is on the class's step


def test_students_who_leave_are_freed(room):
    """Nothing keeps a student who left: not their model's listeners (which hold their commands), not
    the scheduler's tables."""
    import gc
    import weakref

    cl, s, _ = room
    refs = []
    for _ in range(20):
        st = cl.join()
        cl.change(st.token, {"op": "select", "i": 4}, lambda r: None)
        st.commands.morph(1, 2)  # a job in its lane
        assert s.wait_for(lambda: st.commands.idle() and cl.batcher.waiting() == 0, 30)
        refs.append((weakref.ref(st.model), weakref.ref(st.commands), weakref.ref(st)))
        cl.leave(st.token)
        del st
    s.process_events()
    gc.collect()
    alive = [r for trio in refs for r in trio if r() is not None]
    assert not alive, [type(r()).__name__ for r in alive][:5]
