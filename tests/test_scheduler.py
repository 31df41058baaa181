"""app/scheduler.py headless: the worker's rules (app/requests.py) over a plain thread, no Qt.

Results are delivered through the scheduler's default inbox, drained by the test's thread with
``process_events`` / ``wait_for``. Nothing here is proved by the clock: the jobs are stand-ins that
hand-shake with the test through ``threading.Event``s, so what ran before what is certain.
"""
import queue
import subprocess
import sys
import threading

import pytest

from latent_explorer.app.scheduler import Failure, Scheduler, abandoned_threads
from latent_explorer.core.errors import Cancelled, UserError

T = 5.0  # seconds: a hang guard only, never what a test proves


@pytest.fixture
def sched():
    s = Scheduler(torch_threads=None, model="the model")
    s.start()
    yield s
    s.stop(3000)


def hold(s, kind="final"):
    """Keep the scheduler busy with a ``kind`` job until the returned event is set."""
    release, busy = threading.Event(), threading.Event()
    s.submit(kind, lambda ctx: (busy.set(), release.wait(10)))
    assert busy.wait(T)
    return release


def drain(s):
    """Deliver everything submitted before this call: a queued sentinel comes back last."""
    back = []
    s.submit("export", lambda ctx: "sentinel", on_result=back.append)
    assert s.wait_for(lambda: back == ["sentinel"], T)


def events(s):
    seen = {"finished": [], "failed": [], "progress": [], "dropped": []}
    s.finished.connect(lambda kind, rid, value, secs: seen["finished"].append((kind, rid, value)))
    s.failed.connect(lambda f: seen["failed"].append(f))
    s.progress.connect(lambda *a: seen["progress"].append(a))
    s.dropped.connect(lambda kind, rid: seen["dropped"].append((kind, rid)))
    return seen


def test_importing_and_running_the_scheduler_pulls_in_no_qt():
    code = (
        "import sys\n"
        "from latent_explorer.app.scheduler import Scheduler\n"
        "s = Scheduler(torch_threads=None)\n"
        "s.start()\n"
        "out = []\n"
        "s.submit('preview', lambda ctx, v: v * 2, 21, on_result=out.append)\n"
        "assert s.wait_for(lambda: out == [42], 10), out\n"
        "assert s.stop(3000)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'qtpy', 'pyqtgraph', 'superqt'))\n"
        "print('QT:', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "QT: []"


def test_coalescing_runs_only_the_newest_pending_and_drops_a_superseded_running_one(sched):
    seen = events(sched)
    release = hold(sched, "map")
    ran, shown = [], []
    ids = [sched.submit("preview", lambda ctx, v: (ran.append(v), v)[1], v, on_result=shown.append)
           for v in (1, 2, 3)]
    release.set()
    drain(sched)
    assert ran == [3] and shown == [3]  # the older pending two never ran
    assert sched.latest_id("preview") == ids[-1]
    # a running preview overtaken by a newer one: it finishes, its result is dropped as stale
    started, gate = threading.Event(), threading.Event()
    first = sched.submit("preview", lambda ctx: (started.set(), gate.wait(10), "old")[2], on_result=shown.append)
    assert started.wait(T)
    second = sched.submit("preview", lambda ctx: "new", on_result=shown.append)
    gate.set()
    drain(sched)
    assert shown == [3, "new"]
    assert ("preview", first) in seen["dropped"]
    assert ("preview", second, "new") in seen["finished"]


def test_a_request_cancelled_while_running_is_dropped_and_results_reach_the_draining_thread(sched):
    seen = events(sched)
    started, gate = threading.Event(), threading.Event()
    shown, threads = [], []

    def show(v):
        shown.append(v)
        threads.append(threading.get_ident())

    rid = sched.submit("strip", lambda ctx: (started.set(), gate.wait(10), "strip")[2], on_result=show)
    assert started.wait(T)
    sched.cancel("strip")  # it does not look at a checkpoint: it ends and sends its result
    gate.set()
    drain(sched)
    assert shown == [] and ("strip", rid) in seen["dropped"]
    # a fresh one is delivered, on the thread that drains the inbox, not the worker's
    sched.submit("strip", lambda ctx: "again", on_result=show)
    drain(sched)
    assert shown == ["again"] and threads == [threading.get_ident()]
    assert sched.worker_thread_ident not in (None, threading.get_ident())
    assert sched.gui_thread == threading.get_ident()


def test_queued_kinds_all_run_in_order_and_report(sched):
    seen = events(sched)
    release = hold(sched)
    written, failures = [], []
    for name in ("a.png", "b.png"):
        sched.submit("export", lambda ctx, p: p, name, on_result=written.append)

    def broken(ctx):
        raise OSError("disk full")

    sched.submit("export", broken, on_error=lambda f: failures.append(f.message))
    sched.submit("export", lambda ctx: "c.png", on_result=written.append)
    applied = []
    for kind, value in (("precision", "bf16"), ("device", "cpu"), ("precision", "fp32")):
        sched.submit(kind, lambda ctx, v=value, k=kind: applied.append((k, v)) or v)
    release.set()
    assert sched.wait_for(lambda: len(written) == 3 and len(applied) == 3 and failures, T)
    assert written == ["a.png", "b.png", "c.png"]
    assert failures == ["OSError: disk full"]
    assert applied == [("precision", "bf16"), ("device", "cpu"), ("precision", "fp32")]
    drain(sched)
    assert [v for k, _, v in seen["finished"] if k == "precision"] == ["bf16", "fp32"]  # every one reports


def test_nested_previews_run_inside_a_long_jobs_checkpoint_while_normal_kinds_wait(sched):
    log, busy, go, checked, release = [], threading.Event(), threading.Event(), threading.Event(), threading.Event()

    def map_job(ctx):
        busy.set()
        go.wait(10)
        ctx.checkpoint()  # serves the waiting preview, not the strip
        log.append("checkpointed")
        checked.set()
        release.wait(10)
        log.append("map-end")
        return "map"

    results = []
    sched.submit("map", map_job, on_result=results.append)
    assert busy.wait(T)
    sched.submit("strip", lambda ctx: log.append("strip") or "strip", on_result=results.append)
    sched.submit("preview", lambda ctx: log.append("preview") or "preview", on_result=results.append)
    go.set()
    assert checked.wait(T)
    assert log == ["preview", "checkpointed"]  # the preview ran nested; the strip still waits
    assert sched.wait_for(lambda: results == ["preview"], T)  # and its result is already shown
    assert sched.is_busy("strip") and sched.pending_count("strip") == 1 and sched.pending_count() == 1
    release.set()
    assert sched.wait_for(lambda: len(results) == 3, T)
    assert log == ["preview", "checkpointed", "map-end", "strip"]
    assert results == ["preview", "map", "strip"]
    assert sched.wait_for(sched.quiet, T)


def test_an_exclusive_kind_waits_for_everything_before_it_and_runs_nothing_nested(sched):
    release = hold(sched)
    order = []
    sched.submit("export", lambda ctx: order.append("export"))
    sched.submit("map", lambda ctx: order.append("map"))
    sched.submit("load", lambda ctx: order.append("load"))
    sched.submit("strip", lambda ctx: order.append("strip"))
    release.set()
    drain(sched)
    # the export and the map were asked for first, so they run first, whatever their rank;
    # the strip, asked for later, waits for the model change
    assert order == ["export", "map", "load", "strip"]

    log, busy, go, other = [], threading.Event(), threading.Event(), object()

    def load(ctx):
        busy.set()
        go.wait(10)
        ctx.checkpoint()  # an exclusive job serves nothing, even a read-only preview
        log.append("load-checkpointed")
        ctx.set_model(other)
        return "loaded"

    results = []
    sched.submit("load", load, on_result=results.append)
    assert busy.wait(T)
    sched.submit("preview", lambda ctx: log.append(("preview", ctx.model is other)) or "preview",
                 on_result=results.append)
    go.set()
    assert sched.wait_for(lambda: len(results) == 2, T)
    assert log == ["load-checkpointed", ("preview", True)]  # after the load, with its model
    assert results == ["loaded", "preview"]


def test_a_model_change_never_runs_nested_inside_a_running_job(sched):
    log, busy, go, checked, release = [], threading.Event(), threading.Event(), threading.Event(), threading.Event()

    def map_job(ctx):
        busy.set()
        go.wait(10)
        ctx.checkpoint()
        checked.set()
        release.wait(10)
        log.append("map-end")

    sched.submit("map", map_job)
    assert busy.wait(T)
    sched.submit("load", lambda ctx: log.append("load"))
    go.set()
    assert checked.wait(T)
    assert log == [] and sched.pending_count("load") == 1
    release.set()
    drain(sched)
    assert log == ["map-end", "load"]


def test_waiting_is_true_only_when_a_higher_rank_waits(sched):
    seen, go1, go2, go3, busy, done = [], threading.Event(), threading.Event(), threading.Event(), \
        threading.Event(), threading.Event()
    looked = threading.Event()

    def learn(ctx):  # learn-preview, rank 14
        seen.append(ctx.waiting())  # nothing else asked for
        busy.set()
        go1.wait(10)
        seen.append(ctx.waiting())  # a learn-decode (rank 15) waits: it does not outrank this
        looked.set()
        go2.wait(10)
        seen.append(ctx.waiting())  # a preview (rank 1) waits
        done.set()
        go3.wait(10)

    sched.submit("learn-preview", learn)
    assert busy.wait(T)
    sched.submit("learn-decode", lambda ctx: None)
    go1.set()
    assert looked.wait(T)
    sched.submit("preview", lambda ctx: None)
    go2.set()
    assert done.wait(T)
    go3.set()
    assert seen == [False, False, True]


def test_progress_reaches_the_front_end_only_for_the_newest_request(sched):
    seen = events(sched)
    sent, go = threading.Event(), threading.Event()

    def first(ctx):
        ctx.progress(1, 10, "first")
        sent.set()
        go.wait(10)
        ctx.progress(2, 10, "first, late")
        ctx.checkpoint()  # superseded: Cancelled
        return "first"

    def second(ctx):
        ctx.progress(5, 10, "second")
        return "second"

    a = sched.submit("map", first)
    assert sent.wait(T)
    b = sched.submit("map", second)
    go.set()
    assert sched.wait_for(lambda: seen["finished"], T)
    drain(sched)
    assert [p for p in seen["progress"]] == [("map", b, 5, 10, "second")]
    assert [(k, r) for k, r, _ in seen["finished"]] == [("map", b), ("export", sched.latest_id("export"))]
    assert all(r != a for _, r, _ in seen["finished"])


def test_failures_reach_on_error_and_the_failed_event_and_the_scheduler_lives_on(sched, capsys):
    seen = events(sched)
    mine = []

    def user_mistake(ctx):
        raise UserError("no such file: x.png")

    def bug(ctx):
        raise ValueError("boom\nsecond line")

    sched.submit("export", user_mistake, on_error=mine.append)
    sched.submit("export", bug)
    sched.submit("strip", lambda ctx: ctx.model)  # the model the scheduler was made with
    assert sched.wait_for(lambda: len(seen["failed"]) == 2 and seen["finished"], T)
    user, broken = seen["failed"]
    assert isinstance(user, Failure) and mine == [user]
    assert user.user_error and user.handled and user.message == "no such file: x.png"
    assert isinstance(user.error, UserError) and user.kind == "export"
    assert not broken.user_error and not broken.handled and broken.message == "ValueError: boom"
    assert "Traceback" in broken.detail and isinstance(broken.error, ValueError)
    assert seen["finished"] == [("strip", sched.latest_id("strip"), "the model")]
    assert "export request failed" in capsys.readouterr().err
    # no model: a UserError, not a crash
    none = Scheduler(torch_threads=None)
    none.start()
    try:
        errs = []
        none.submit("preview", lambda ctx: ctx.model, on_error=errs.append)
        assert none.wait_for(lambda: errs, T)
        assert errs[0].message == "no model is loaded"
    finally:
        assert none.stop(3000)


def test_a_cancelled_job_reports_nothing(sched):
    seen = events(sched)
    started = threading.Event()

    def long(ctx):
        started.set()
        while True:
            ctx.checkpoint()
            if ctx.cancelled:  # pragma: no cover - checkpoint raises first
                raise Cancelled()

    sched.submit("map", long)
    assert started.wait(T)
    sched.cancel("map")
    assert sched.wait_for(lambda: not sched.is_busy("map"), T)
    drain(sched)
    assert [k for k, _, _ in seen["finished"]] == ["export"] and seen["failed"] == [] and seen["dropped"] == []


def test_stop_ends_the_thread_and_what_it_sent_before_is_not_delivered():
    s = Scheduler(torch_threads=None)
    assert not s.is_running() and s.stop()  # never started: nothing to end
    s = Scheduler(torch_threads=None)
    seen = events(s)
    s.start()
    assert s.is_running() and s._thread.name == "DecodeWorker" and s._thread.daemon
    ran, started = threading.Event(), threading.Event()
    shown = []
    done = s.submit("export", lambda ctx: (ran.set(), "x.png")[1], on_result=shown.append)
    assert ran.wait(T)

    def running(ctx):  # like a decode between two checkpoints: ends once asked to
        started.set()
        while not ctx.cancelled:
            started.wait(0.01)
        return "late"

    s.submit("preview", running, on_result=shown.append)
    assert started.wait(T)  # so the export's result is already sent, not yet delivered
    assert s.stop(10_000)
    assert not s.is_running()
    assert s.submit("preview", lambda ctx: "after") == -1  # a stopped scheduler takes nothing
    s.start()  # and does not start again
    assert not s.is_running()
    s.process_events()
    assert shown == [] and seen["finished"] == []
    assert seen["dropped"] == [("export", done)]  # sent before stop, delivered after: dropped


def test_a_thread_stuck_in_native_code_is_abandoned_not_waited_for():
    s = Scheduler(torch_threads=None)
    s.start()
    started, gate = threading.Event(), threading.Event()
    s.submit("preview", lambda ctx: (started.set(), gate.wait(30)))
    assert started.wait(T)
    try:
        assert not s.stop(50)  # it cannot end: the gate is closed
        assert s._thread in abandoned_threads() and s.is_running()
    finally:
        gate.set()
    s._thread.join(T)
    assert not s.is_running() and s._thread not in abandoned_threads()


def test_a_front_end_delivers_through_its_own_deliver():
    posted = queue.Queue()
    s = Scheduler(deliver=posted.put, torch_threads=None)
    seen = events(s)
    s.start()
    try:
        s.submit("export", lambda ctx: "x.png")
        fn = posted.get(timeout=T)
        assert seen["finished"] == []  # nothing is delivered until the front-end runs it
        fn()
        assert [(k, v) for k, _, v in seen["finished"]] == [("export", "x.png")]
        # freshness is checked when the front-end runs the delivery, not when it was sent
        rid = s.submit("strip", lambda ctx: "strip")
        fn = posted.get(timeout=T)
        s.cancel("strip")
        fn()
        assert seen["dropped"] == [("strip", rid)] and len(seen["finished"]) == 1
        with pytest.raises(RuntimeError):
            s.process_events()
    finally:
        assert s.stop(3000)
