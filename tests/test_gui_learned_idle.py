"""When the learned-preview controller asks for background decodes (``gui/controllers/learned.py``),
on a real DecodeWorker with stand-in jobs: only when nothing else waits *or runs* (a final decode
of seconds is not idleness), again after a model load that failed (the load cancelled the chunk
in flight), never again once a chunk reports that the model no longer takes the decodes, and not for a cached
preview that a refit on decodes already failed to beat."""
import threading

import numpy as np
import pytest
from gui_fixtures import qt_leak_guard  # noqa: F401  (fixture)
from PySide6.QtCore import QObject

from latent_explorer.app.jobs import learned_decodes as decodes
from latent_explorer.gui.controllers.learned import LearnedPreviewController
from latent_explorer.app.model import ExplorerModel
from latent_explorer.gui.worker import DecodeWorker

pytestmark = pytest.mark.usefixtures("qt_leak_guard")


class Ctx(QObject):
    """What the controller sees of a window: the application model, the worker, messages."""

    def __init__(self, worker):
        super().__init__()
        self.worker, self.model, self.said = worker, ExplorerModel(), []

    def message(self, text, ms=0):
        self.said.append(text)


def fire(ctl):
    """The idle wait ends (a single-shot timer's timeout)."""
    ctl.idle.stop()
    ctl._decode_next()


@pytest.fixture
def setup(qtbot, monkeypatch):
    """A controller decoding in the background (as after the image fit), the chunks stand-ins that
    report what they were asked; its idle timer left to the test (``_decode_next`` is its timeout)."""
    chunks, gate = [], {}

    def chunk(ctx, targets, latents, **_):
        chunks.append(threading.get_ident())
        if "block" in gate:  # a chunk that runs until it is cancelled (or a request waits)
            gate.pop("block").set()
            while not ctx.cancelled and not ctx.waiting():
                threading.Event().wait(0.002)
            ctx.checkpoint()  # cancelled: raises
        return decodes.DecodeReport(1, 40, False, yielded=True)

    monkeypatch.setattr(decodes, "decode_chunk", chunk)
    worker = DecodeWorker(torch_threads=None)
    worker.start()
    ctx = Ctx(worker)
    ctl = LearnedPreviewController(ctx)
    ctl.idle.setInterval(10 ** 6)  # the test fires it
    ctl._active = True
    ctl._pairs = (np.zeros((40, 4, 8, 8), np.float32), np.zeros((40, 16, 16, 3), np.uint8))
    ctl._start_decodes()
    yield ctl, worker, chunks, gate
    ctl.stop()
    worker.stop(5000)


def test_worker_quiet_counts_running_requests(qtbot, setup):
    _, worker, _, _ = setup
    release, busy = threading.Event(), threading.Event()
    assert worker.quiet()
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.submit("final", lambda ctx: (busy.set(), release.wait(10)))
        assert busy.wait(5)
        assert worker.pending_count() == 0 and not worker.quiet() and worker.quiet(ignore=("final",))
        release.set()
    assert worker.quiet()


def test_no_background_decode_while_a_final_decode_runs(qtbot, setup):
    ctl, worker, chunks, _ = setup
    assert ctl.decoding and ctl._pairs[1] is None  # the map's images are let go: decodes replace them
    release, busy = threading.Event(), threading.Event()
    finals = []
    worker.submit("final", lambda ctx: (busy.set(), release.wait(10)), on_result=finals.append)
    assert busy.wait(5)
    fire(ctl)  # the idle wait ends while the final decode runs (nothing pending)
    assert not worker.is_busy(decodes.KIND) and ctl.idle.isActive()  # not idle: wait again
    release.set()
    qtbot.waitUntil(lambda: len(finals) == 1, timeout=10000)
    assert ctl.idle.isActive() and not chunks  # its end restarted the wait: still no decode
    with qtbot.waitSignal(ctl.decoded, timeout=10000):
        fire(ctl)  # quiet now
    assert len(chunks) == 1


def test_a_failed_load_resumes_the_decodes(qtbot, setup):
    ctl, worker, chunks, gate = setup
    started = gate["block"] = threading.Event()
    fire(ctl)
    assert started.wait(5)
    worker.cancel_all()  # what ModelController._begin does; the chunk reports nothing
    qtbot.waitUntil(lambda: worker.quiet(), timeout=10000)
    assert ctl.decoding and not ctl.idle.isActive() and ctl.decode_chunks == 0  # stuck, unless…
    ctl.ctx.model.load_failed.emit("/no/such/model: no such file")
    assert ctl.idle.isActive()  # the weights are unchanged: wait for the next quiet moment
    with qtbot.waitSignal(ctl.decoded, timeout=10000):
        fire(ctl)
    assert len(chunks) == 2 and ctl.decode_chunks == 1


def test_a_stopped_chunk_ends_the_decodes(qtbot, setup, monkeypatch):
    ctl, worker, _, _ = setup
    monkeypatch.setattr(decodes, "decode_chunk", lambda ctx, *a, **k: decodes.DecodeReport(3, 40, False, stopped=True))
    fire(ctl)
    qtbot.waitUntil(lambda: not ctl.decoding, timeout=10000)
    assert not ctl.idle.isActive() and worker.quiet() and ctl.decode_chunks == 0


def test_a_cached_preview_already_checked_against_decodes_is_not_decoded_for_again(qtbot, setup):
    from latent_explorer.app.jobs.learned import FitReport

    ctl = setup[0]
    ctl.stop()
    ctl._active = True
    ctl._pairs = (np.zeros((40, 4, 8, 8), np.float32), np.zeros((40, 16, 16, 3), np.uint8))
    ctl._finish(FitReport(True, 1.0, True, 30.0, 25.0, cached=True, targets="images", decodes_checked=True))
    assert not ctl.decoding and not ctl.idle.isActive()
    ctl._finish(FitReport(True, 1.0, True, 30.0, 25.0, cached=True, targets="images"))  # not tried yet
    assert ctl.decoding
