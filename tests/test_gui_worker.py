"""DecodeWorker: newest-wins, GUI-thread delivery, failures, priorities, cancellation, shutdown."""
import threading
import time

import numpy as np
import pytest

from gui_fixtures import FakeModel, qt_leak_guard  # noqa: F401  (fixture)

from latent_explorer.core.errors import UserError
from latent_explorer.gui import tasks
from latent_explorer.gui.worker import DecodeWorker, abandoned_threads

pytestmark = pytest.mark.usefixtures("qt_leak_guard")


@pytest.fixture
def make_worker(qtbot):
    made = []

    def make(model):
        w = DecodeWorker(torch_threads=None, model=model)
        w.start()
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop(3000)


def _z(v):
    return np.full(4, v, np.float32)


def test_newest_wins_only_the_last_of_three_runs_and_is_shown(qtbot, make_worker):
    gate = threading.Event()
    model = FakeModel(delay=0.2)
    w = make_worker(model)
    busy = threading.Event()
    # keep the thread busy so the three previews queue up behind it
    w.submit("map", lambda ctx: (busy.set(), gate.wait(10)))
    assert busy.wait(5)
    shown = []
    ids = [w.submit("preview", tasks.decode, _z(v), on_result=lambda d: shown.append(float(d.z[0])))
           for v in (-1.0, 0.5, 2.0)]
    gate.set()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    qtbot.wait(300)
    assert shown == [2.0]
    assert len(model.calls) == 1 and np.allclose(model.calls[0], _z(2.0))
    assert w.latest_id("preview") == ids[-1]


def test_a_running_request_superseded_by_a_newer_one_is_dropped(qtbot, make_worker):
    model = FakeModel(delay=0.3)
    w = make_worker(model)
    shown, dropped = [], []
    w.dropped.connect(lambda kind, rid: dropped.append(rid))
    first = w.submit("preview", tasks.decode, _z(-2.0), on_result=lambda d: shown.append(float(d.z[0])))
    assert model.started.wait(5)
    w.submit("preview", tasks.decode, _z(1.0), on_result=lambda d: shown.append(float(d.z[0])))
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    qtbot.waitUntil(lambda: first in dropped, timeout=5000)
    assert shown == [1.0]
    assert len(model.calls) == 2  # the first had started; its result is stale


def test_results_arrive_on_the_gui_thread(qtbot, make_worker):
    model = FakeModel()
    w = make_worker(model)
    seen = []
    with qtbot.waitSignal(w.finished, timeout=5000) as sig:
        w.submit("preview", tasks.decode, _z(0.0), on_result=lambda d: seen.append(threading.get_ident()))
    assert seen == [threading.get_ident()]
    assert sig.args[0] == "preview"
    assert model.threads and threading.get_ident() not in model.threads


def test_an_exception_becomes_a_failure_and_the_worker_lives_on(qtbot, make_worker):
    model = FakeModel()
    model.fail_next = True
    w = make_worker(model)
    errors = []
    with qtbot.waitSignal(w.failed, timeout=5000) as sig:
        w.submit("preview", tasks.decode, _z(0.0), on_error=errors.append)
    assert "the fake decoder broke" in sig.args[0].message
    assert errors and errors[0].kind == "preview"
    with qtbot.waitSignal(w.finished, timeout=5000) as sig:
        w.submit("preview", tasks.decode, _z(1.0))
    assert sig.args[2].image.shape == (8, 8, 1)


def test_a_user_error_is_reported_as_is(qtbot, make_worker):
    w = make_worker(FakeModel())

    def bad(ctx):
        raise UserError("photo.png: not an image")

    with qtbot.waitSignal(w.failed, timeout=5000) as sig:
        w.submit("map", bad)
    assert sig.args[0].message == "photo.png: not an image" and sig.args[0].user_error


def test_a_long_job_serves_previews_at_its_checkpoints(qtbot, make_worker):
    w = make_worker(FakeModel())
    order = []

    def long_job(ctx):
        for _ in range(100):
            time.sleep(0.01)
            ctx.checkpoint()
        order.append("map")
        return "done"

    w.submit("map", long_job)
    qtbot.wait(100)
    w.submit("preview", tasks.decode, _z(0.0), on_result=lambda d: order.append("preview"))
    qtbot.waitUntil(lambda: len(order) == 2, timeout=5000)
    assert order == ["preview", "map"]


def test_cancel_stops_a_long_job_and_drops_it(qtbot, make_worker):
    w = make_worker(FakeModel())
    ran, results, progress = [], [], []
    w.progress.connect(lambda *a: progress.append(a))

    def long_job(ctx):
        for i in range(500):
            time.sleep(0.01)
            ctx.progress(i, 500, "working")
            ctx.checkpoint()
            ran.append(i)
        return "finished"

    w.submit("map", long_job, on_result=results.append)
    qtbot.waitUntil(lambda: len(ran) > 5, timeout=5000)
    w.cancel("map")
    n = len(ran)
    qtbot.wait(200)
    assert len(ran) <= n + 1 and results == []
    assert progress and progress[0][0] == "map"


def test_stop_during_a_slow_decode_ends_the_thread(qtbot, make_worker):
    model = FakeModel(delay=0.8)
    w = make_worker(model)
    w.submit("preview", tasks.decode, _z(0.0))
    assert model.started.wait(5)
    t0 = time.perf_counter()
    assert w.stop(1500)
    assert time.perf_counter() - t0 < 1.5
    assert not w.is_running()


def test_a_thread_stuck_in_native_code_is_kept_alive_not_destroyed(qtbot, make_worker):
    gate = threading.Event()
    model = FakeModel(gate=gate)
    w = make_worker(model)
    w.submit("preview", tasks.decode, _z(0.0))
    assert model.started.wait(5)
    assert not w.stop(100)
    assert w._thread in abandoned_threads()  # app.run_gui ends the process with os._exit then
    gate.set()
    assert w._thread.wait(5000)
    assert w._thread not in abandoned_threads()


def test_stale_results_after_stop_are_not_delivered(qtbot, make_worker):
    model = FakeModel(delay=0.2)
    w = make_worker(model)
    shown = []
    w.submit("preview", tasks.decode, _z(0.0), on_result=shown.append)
    assert model.started.wait(5)
    w.stop(2000)
    qtbot.wait(100)
    assert shown == []
    assert w.submit("preview", tasks.decode, _z(0.0)) == -1
