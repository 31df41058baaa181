"""DecodeWorker: newest-wins, GUI-thread delivery, failures, priorities, cancellation, shutdown."""
import threading
import time

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from gui_fixtures import FakeModel, qt_leak_guard  # noqa: F401  (fixture)

from latent_explorer.core.errors import Cancelled, UserError
from latent_explorer.app.jobs import decode as tasks
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


def after_everything_before(qtbot, w):
    """Wait until the worker has delivered (or dropped) everything submitted before this call.

    The worker is one thread and delivers on the GUI thread in the order it finished, so once a
    sentinel submitted now comes back, every earlier request has been delivered or dropped. The
    sentinel is an "export": a queued kind, so it cancels nothing, and it runs after the previews."""
    back = []
    w.submit("export", lambda ctx: "sentinel", on_result=back.append)
    qtbot.waitUntil(lambda: back == ["sentinel"], timeout=5000)


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
    after_everything_before(qtbot, w)
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
    model = FakeModel()
    w = make_worker(model)
    started, order = threading.Event(), []

    def long_job(ctx):
        started.set()
        for checkpoints in range(1, 1001):  # ends once a preview was decoded inside it (10 s hang guard)
            time.sleep(0.01)
            ctx.checkpoint()
            if model.calls:
                return checkpoints
        return None

    w.submit("map", long_job, on_result=lambda n: order.append(("map", n)))
    assert started.wait(5)  # the long job is running
    w.submit("preview", tasks.decode, _z(0.0), on_result=lambda d: order.append("preview"))
    qtbot.waitUntil(lambda: len(order) == 2, timeout=15000)
    # the preview was decoded while the long job ran (at one of its checkpoints), and shown first
    assert order[0] == "preview" and order[1][0] == "map" and order[1][1] is not None


def test_cancel_stops_a_long_job_and_drops_it(qtbot, make_worker):
    w = make_worker(FakeModel())
    ran, results, progress = [], [], []
    w.progress.connect(lambda *a: progress.append(a))

    stopped = []

    def long_job(ctx):
        try:
            for i in range(500):
                time.sleep(0.01)
                ctx.progress(i, 500, "working")
                ctx.checkpoint()
                ran.append(i)
        except Cancelled:
            stopped.append(len(ran))
            raise
        return "finished"

    w.submit("map", long_job, on_result=results.append)
    qtbot.waitUntil(lambda: len(ran) > 5, timeout=5000)
    w.cancel("map")
    n = len(ran)
    qtbot.waitUntil(lambda: not w.is_busy("map"), timeout=5000)  # the job has ended
    after_everything_before(qtbot, w)
    # it ended at its next checkpoint (at most the step under way when cancelled finished), and
    # its result never came
    assert stopped and stopped[0] <= n + 1 < 500 and results == []
    assert progress and progress[0][0] == "map"


def test_stop_during_a_slow_decode_ends_the_thread(qtbot, make_worker):
    model = FakeModel(delay=0.8)
    w = make_worker(model)
    w.submit("preview", tasks.decode, _z(0.0))
    assert model.started.wait(5)
    assert w.stop(10_000)  # True: the thread ended (the timeout is only a hang guard)
    assert not w.is_running()
    assert len(model.calls) == 1  # it waited for the decode under way, then ended


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
    assert w.stop(10_000) and len(model.calls) == 1  # the thread ended after finishing that decode
    # the thread is gone, so whatever it sent is already queued for the GUI thread: deliver it all
    QApplication.sendPostedEvents()
    QApplication.processEvents()
    assert shown == []
    assert w.submit("preview", tasks.decode, _z(0.0)) == -1
