"""The preload thread: PySide6's lazy classes and enums are all made on the GUI thread before it starts
(pyqtgraph's import on that thread walks every name of QtCore/QtGui/QtWidgets, and making them from two
threads at once segfaulted about one start in 30), and its imports all arrive."""
import os
import subprocess
import sys
import textwrap


def test_qt_types_are_made_before_the_preload_thread_starts_and_the_imports_arrive():
    child = textwrap.dedent("""
        import threading, time
        from latent_explorer.gui import preload
        seen = []
        real_start = threading.Thread.start
        def start(self, *a):
            if self.name == "preload":
                seen.append((preload.qt_types_made, threading.current_thread() is threading.main_thread()))
            return real_start(self, *a)
        threading.Thread.start = start
        preload.start()
        deadline = time.monotonic() + 120
        while not all(preload.ready(s) for s in preload.STEPS) and time.monotonic() < deadline:
            time.sleep(0.05)
        import sys
        print(seen, all(preload.ready(s) for s in preload.STEPS), "scipy.spatial" in sys.modules)
    """)
    r = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=180,
                       env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[(True,", "True)]", "True", "True"], r.stdout
