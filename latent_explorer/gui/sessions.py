"""Sessions in the app: the window's state <-> ``core.session.Session``, and the autosave timer.

``capture(win)`` copies what the user made (model spec and hash, images, map settings,
bookmarks, the morph, the latent and its history, the sampling temperature) into a Session;
``apply(win, session)`` puts it back once the session's model and map are up, and returns
what it could not restore (a different latent shape, a missing image, a changed model).
``AutosaveController`` writes the autosave every minute on a plain Python thread, so a big
session never blocks the GUI thread.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer

from ..core.session import Autosave, Bookmark, Morph, Session

AUTOSAVE_INTERVAL_MS = 60_000


def session_images(session: Session):
    """The session's images as the map wants them: a folder, a list of files, or None."""
    if session.images_dir:
        return session.images_dir
    files = session.extra.get("image_files")
    return list(files) if files else None


def capture(win) -> Session | None:
    """The window as a Session (None before a model is loaded)."""
    if win.summary is None:
        return None
    images = win.options.images
    h = win.state.history
    entries = h.entries()
    s = Session(
        model_spec=win.summary.spec, model_hash=win.model_hash or "",
        images_dir=images if isinstance(images, str) else None,
        current_latent=None if win.state.z is None else win.state.z.copy(),
        selected_index=win.selected,
        bookmarks=[Bookmark(b.name, np.array(b.latent, np.float32)) for b in win.bookmarks],
        history=[z for z, _ in entries])
    s.extra = {
        "latent_source": win.state.source,
        "history_sources": [src for _, src in entries],
        "history_position": h.position,
    }
    if isinstance(images, (list, tuple)):
        s.extra["image_files"] = [str(p) for p in images]
    if win.summary.resizable:  # a Stable Diffusion-style VAE: the latents' shape follows it
        s.extra["image_size"] = [int(v) for v in win.summary.image_size]
    if win.views_built:
        s.extra["temperature"] = float(win.temperature.value())
        s.map_settings = {"color_by": win.map.color_mode}
        if win.map_data is not None:
            x0, x1, y0, y1 = win.map.visible_range()
            s.map_settings.update(projection=win.map_data.projection.method, view=[x0, x1, y0, y1])
        if win._strip_keys is not None:
            keys, ends = win._strip_keys
            s.morphs = [Morph(win._strip_desc or "morph", np.array(keys, np.float32), win.morph.method_name,
                              win.morph.frame_count)]
            s.extra["morph_endpoints"] = [None if e is None else int(e) for e in ends]
    return s


def apply(win, s: Session) -> list[str]:
    """Restore ``s`` into the window (its model and map are loaded). Returns notes for the user."""
    notes: list[str] = []
    shape = tuple(win.summary.latent_shape)

    def fits(z) -> bool:
        return z is not None and tuple(np.shape(z)) == shape

    d = win.map_data
    ms = s.map_settings or {}
    if ms.get("color_by"):
        win.map.set_color_mode(ms["color_by"])
    if "temperature" in s.extra:
        win.temperature.setValue(float(s.extra["temperature"]))
    if d is not None and s.selected_index is not None:
        if 0 <= s.selected_index < len(d.mean):
            win.select(int(s.selected_index))
        else:
            notes.append(f"the selected image #{s.selected_index} is not on this map")

    # the morph (its endpoints index the map only when the map is the same)
    if s.morphs:
        m = s.morphs[0]
        if fits(m.keyframes[0]):
            ends = tuple(s.extra.get("morph_endpoints") or (None, None))
            if d is None or any(e is not None and e >= len(d.mean) for e in ends):
                ends = (None, None)
            i = win.morph.method.findData(m.method)
            win.morph.method.blockSignals(True)
            win.morph.frames_spin.blockSignals(True)
            if i >= 0:
                win.morph.method.setCurrentIndex(i)
            win.morph.frames_spin.setValue(int(m.frames))
            win.morph.method.blockSignals(False)
            win.morph.frames_spin.blockSignals(False)
            win._strip_keys = (np.asarray(m.keyframes, np.float32), ends)
            win._strip_desc = m.name
            win._recompute_strip()
        else:
            notes.append("the morph was made for another latent shape and was not restored")

    # bookmarks
    kept = [b for b in s.bookmarks if fits(b.latent)]
    if len(kept) < len(s.bookmarks):
        notes.append(f"{len(s.bookmarks) - len(kept)} bookmark(s) have another latent shape and were left out")
    win.set_bookmarks(kept)

    # the latent and its history (undo / redo as they were)
    sources = list(s.extra.get("history_sources") or [])
    items = [(z, sources[i] if i < len(sources) else "restored") for i, z in enumerate(s.history) if fits(z)]
    z = s.current_latent if fits(s.current_latent) else None
    if s.current_latent is not None and z is None:
        notes.append(f"the saved latent has shape {tuple(np.shape(s.current_latent))}, "
                     f"this model's is {shape}: kept the model's own")
    if z is not None or items:
        pos = s.extra.get("history_position")
        win.state.restore(z, s.extra.get("latent_source", "restored session"), items,
                          None if len(items) != len(s.history) else pos)
        win._note(f"restored: {win.state.source}")
    view = ms.get("view")
    method = ms.get("projection")
    if d is not None and method and method != d.projection.method:
        win.set_projection(method)
    elif d is not None and view and len(view) == 4:
        win.map.vb.setRange(xRange=view[:2], yRange=view[2:], padding=0.0)
    return notes


class AutosaveController(QObject):
    """Every ``interval_ms`` writes the window's session to ``autosave`` (off the GUI thread)."""

    def __init__(self, win, autosave: Autosave, interval_ms: int = AUTOSAVE_INTERVAL_MS):
        super().__init__(win)
        self.win = win
        self.autosave = autosave
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_ms))
        self.timer.timeout.connect(self.save_now)
        self._writer: threading.Thread | None = None
        self.saves = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self.timer.start()

    def save_now(self, wait: bool = False) -> bool:
        """Capture now, write in the background; False when there is nothing to save or a write is running."""
        if self._writer is not None and self._writer.is_alive():
            return False
        if self.win._pending_session is not None or self.win._loading:
            return False  # mid-restore or mid-load: saving now would overwrite what is being restored
        s = capture(self.win)
        if s is None:
            return False

        def write():
            try:
                self.autosave.save(s)
                self.saves += 1
            except Exception as e:  # a full disk must not take the app down; say it once
                self.last_error = f"autosave to {self.autosave.path} failed: {e}"
                print(f"latent-explorer: {self.last_error}", file=sys.stderr, flush=True)

        self._writer = threading.Thread(target=write, name="autosave", daemon=True)
        self._writer.start()
        if wait:
            self._writer.join()
        return True

    def stop(self, clean: bool = True) -> None:
        """Stop the timer, finish a running write; a clean exit removes the crash marker."""
        self.timer.stop()
        if self._writer is not None:
            self._writer.join(10)
        if clean:
            self.autosave.clean_exit()


def autosave_for(folder) -> Autosave:
    """``Autosave`` in ``folder`` (None: the user data folder, or $LATENT_EXPLORER_DATA)."""
    return Autosave(Path(folder) if folder else None)
