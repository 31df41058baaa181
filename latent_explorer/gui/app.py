"""Starting the app: ``run_gui(args)`` behind ``latent-explorer [gui]``, the gui-script and main.py.

Only Qt is imported before the window is on screen; torch, the model and pyqtgraph follow
(torch on the worker thread). ``--screenshot FILE`` waits until the model, the map and the
first preview are ready, saves the whole window as a PNG and exits 0.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

SCREENSHOT_TIMEOUT_S = 120


def process_start_time() -> float:
    """When this process started (epoch seconds), from /proc where there is one.

    Both the process's start and the clock it is compared with are read relative to boot
    (``/proc/self/stat`` and ``/proc/uptime``, 10 ms resolution); ``btime`` in /proc/stat is
    whole seconds and would put the start up to a second too early.
    """
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        now = time.time()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return now - max(0.0, uptime - start_after_boot)
    except (OSError, ValueError, IndexError):
        return _IMPORTED_AT


_IMPORTED_AT = time.time()


def options_from_args(args):
    from .main_window import LaunchOptions

    return LaunchOptions(
        model=getattr(args, "model", None) or "digits",
        images=getattr(args, "collection", None) or getattr(args, "images", None),  # a collection maps as a folder
        device=getattr(args, "device", None) or "auto",
        precision=getattr(args, "precision", None) or "auto",
        size=getattr(args, "size", None),
        allow_pickle=bool(getattr(args, "allow_pickle", False)),
        screenshot=getattr(args, "screenshot", None),
        window_size=getattr(args, "window_size", None),
    )


# Platform-plugin chatter that says nothing about the app (the offscreen plugin prints it
# for every top-level window); everything else Qt says still reaches stderr.
_BENIGN_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message_handler(mode, context, message):
    if message in _BENIGN_QT_MESSAGES:
        return
    sys.stderr.write(message + "\n")


def make_app():
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from . import theme

    app = QApplication.instance()
    if app is None:
        qInstallMessageHandler(_qt_message_handler)
        app = QApplication(sys.argv[:1])
        app.setApplicationName("latent-explorer")
        app.setOrganizationName("latent-explorer")
        app.setDesktopFileName("latent-explorer")  # Wayland: matches install-launcher's .desktop entry
        from .icon import app_icon

        app.setWindowIcon(app_icon())
        theme.apply(app)
    return app


def _settle_gc() -> None:
    """Once the window is ready: freeze what start-up made, then turn the collector on.

    torch, Qt and pyqtgraph leave a heap of ~10⁶ long-lived objects; a full (generation 2)
    collection walks all of them and held the GIL for 40-110 ms, a visible hitch whenever it
    struck while a slider was dragged. Frozen objects are skipped by later collections. No
    collection first: walking that heap once more held the GUI thread for 0.3 s on a busy
    2-core machine, and the few cycles start-up leaves are worth less than a frozen window.
    Until then (start-up) the cyclic collector is off: its passes were ~0.1 s of the time to
    the first preview.
    """
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def launch(options, on_shown=None):
    """Create (or reuse) the QApplication, show the window, then compose it and start the model.

    The heavy imports (numpy, torch, pyqtgraph) start on the preload thread first; the window is
    composed (controllers, menus, docks) and shown once torch's C extension (which holds the GIL
    while it initialises) is in, so nothing freezes a window on screen. ``on_shown(win)`` is called right after the first paint
    (benchmarks start their clocks there).
    """
    import gc

    from . import preload

    preload.start()
    app = make_app()
    from .main_window import MainWindow

    gc.disable()  # until the window is ready (see _settle_gc)
    win = MainWindow(options)
    win.ready.connect(_settle_gc)  # shutdown() turns the collector back on if it never was
    try:
        win.compose()  # menus and docks are in the first frame
    except BaseException:
        win.shutdown()
        raise
    preload.wait_for_torch_core()
    win.show()
    app.processEvents()  # on screen now, before anything heavy
    win.painted_at = time.perf_counter()
    if on_shown is not None:
        on_shown(win)
    try:
        win.start()
    except BaseException:
        win.shutdown()  # never leave the worker thread running behind a failed start
        _settle_gc()
        raise
    return app, win


def save_screenshot(win, path: str) -> bool:
    pm = win.grab()
    return pm.save(str(path), "PNG")


def no_display(environ=os.environ, platform: str = sys.platform) -> bool:
    """True where Qt would abort for want of a display: an X11/Wayland desktop without either.

    macOS and Windows have no DISPLAY and need none; a QT_QPA_PLATFORM that names a platform
    without a display server (offscreen, vnc, eglfs, ...) or one this check does not know is
    trusted; a QApplication that already exists has found its display.
    """
    if os.name != "posix" or platform == "darwin" or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return False
    wanted = [p.split(":")[0].strip().lower() for p in environ.get("QT_QPA_PLATFORM", "").split(";")]
    if any(p and not p.startswith(("xcb", "wayland")) for p in wanted):
        return False
    qt = sys.modules.get("PySide6.QtGui")
    return not (qt is not None and qt.QGuiApplication.instance() is not None)


def run_gui(args) -> int:
    if no_display():
        if not getattr(args, "screenshot", None):
            print("latent-explorer gui: no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set); "
                  "--screenshot FILE works without one (QT_QPA_PLATFORM=offscreen)", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # read when the QApplication is made, below
    from . import preload

    preload.start()  # numpy, torch, pyqtgraph: importing while Qt starts
    opts = options_from_args(args)
    if opts.screenshot:
        parent = Path(opts.screenshot).expanduser().resolve().parent
        if not parent.is_dir():
            print(f"latent-explorer gui: --screenshot {opts.screenshot}: folder {parent} does not exist",
                  file=sys.stderr)
            return 2
    if opts.images and not Path(opts.images).expanduser().is_dir():
        print(f"latent-explorer gui: --images {opts.images}: no such folder", file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer

    app, win = launch(opts)
    result = {"code": 0}
    if note := win.size_note():  # honoured, or the minimum said
        print(f"latent-explorer gui: {note}", file=sys.stderr)

    if opts.screenshot:
        def shoot():
            if win.models is None or win.models.summary is None:
                print(f"latent-explorer gui: could not load the model: {win.views.banner.text.text()}", file=sys.stderr)
                result["code"] = 2
            else:
                app.processEvents()
                if not save_screenshot(win, opts.screenshot):
                    print(f"latent-explorer gui: could not write {opts.screenshot}", file=sys.stderr)
                    result["code"] = 1
                else:
                    print(f"wrote {opts.screenshot}")
            win.close()

        def timed_out():
            if win.readiness is None or not win.readiness.sent:
                print("latent-explorer gui: not ready after "
                      f"{SCREENSHOT_TIMEOUT_S} s; saving the window as it is", file=sys.stderr)
                shoot()

        win.ready.connect(lambda: QTimer.singleShot(250, shoot))
        QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, timed_out)

    # Ctrl+C in the terminal closes the window cleanly; the idle timer lets Python see the signal
    signal.signal(signal.SIGINT, lambda *a: win.close())
    tick = QTimer()
    tick.timeout.connect(lambda: None)
    tick.start(250)
    app.setQuitOnLastWindowClosed(True)
    code = app.exec()
    tick.stop()
    code = result["code"] or code
    from .worker import abandoned_threads

    if abandoned_threads():
        # the worker is stuck in a native call (a slow decode); Qt must not destroy it running
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code

