"""Heavy imports on a background thread, so the GUI thread never waits for them.

On a 2-core CPU, importing torch takes ~1-2 s and pyqtgraph ~0.3 s of Python module code; done
on the GUI thread, the window could not repaint or open a menu meanwhile. ``start()`` (called as
the app launches, before Qt is even imported) imports them on a daemon thread in the order the
window needs them: numpy (the controllers), torch (the model; its shared libraries are mapped
first with ``ctypes``, which releases the GIL while the loader works), then pyqtgraph, superqt
and the panels' modules (the map and the sliders; importing a module that uses PySide6 costs
PySide6 a read of its source). The window polls ``ready(name)`` from its event loop and
builds each panel once its imports are done; a failed import is re-raised by ``ready``.

PySide6 creates its classes and enums lazily, on first use, and that is not safe from two threads
at once: pyqtgraph's import walks every name of QtCore, QtGui and QtWidgets (creating each one),
and the same creation on the GUI thread meanwhile crashed the app now and then (a segfault about
one start in 30). So ``start()`` first creates them all on the calling (GUI) thread, before the
preload thread exists (~70 ms, before the window is shown).

One step cannot be split: torch's C extension initialises for ~0.15 s holding the GIL.
``wait_for_torch_core()`` lets the app wait for it *before* the window is first shown, so it
never freezes a window that is on screen.
"""
from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path

STEPS = ("psygnal", "numpy", "torch", "pyqtgraph", "superqt", "panels")   # (psygnal: the application model)
#: the map and slider panels' own modules (they import pyqtgraph and superqt)
PANEL_MODULES = ("latent_explorer.gui.widgets.latent_map", "latent_explorer.gui.widgets.morph",
                 "latent_explorer.gui.widgets.sliders", "latent_explorer.gui.widgets.spatial_sliders",
                 "latent_explorer.gui.widgets.theory", "latent_explorer.gui.widgets.map_thumbs",
                 # the map's level of detail picks with scipy's KD-tree and smooths its raster (~0.15 s
                 # of imports that would otherwise fall on the GUI thread at the first map)
                 "scipy.spatial", "scipy.ndimage", "latent_explorer.gui.widgets.direction_sliders")

_done: dict[str, threading.Event] = {name: threading.Event() for name in STEPS}
_errors: dict[str, BaseException] = {}
_lock = threading.Lock()
_thread: threading.Thread | None = None


def _map_torch_libraries() -> None:
    """dlopen libtorch's big shared libraries through ctypes (GIL released while the loader maps and
    relocates them); ``import torch`` then finds them loaded."""
    import ctypes
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return
    lib = Path(list(spec.submodule_search_locations)[0]) / "lib"
    for name in ("libc10.so", "libtorch_cpu.so"):
        if (lib / name).exists():
            try:
                ctypes.CDLL(str(lib / name), mode=ctypes.RTLD_GLOBAL)
            except OSError:  # the import below says what is wrong, if anything
                return


def _run() -> None:
    for name in STEPS:
        try:
            if name == "torch" and sys.platform.startswith("linux"):
                _map_torch_libraries()
            for module in PANEL_MODULES if name == "panels" else (name,):
                importlib.import_module(module)
            if name == "superqt":
                importlib.import_module("superqt.utils")
        except BaseException as e:  # noqa: BLE001 - reported by ready() on the thread that needs it
            _errors[name] = e
        finally:
            _done[name].set()


qt_types_made = False   # set by _create_qt_types (the tests check it precedes the preload thread)


def _create_qt_types() -> None:
    """Every class and enum of QtCore, QtGui and QtWidgets, made now on this thread (see above)."""
    from PySide6 import QtCore, QtGui, QtWidgets

    for module in (QtCore, QtGui, QtWidgets):
        for name in dir(module):
            getattr(module, name, None)
    global qt_types_made
    qt_types_made = True


def start() -> None:
    """Start the imports (once per process)."""
    global _thread
    with _lock:
        if _thread is None:
            _create_qt_types()
            _thread = threading.Thread(target=_run, name="preload", daemon=True)
            _thread.start()


def ready(name: str) -> bool:
    """True once ``name`` is imported (re-raising its import error, if it failed)."""
    if _thread is None:
        start()
    if not _done[name].is_set():
        return False
    if name in _errors:
        raise _errors[name]
    return True


def wait_for_torch_core(timeout: float = 3.0) -> None:
    """Wait (at most ``timeout`` s) until torch's C extension has initialised: call it before the
    window is first shown, so its GIL-holding initialisation never freezes a visible window."""
    import time

    end = time.perf_counter() + timeout
    while "torch._C" not in sys.modules and not _done["torch"].is_set() and time.perf_counter() < end:
        time.sleep(0.002)
