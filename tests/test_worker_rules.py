"""The worker's rules (app/requests.py), enforced: queued kinds all run and report, model changes
never run nested inside a running job, and the rules table is the one the docs show."""
import threading

import numpy as np
import pytest

from gui_fixtures import FakeModel, qt_leak_guard  # noqa: F401  (fixture)

from latent_explorer.app.jobs import decode as decode_jobs
from latent_explorer.gui.worker import DecodeWorker

pytestmark = pytest.mark.usefixtures("qt_leak_guard")


@pytest.fixture
def worker(qtbot):
    w = DecodeWorker(torch_threads=None, model=FakeModel())
    w.start()
    yield w
    w.stop(3000)


def hold(w, kind="final"):
    """Keep the worker busy with a ``kind`` job until the returned event is set."""
    release, busy = threading.Event(), threading.Event()
    w.submit(kind, lambda ctx: (busy.set(), release.wait(10)))
    assert busy.wait(5)
    return release


def long_job(release, log, model_seen=None):
    """A map-like job: checkpoints until ``release``; logs how many checkpoints it passed."""
    def job(ctx):
        log.append("map-start")
        while not release.is_set():
            if model_seen is not None:
                model_seen.add(id(ctx.model))
            ctx.checkpoint()
            log.append("checkpoint")
            release.wait(0.002)
        log.append("map-end")
        return "map"
    return job


def test_two_exports_issued_back_to_back_both_run_and_report(qtbot, worker):
    release = hold(worker)
    written = []
    for name in ("a.png", "b.png", "c.png"):
        worker.submit("export", lambda ctx, p: p, name, on_result=written.append)
    release.set()
    qtbot.waitUntil(lambda: len(written) == 3, timeout=5000)
    assert written == ["a.png", "b.png", "c.png"]  # every one, in the order asked


def test_exports_while_the_map_encodes_run_after_it_and_before_a_later_map(qtbot, worker):
    release, log, written = threading.Event(), [], []
    worker.submit("map", long_job(release, log), on_result=lambda r: written.append(r))
    qtbot.waitUntil(lambda: "checkpoint" in log, timeout=5000)
    failures = []
    worker.submit("export", lambda ctx: "first.png", on_result=written.append)

    def broken(ctx):
        raise OSError("disk full")

    worker.submit("export", broken, on_error=lambda f: failures.append(f.message))
    worker.submit("export", lambda ctx: "third.png", on_result=written.append)
    release.set()
    qtbot.waitUntil(lambda: len(written) == 3 and bool(failures), timeout=5000)
    assert written == ["map", "first.png", "third.png"]  # not nested in the map; every one reports
    assert failures == ["OSError: disk full"]
    # waiting together, an export ranks above a map build
    release2 = hold(worker)
    order = []
    worker.submit("map", lambda ctx: order.append("map"))
    worker.submit("export", lambda ctx: order.append("export"))
    release2.set()
    qtbot.waitUntil(lambda: len(order) == 2, timeout=5000)
    assert order == ["export", "map"]


def test_a_model_change_never_runs_nested_inside_a_running_encode(qtbot, worker):
    release, log, seen = threading.Event(), [], set()
    other = FakeModel()
    worker.submit("map", long_job(release, log, seen), on_result=lambda r: log.append("map-result"))
    qtbot.waitUntil(lambda: "checkpoint" in log, timeout=5000)
    worker.submit("load", lambda ctx: (log.append("load"), ctx.set_model(other)), on_result=lambda r: log.append("loaded"))
    previews = []
    worker.submit("preview", decode_jobs.decode, np.zeros(4, np.float32), on_result=previews.append)
    n = log.count("checkpoint")
    qtbot.waitUntil(lambda: log.count("checkpoint") >= n + 20 and bool(previews), timeout=5000)  # checkpoints passed
    release.set()
    qtbot.waitUntil(lambda: "loaded" in log, timeout=5000)
    assert log.index("load") > log.index("map-end")  # waited for the encode
    assert len(seen) == 1  # the encode saw one model from start to end
    assert previews  # a read-only preview did run nested (the slider stays live)


def test_model_changes_queue_and_all_take_effect_in_order(qtbot, worker):
    release = hold(worker)
    applied = []
    for kind, value in (("precision", "bf16"), ("device", "cpu"), ("precision", "fp32"), ("pair", "taesd"),
                        ("load", "digits")):
        worker.submit(kind, lambda ctx, v=value, k=kind: applied.append((k, v)), on_result=lambda r: None)
    release.set()
    qtbot.waitUntil(lambda: len(applied) == 5, timeout=5000)
    assert applied == [("precision", "bf16"), ("device", "cpu"), ("precision", "fp32"), ("pair", "taesd"),
                       ("load", "digits")]


def test_a_model_change_waits_for_an_export_asked_for_before_it(qtbot, worker):
    release = hold(worker)
    order = []
    worker.submit("export", lambda ctx: order.append("export"))
    worker.submit("load", lambda ctx: order.append("load"))
    release.set()
    qtbot.waitUntil(lambda: len(order) == 2, timeout=5000)
    assert order == ["export", "load"]  # the export is made with the model it was asked of


def test_cancel_all_drops_coalescing_work_but_keeps_queued_exports(qtbot, worker):
    release = hold(worker)
    ran = []
    worker.submit("strip", lambda ctx: ran.append("strip"))
    worker.submit("export", lambda ctx: ran.append("export"), on_result=lambda r: ran.append("reported"))
    worker.cancel_all()
    release.set()
    qtbot.waitUntil(lambda: "reported" in ran, timeout=5000)
    assert ran == ["export", "reported"]


def test_every_kind_is_declared_and_the_docstring_table_names_them_all():
    import latent_explorer.app.requests as requests

    doc = requests.__doc__
    for kind, rule in requests.RULES.items():
        assert kind in doc, kind
        assert rule.policy in ("coalesce", "queue") and rule.nesting in ("nested", "normal", "exclusive")
    nested = {k for k, r in requests.RULES.items() if r.nesting == "nested"}
    # read-only decodes only ("class": the classroom students' previews, decoded in one batch)
    assert nested == {"preview", "sample", "recon", "final", "class"}
    assert {k for k, r in requests.RULES.items() if r.queued} == {"export", "attribute", *requests.MODEL_KINDS}
    assert requests.RULES["export"].rank < requests.RULES["map"].rank
    w = DecodeWorker(torch_threads=None)
    with pytest.raises(ValueError, match="unknown request kind"):
        w.submit("no-such-kind", lambda ctx: None)
