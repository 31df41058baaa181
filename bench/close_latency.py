"""Closing the window (Ctrl+Q) while a slow full decode runs: how long until the process has exited.

Runs the app ``--runs`` times (default 10) in a child process on a model whose decode blocks
(as a seconds-long full decode in native code does), waits until the decode has started,
presses Ctrl+Q on the window (a real key event, delivered through Qt's shortcut machinery),
and measures from that key press to the child's exit. Also checks the exit code is 0 and that
stderr is clean (no traceback, no "QThread: Destroyed while running").

Prints one JSON object as its last line: close_s_max, close_s_median, runs, exit_codes,
clean_stderr. Target: ≤ 2 s every time, code 0. ``--smoke``: one run; ``--save``: bench/results/
(bench/_results.py).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time

import _results

CHILD = textwrap.dedent("""
    import sys, threading, time
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from latent_explorer.gui import app as gui_app

    class SlowModel:  # a full decode that takes far longer than the user waits
        latent_shape = (4,); image_size = (8, 8); channels = 1; device = "cpu"; spec = name = "slow"
        metrics = {}
        def info(self): return {"kind": "SlowModel"}
        def decode(self, z, batch_size=256):
            print("decode started", flush=True)
            threading.Event().wait(60)
        def encode(self, x, batch_size=256): raise RuntimeError("no data")
        def prepare(self, x): return x
        def sample_prior(self, n, seed=None, temperature=1.0):
            import numpy as np; return np.zeros((n, 4), np.float32)

    real_launch = gui_app.launch
    def launch(options, on_shown=None):
        import dataclasses
        options = dataclasses.replace(options, model_object=SlowModel(), autosave=False)
        app, win = real_launch(options, on_shown)
        def press():
            if not win.worker.is_busy("preview"):
                QTimer.singleShot(20, press)
                return
            win.activateWindow()
            print("ctrl+q", time.time(), flush=True)
            QTest.keyClick(win, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
        QTimer.singleShot(300, press)
        return app, win
    gui_app.launch = launch

    class Args: model = "slow"; images = None; device = "cpu"; screenshot = None; precision = "fp32"; allow_pickle = False
    sys.exit(gui_app.run_gui(Args()))
""")
KEYS = ("close_s_max", "close_s_median", "runs", "measured", "exit_codes", "clean_stderr", "target_met")
ALARMING = ("Traceback", "QThread: Destroyed", "Fatal Python error", "Segmentation fault")


def one_run() -> tuple[float | None, int, str]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    p = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    pressed = None
    for line in p.stdout:
        if line.startswith("ctrl+q"):
            pressed = float(line.split()[1])
            break
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, -9, err
    exited = time.time()
    return (None if pressed is None else exited - pressed), p.returncode, err


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("close_latency", a)
    if a.smoke:
        a.runs = 1
        _results.offscreen()
    times, codes, clean = [], [], True
    for i in range(a.runs):
        s, code, err = one_run()
        codes.append(code)
        clean = clean and not any(m in err for m in ALARMING)
        if s is not None:
            times.append(s)
        print(f"run {i + 1}: {s if s is None else round(s, 3)} s, exit {code}", file=sys.stderr, flush=True)
    run.emit({"close_s_max": round(max(times), 3) if times else None,
              "close_s_median": round(statistics.median(times), 3) if times else None,
              "runs": a.runs, "measured": len(times), "exit_codes": sorted(set(codes)),
              "clean_stderr": clean, "target_met": bool(times) and len(times) == a.runs
              and max(times) <= 2.0 and set(codes) == {0} and clean})
    return 0


if __name__ == "__main__":
    sys.exit(main())
