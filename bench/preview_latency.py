"""Start-up and slider-to-preview latency of the desktop explorer, through the real widgets.

Launches the window on the bundled ``digits`` model (as ``latent-explorer gui`` does). From the
window's first paint until the first preview is painted, a 1 ms heartbeat timer on the GUI
thread measures the longest the thread was blocked (``startup_max_stall_ms``). Once the window
is ready, it drags the most informative dimension's slider with real mouse events (press on
the handle, then one move every ``--interval-ms``, default 8 ms = 125 Hz, sweeping back and
forth). Each change's clock starts at its *scheduled* time (start + i × interval, not when the
timer fired) and stops when the preview canvas has *painted* an image that includes it.

Prints one JSON object as its last line: p50_ms, p95_ms, previews_per_s, max_stall_ms (while
dragging), startup_max_stall_ms (first paint to first preview), until_ready_max_stall_ms (first
paint until the whole window is built: map, sliders, strips, morph), window_shown_s and first_preview_s (from process start to
the paint), plus details. Targets on a 2-core CPU: p95 ≤ 8 ms, ≥ 60 previews/s, stall while
dragging ≤ 16 ms, start-up stall ≤ 100 ms, first preview ≤ 2 s. ``--smoke``: 40 changes, offscreen;
``--save``: bench/results/ (bench/_results.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

T0_PERF, T0_WALL = time.perf_counter(), time.time()

if "--smoke" in sys.argv or (not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import _results  # noqa: E402  (bench/ is sys.path[0])
from latent_explorer.gui.app import launch, process_start_time  # noqa: E402  (light: no Qt yet)

KEYS = ("p50_ms", "p95_ms", "previews_per_s", "max_stall_ms", "startup_max_stall_ms", "until_ready_max_stall_ms",
        "window_shown_s", "first_preview_s", "changes", "changes_measured", "model", "device")


class Heart:
    """A 1 ms timer on the GUI thread: the longest gap between its beats is the longest block."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.last, self.gaps = None, []
        self.timer = QTimer()
        self.timer.setTimerType(self.timer.timerType().PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self.beat)
        self.on_beat = None

    def beat(self):
        now = time.perf_counter()
        if self.last is not None:
            self.gaps.append((now - self.last) * 1000)
        self.last = now
        if self.on_beat is not None:
            self.on_beat()

    def start(self):
        self.last, self.gaps = time.perf_counter(), []
        self.timer.start()

    def stop(self):
        self.timer.stop()
        if self.last is not None:  # a block right before stopping counts too
            self.gaps.append((time.perf_counter() - self.last) * 1000)
        return max(self.gaps) if self.gaps else 0.0


def spin_until(cond, timeout):
    """Run the event loop (as app.exec() does: asleep until an event arrives) until ``cond()``."""
    from PySide6.QtCore import QEventLoop, QTimer

    if cond():
        return True
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(lambda: cond() and loop.quit())
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll.start()
    deadline.start(int(timeout * 1000))
    loop.exec()
    poll.stop()
    deadline.stop()
    return cond()


def slider_positions(inner, n: int, step_px: int = 1):
    """Mouse x positions (in the inner QSlider) sweeping the groove back and forth, one pixel a step."""
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    opt = QStyleOptionSlider()
    inner.initStyleOption(opt)
    groove = inner.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderGroove,
                                          inner)
    handle = inner.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle,
                                          inner)
    lo, hi = groove.left() + handle.width() // 2 + 2, groove.right() - handle.width() // 2 - 2
    x, d, xs = handle.center().x(), step_px, []
    for _ in range(n):
        if not lo <= x + d <= hi:
            d = -d
        x += d
        xs.append(x)
    return handle.center(), xs


def mouse(widget, kind, pos, buttons):
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    button = Qt.MouseButton.LeftButton if kind != QMouseEvent.Type.MouseMove else Qt.MouseButton.NoButton
    ev = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=1200)
    ap.add_argument("--interval-ms", type=float, default=8.0)
    ap.add_argument("--model", default="digits")
    ap.add_argument("--device", default="auto")
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("preview_latency", a)
    if a.smoke:
        a.changes = 40
        _results.offscreen()

    launch_offset = T0_WALL - process_start_time()  # interpreter start-up before this line ran

    def since_launch(perf_t: float) -> float:
        return perf_t - T0_PERF + launch_offset

    from PySide6.QtCore import QPoint, Qt, QTimer
    from PySide6.QtGui import QMouseEvent

    from latent_explorer.gui.main_window import LaunchOptions

    start = {"heart": None, "first_paint": None}

    def watch_canvas():  # once the preview canvas exists: note its first painted image
        v = start["win"].views.preview
        if v is not None and not start.get("hooked"):
            start["hooked"] = True
            v.view.painted.connect(lambda tag: start["first_paint"] or start.update(first_paint=time.perf_counter()))

    def on_shown(win):
        start["win"] = win
        start["heart"] = Heart()
        start["heart"].on_beat = watch_canvas
        start["heart"].start()

    app, win = launch(LaunchOptions(model=a.model, device=a.device, autosave=False), on_shown=on_shown)
    window_shown_s = since_launch(win.painted_at)
    spin_until(lambda: start["first_paint"] is not None, 120)
    startup_stall = max(start["heart"].gaps or [0.0])
    ready = spin_until(lambda: win.readiness.sent, 180)
    ready_stall = start["heart"].stop()
    if not ready or win.models.summary is None:
        print(json.dumps({"error": f"window not ready: {win.views.banner.text.text()}"}))
        return 1
    first_preview_s = since_launch(start["first_paint"])
    spin_until(lambda: False, 0.5)  # let follow-up work (traversal strips, recon) settle

    from PySide6.QtWidgets import QSlider

    inner = win.views.sliders.rows[win.views.sliders.order[0]].slider.findChild(QSlider)  # the QSlider itself
    press_at, xs = slider_positions(inner, a.changes)
    pending: list[tuple[int, float]] = []   # (request id, scheduled time of the change)
    latencies: list[float] = []
    painted = {"n": 0}

    def on_painted(rid: int):
        now = time.perf_counter()
        painted["n"] += 1
        while pending and pending[0][0] <= rid:
            latencies.append((now - pending.pop(0)[1]) * 1000)

    win.views.preview.view.painted.connect(on_painted)
    decode_ms: list[float] = []   # the model's own decode time on the worker, for comparison
    win.worker.finished.connect(lambda kind, rid, value, secs: decode_ms.append(secs * 1000)
                                if kind == "preview" else None)
    interval = a.interval_ms / 1000.0
    state = {"i": 0, "t0": None, "t_end": None, "skipped": 0}

    def drive():
        i = state["i"]
        if i >= len(xs):
            driver.stop()
            mouse(inner, QMouseEvent.Type.MouseButtonRelease, QPoint(xs[-1], press_at.y()), Qt.MouseButton.NoButton)
            state["t_end"] = time.perf_counter()
            return
        scheduled = state["t0"] + i * interval
        before = win.worker.latest_id("preview")
        mouse(inner, QMouseEvent.Type.MouseMove, QPoint(xs[i], press_at.y()), Qt.MouseButton.LeftButton)
        rid = win.worker.latest_id("preview")
        if rid != before:
            pending.append((rid, scheduled))
        else:
            state["skipped"] += 1  # the pixel mapped to the same value: no change
        state["i"] = i + 1

    driver = QTimer()
    driver.setTimerType(driver.timerType().PreciseTimer)
    driver.setInterval(max(1, int(round(a.interval_ms))))
    driver.timeout.connect(drive)
    heart = Heart()
    mouse(inner, QMouseEvent.Type.MouseButtonPress, press_at, Qt.MouseButton.LeftButton)
    heart.start()
    painted["n"] = 0
    state["t0"] = time.perf_counter() + interval
    driver.start()
    spin_until(lambda: state["t_end"] is not None and not pending, 120)
    drag_stall = heart.stop()
    driver.stop()
    duration = (state["t_end"] or time.perf_counter()) - state["t0"]
    n_painted = painted["n"]
    win.close()
    app.processEvents()

    import numpy as np

    lat = np.array(latencies) if latencies else np.zeros(1)
    result = {
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
        "previews_per_s": round(n_painted / duration, 1),
        "max_stall_ms": round(float(drag_stall), 1),
        "startup_max_stall_ms": round(float(startup_stall), 1),
        "until_ready_max_stall_ms": round(float(ready_stall), 1),
        "window_shown_s": round(window_shown_s, 3),
        "first_preview_s": round(first_preview_s, 3),
        "changes": len(xs) - state["skipped"],
        "changes_measured": int(len(latencies)),
        "drive_interval_ms": a.interval_ms,
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "decode_ms_p50": round(float(np.percentile(decode_ms, 50)), 2) if decode_ms else None,
        "model": a.model,
        "device": win.models.summary.device if win.models.summary else None,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    run.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
