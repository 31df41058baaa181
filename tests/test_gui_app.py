"""The GUI as a program: --screenshot writes a real PNG; closing while a decode blocks exits cleanly."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
from PIL import Image

ALARMING = ("Traceback", "QThread: Destroyed", "Fatal", "Segmentation", "Aborted", "QObject::")


def _env():
    import tempfile

    # the app autosaves to its data folder: a throwaway one, never the user's own
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LATENT_EXPLORER_DATA=tempfile.mkdtemp(prefix="lx-data-"))
    return env


def test_process_start_time_is_when_the_process_started():
    # the launch-time figures of bench/preview_latency.py count from this moment
    before = time.time()
    out = subprocess.run([sys.executable, "-c", "import time; t = time.time(); "
                          "from latent_explorer.gui.app import process_start_time as p; print(t, p())"],
                         capture_output=True, text=True, check=True).stdout.split()
    child_now, started = float(out[0]), float(out[1])
    assert before - 0.05 <= started <= child_now + 0.02


def test_screenshot_flag_writes_a_nontrivial_png(tmp_path):
    out = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "latent_explorer.cli", "gui", "--model", "digits-2d", "--device", "cpu",
                        "--screenshot", str(out)], capture_output=True, text=True, timeout=180, env=_env())
    assert r.returncode == 0, r.stderr
    assert not any(s in r.stderr for s in ALARMING), r.stderr
    im = np.asarray(Image.open(out).convert("RGB"))
    assert im.shape[0] >= 600 and im.shape[1] >= 1000
    colours = np.unique(im.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 200  # a map, digits, sliders: not a blank or single-colour window
    assert im.std() > 20


def test_screenshot_to_a_missing_folder_is_a_usage_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "latent_explorer.cli", "gui", "--screenshot",
                        str(tmp_path / "nope" / "shot.png")], capture_output=True, text=True, timeout=60, env=_env())
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_main_py_and_the_gui_script_take_the_gui_options(tmp_path):
    from pathlib import Path

    main_py = Path(__file__).resolve().parent.parent / "main.py"
    r = subprocess.run([sys.executable, str(main_py), "--screenshot", str(tmp_path / "nope" / "shot.png")],
                       capture_output=True, text=True, timeout=60, env=_env())
    assert r.returncode == 2 and "does not exist" in r.stderr


CLOSE_WHILE_BLOCKED = textwrap.dedent("""
    import sys, threading
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QKeySequence
    from latent_explorer.gui import app as gui_app

    gate = threading.Event()   # never set: the decode below can never return
    stuck = threading.Event()  # set once a decode is stuck on the gate

    class StuckModel:  # a decoder stuck in native code that no flag can interrupt
        latent_shape = (4,); image_size = (8, 8); channels = 1; device = "cpu"; spec = name = "stuck"
        metrics = {}
        def info(self): return {"kind": "StuckModel"}
        def decode(self, z, batch_size=256):
            print("decode started", flush=True)
            stuck.set()
            gate.wait()
        def encode(self, x, batch_size=256): raise RuntimeError("no data")
        def prepare(self, x): return x
        def sample_prior(self, n, seed=None, temperature=1.0):
            import numpy as np; return np.zeros((n, 4), np.float32)

    def quit_action(menu):
        # what Ctrl+Q triggers: the action with that shortcut, anywhere in the menus
        for a in menu.actions():
            if a.shortcut() == QKeySequence("Ctrl+Q"):
                return a
            if a.menu() is not None and (found := quit_action(a.menu())) is not None:
                return found
        return None

    real_launch = gui_app.launch
    def launch(options):
        import dataclasses
        options = dataclasses.replace(options, model_object=StuckModel())
        app, win = real_launch(options)
        action = quit_action(win.menuBar())
        if action is None:
            print("no Ctrl+Q action in the menus", file=sys.stderr, flush=True)
            sys.exit(3)
        poll = QTimer(win)
        def quit_when_stuck():
            if stuck.is_set():
                poll.stop()
                print("quitting", flush=True)
                action.trigger()
        poll.timeout.connect(quit_when_stuck)
        poll.start(20)
        return app, win
    gui_app.launch = launch

    class Args:
        model = "stuck"; images = None; device = "cpu"; screenshot = None; precision = "fp32"
        allow_pickle = False
    code = gui_app.run_gui(Args())
    sys.exit(code)
""")


def test_quitting_while_a_decode_is_stuck_exits_with_code_0_and_a_clean_stderr(tmp_path):
    script = tmp_path / "stuck.py"
    script.write_text(CLOSE_WHILE_BLOCKED)
    # the decode waits on a gate that nothing ever opens, so the process exiting at all proves that
    # quitting did not wait for it; the timeout is only a hang guard
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=_env())
    lines = r.stdout.splitlines()
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "decode started" in lines and "quitting" in lines, r.stdout
    assert lines.index("decode started") < lines.index("quitting")  # quit while the decode was stuck
    assert not any(s in r.stderr for s in ALARMING), r.stderr
