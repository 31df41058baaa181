"""Fixtures and helpers for the GUI tests (imported by tests/test_gui_*.py).

``qt_leak_guard`` fails a test that leaves a QThread running or a QTimer active (the napari
pattern: QThread.start and QTimer.start are wrapped to remember what was started). It also
points LATENT_EXPLORER_DATA (autosave, crash marker, trained models) at a temporary folder,
so no test touches the user's real data folder.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
import weakref

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QThread, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def _caller_frames(limit: int = 5) -> list[tuple[str, int, str, None]]:
    """Where the caller of the caller was called from: the ``limit`` innermost frames (outermost
    first) as (file, line, function) only. Cheap, unlike ``traceback.format_stack``, which reads
    each frame's source line: a QTimer is started tens of thousands of times in a slider soak,
    and the place is only formatted (``_format_frames``) for a leak."""
    frames = []
    f = sys._getframe(2)
    while f is not None and len(frames) < limit:
        frames.append((f.f_code.co_filename, f.f_lineno, f.f_code.co_name, None))
        f = f.f_back
    return frames[::-1]


def _format_frames(frames) -> str:
    return "".join(traceback.format_list(traceback.StackSummary.from_list(frames)))


@pytest.fixture
def qt_leak_guard(qtbot, monkeypatch, tmp_path_factory):
    # autosave, crash marker and trained models go to a fresh folder, never the user's own
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path_factory.mktemp("lx-data")))
    threads: "weakref.WeakKeyDictionary[QThread, str]" = weakref.WeakKeyDictionary()
    timers: "weakref.WeakKeyDictionary[QTimer, str]" = weakref.WeakKeyDictionary()
    thread_start, timer_start = QThread.start, QTimer.start

    def start_thread(self, *a):
        threads[self] = _caller_frames()
        return thread_start(self, *a)

    def start_timer(self, *a):
        timers[self] = _caller_frames()
        return timer_start(self, *a)

    monkeypatch.setattr(QThread, "start", start_thread)
    monkeypatch.setattr(QTimer, "start", start_timer)
    from latent_explorer.app.scheduler import abandoned_threads

    before = {t.ident for t in threading.enumerate()}
    yield
    QApplication.processEvents()
    leaks = []
    # the scheduler's worker is a plain thread (app/scheduler.py): a window must end it when it closes
    for t in threading.enumerate():
        if t.name == "DecodeWorker" and t.ident not in before and t not in abandoned_threads():
            t.join(5)
            if t.is_alive():
                leaks.append("a DecodeWorker thread still running after the test")
    for t, where in list(threads.items()):
        try:
            if t.isRunning():
                leaks.append(f"QThread still running, started at:\n{_format_frames(where)}")
        except RuntimeError:  # C++ object already deleted: fine
            pass
    for t, where in list(timers.items()):
        try:
            if t.isActive():
                leaks.append(f"QTimer still active, started at:\n{_format_frames(where)}")
        except RuntimeError:
            pass
    if leaks:
        pytest.fail("\n\n".join(leaks))


class FakeModel:
    """A deliberately slow stand-in for a LatentModel: decode(z) paints mean(z) into an 8×8 image.

    ``delay`` seconds per decode, or block on ``gate`` (a threading.Event) when given.
    ``fail_next`` makes the next decode raise. Every decoded batch is recorded in ``calls``.
    """

    latent_shape = (4,)
    image_size = (8, 8)
    channels = 1
    device = "cpu"
    spec = name = "fake"

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None):
        self.delay = delay
        self.gate = gate
        self.calls: list[np.ndarray] = []
        self.threads: set[int] = set()
        self.started = threading.Event()
        self.fail_next = False

    def decode(self, z, batch_size=256):
        z = np.asarray(z, np.float32).reshape(-1, 4)
        self.threads.add(threading.get_ident())
        self.started.set()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the fake decoder broke")
        if self.gate is not None:
            self.gate.wait(10)
        elif self.delay:
            time.sleep(self.delay)
        self.calls.append(z.copy())
        v = np.clip(np.round((z.mean(1) + 3) / 6 * 255), 0, 255).astype(np.uint8)
        return np.broadcast_to(v[:, None, None, None], (len(z), 8, 8, 1)).copy()


def send_mouse(widget, kind: QEvent.Type, pos: QPoint, button=Qt.MouseButton.LeftButton,
               buttons=Qt.MouseButton.LeftButton, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Deliver a real QMouseEvent to ``widget`` (how pyqtgraph's own tests drive the scene)."""
    local = QPointF(pos)
    ev = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, ev)


def click(widget, pos: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    send_mouse(widget, QEvent.Type.MouseButtonPress, pos, modifiers=modifiers)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, pos, buttons=Qt.MouseButton.NoButton, modifiers=modifiers)


def drag(widget, a: QPoint, b: QPoint, steps: int = 12, qtbot=None) -> None:
    send_mouse(widget, QEvent.Type.MouseButtonPress, a)
    for i in range(1, steps + 1):
        t = i / steps
        p = QPoint(round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t))
        send_mouse(widget, QEvent.Type.MouseMove, p, button=Qt.MouseButton.NoButton)
        if qtbot is not None:
            qtbot.wait(5)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, b, buttons=Qt.MouseButton.NoButton)


def view_to_viewport(map_widget, x: float, y: float) -> QPoint:
    """Map coordinates -> a pixel in the map's viewport."""
    scene = map_widget.vb.mapViewToScene(QPointF(x, y))
    p = map_widget.plot.mapFromScene(scene)
    return QPoint(int(p.x()), int(p.y()))


def viewport_to_view(map_widget, p: QPoint) -> tuple[float, float]:
    v = map_widget.vb.mapSceneToView(map_widget.plot.mapToScene(p))
    return v.x(), v.y()


def close_windows(wins: list) -> None:
    """Close the windows a test opened and let Qt delete them."""
    for w in wins:
        w.close()
        w.deleteLater()
    QApplication.processEvents()


def window_opener(qtbot, ready=lambda win: win.maps.data is not None):
    """A generator for fixtures: yields ``open_(**LaunchOptions)`` that launches a window on
    ``digits`` (CPU, no demo, a 300-image map) and waits until ``ready(win)``; closes them all after."""
    from latent_explorer.gui.app import launch
    from latent_explorer.gui.main_window import LaunchOptions

    wins = []

    def open_(**kw):
        kw.setdefault("model", "digits")
        kw.setdefault("device", "cpu")
        kw.setdefault("demo", False)
        kw.setdefault("map_limit", 300)
        _, win = launch(LaunchOptions(**kw))
        wins.append(win)
        qtbot.waitUntil(lambda: ready(win), timeout=60000)
        return win

    yield open_
    close_windows(wins)
