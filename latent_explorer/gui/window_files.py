"""File actions of the main window: the ``FileActions`` mixin of ``MainWindow``.

It writes exports (the preview as a PNG with its recipe, traversal and sample grids, the morph as
a GIF, MP4 or PNG strip), keeps the bookmarks, saves, opens and restores sessions and runs the
autosave (with the offer to recover after a crash), and opens the training dialog, whose finished
model becomes the current one.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

# the worker's task functions: filled in by main_window._import_late(), with its own
tasks = spatial_tasks = None


class FileActions:
    """Exports, bookmarks, sessions and autosave, the training dialog.

    A mixin of ``MainWindow`` (a QMainWindow). It relies on the window's worker, options, banner,
    state, summary, map_data, model_hash, slow, spatial_mode, views_built, _seed, the session
    attributes (bookmarks, session_path, _pending_session, session_notes, autosave, autosaver,
    recovered, train_dialog), the panels (preview, morph, sliders, spatial, temperature, tier_badge,
    bookmarks_panel, bookmarks_dock), its signals (exported, sessionRestored), and on methods of
    the window and of the other mixins (load_model, build_map, _set_latent, _note, _label,
    show_error). ``sessions.capture`` / ``sessions.apply`` read and write the window's state.
    """

    # ================================================================ export
    def _recipe(self, **kw) -> dict:
        r = {"model": self.summary.spec if self.summary else ""}
        if self.model_hash:
            r["model_hash"] = self.model_hash
        r.update(kw)
        return r

    def export_morph(self, path: str, fps: int = 12) -> int:
        s = self.morph.strip
        if s is None:
            return -1
        if not getattr(s, "final", True):
            self.show_error("the morph's full-quality frames are still being decoded: export it when they are done")
            return -1
        a, b = s.endpoints if s.endpoints else (None, None)
        recipe = self._recipe(kind="morph", method=s.method, frames=len(s.frames), keyframes=s.keyframes,
                              images=[self._label(i) for i in (a, b) if i is not None], dataset=self.map_data.name)
        return self.worker.submit("export", tasks.export_morph, path, s.frames, fps, recipe, on_result=self._saved)

    def _export_morph_dialog(self) -> None:
        if self.morph.strip is None:
            self.statusBar().showMessage("make a morph first: drag from one point to another on the map", 4000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export morph", "morph.gif",
                                              "GIF animation (*.gif);;MP4 video (*.mp4);;PNG strip (*.png)")
        if path:
            self.export_morph(path)

    def _save_preview_dialog(self) -> None:
        img = self.preview.image if self.views_built else None
        if img is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save preview", "preview.png", "PNG image (*.png)")
        if path:
            self.save_preview(path)

    def save_preview(self, path: str) -> int:
        """The preview as a PNG whose text chunk holds the latent, the model hash and how it was made."""
        img = self.preview.image if self.views_built else None
        if img is None or self.state.z is None:
            return -1
        recipe = self._recipe(kind="preview", latent=self.state.z, method=self.state.source,
                              image_size=list(img.shape[:2]))
        if self.slow and self.tier_badge.final is not True:  # never save the approximate preview
            return self.worker.submit("export-preview", spatial_tasks.save_final_preview, path, self.state.z, recipe,
                                      on_result=self._saved)
        return self.worker.submit("export-preview", tasks.save_preview, path, img, recipe, on_result=self._saved)

    def _saved(self, path: str) -> None:
        self.statusBar().showMessage(f"saved {path}", 5000)
        self.exported.emit(str(path))

    def export_traversal(self, path: str, steps: int = 9, value_range: float = 3.0, max_rows: int = 16) -> int:
        """Rows = the most informative dimensions (KL order), each swept over ±range around the current latent."""
        if self.state.z is None:
            return -1
        if self.spatial_mode and self.spatial.directions is not None:  # rows = principal directions
            recipe = self._recipe(method="each row moves the latent along one principal direction of the mapped "
                                         "images, over ±3 std of the images along it")
            self.statusBar().showMessage("exporting the direction grid (full decodes)…", 4000)
            return self.worker.submit("export-traversal", spatial_tasks.export_direction_grid, path, self.state.z,
                                      self.spatial.directions, steps, min(max_rows, 8), recipe, on_result=self._saved)
        dims = list(self.sliders.order[:max_rows]) or list(range(min(max_rows, self.state.z.size)))
        recipe = self._recipe(method="each row sets one dimension to evenly spaced values, the rest as the latent")
        return self.worker.submit("export-traversal", tasks.export_traversal_grid, path, self.state.z, dims, steps,
                                  value_range, recipe, on_result=self._saved)

    def export_samples(self, path: str, n: int = 64, seed: int | None = None) -> int:
        if self.summary is None:
            return -1
        seed = self._seed + 1000 if seed is None else seed
        recipe = self._recipe(method="z ~ N(0, T²·I), decoded")
        return self.worker.submit("export-samples", tasks.export_sample_grid, path, n, seed, self.temperature.value(),
                                  recipe, on_result=self._saved)

    def _export_traversal_dialog(self) -> None:
        if self.state.z is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export traversal grid", "traversal.png", "PNG image (*.png)")
        if path:
            self.export_traversal(path)

    def _export_samples_dialog(self) -> None:
        if self.summary is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export sample grid", "samples.png", "PNG image (*.png)")
        if path:
            self.export_samples(path)

    # ================================================================ bookmarks
    def add_bookmark(self, name: str) -> None:
        from ..core.session import Bookmark

        if self.state.z is None:
            return
        self.state.commit()
        name = name.strip() or f"bookmark {len(self.bookmarks) + 1}"
        self.bookmarks.append(Bookmark(name, self.state.z.copy()))
        self.bookmarks_panel.set_bookmarks(self.bookmarks)
        self.bookmarks_dock.show()
        self.bookmarks_dock.raise_()
        self.statusBar().showMessage(f"bookmarked “{name}”", 3000)

    def bookmark_dialog(self) -> None:
        if self.state.z is None:
            return
        name, ok = QInputDialog.getText(self, "Bookmark current latent", "Name:",
                                        text=self.state.source or f"bookmark {len(self.bookmarks) + 1}")
        if ok:
            self.add_bookmark(name)

    def set_bookmarks(self, bookmarks: list) -> None:
        self.bookmarks = list(bookmarks)
        self.bookmarks_panel.set_bookmarks(self.bookmarks)

    def remove_bookmark(self, i: int) -> None:
        if 0 <= i < len(self.bookmarks):
            del self.bookmarks[i]
            self.bookmarks_panel.set_bookmarks(self.bookmarks)

    def go_to_bookmark(self, i: int) -> None:
        if not (0 <= i < len(self.bookmarks)) or self.summary is None:
            return
        b = self.bookmarks[i]
        if tuple(b.latent.shape) != tuple(self.summary.latent_shape):
            self.show_error(f"bookmark “{b.name}” has latent shape {tuple(b.latent.shape)}; this model's is "
                            f"{tuple(self.summary.latent_shape)}")
            return
        self._note(f"bookmark “{b.name}”")
        self._set_latent(b.latent, f"bookmark {b.name}")

    # ================================================================ sessions & autosave
    def _on_model_hash(self, h: str) -> None:
        self.model_hash = h

    def save_session(self, path: str) -> str | None:
        """Write the session now (atomically). Returns the path written, or None."""
        from . import sessions

        s = sessions.capture(self)
        if s is None:
            self.show_error("nothing to save yet: no model is loaded")
            return None
        try:
            out = s.save(path)
        except OSError as e:
            self.show_error(f"Could not save the session to {path}: {e.strerror or e}")
            return None
        self.session_path = str(out)
        self.statusBar().showMessage(f"session saved to {out}", 5000)
        return str(out)

    def _save_session_quick(self) -> None:
        if self.session_path:
            self.save_session(self.session_path)
        else:
            self._save_session_dialog()

    def _save_session_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save session", self.session_path or "untitled.lexplore",
                                              "latent-explorer session (*.lexplore)")
        if path:
            self.save_session(path)

    def _open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", "", "latent-explorer session (*.lexplore)")
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        from ..core.errors import UserError
        from ..core.session import Session

        try:
            s = Session.load(path)
        except UserError as e:
            self.show_error(str(e), dialog=True)
            return False
        self.session_path = str(path)
        self.restore_session(s)
        return True

    def restore_session(self, s) -> None:
        """Load the session's model and images if they differ, then put its state back."""
        from . import sessions

        self._pending_session = s
        self.session_notes = []
        images = sessions.session_images(s)
        if isinstance(images, str) and not Path(images).is_dir():
            self.session_notes.append(f"image folder {images} is missing: mapping the model's own data")
            images = None
        elif isinstance(images, list):
            present = [p for p in images if Path(p).is_file()]
            if len(present) < len(images):
                self.session_notes.append(f"{len(images) - len(present)} of the session's image files are missing")
            images = present or None
        same_model = self.summary is not None and self.summary.spec == s.model_spec
        size = s.extra.get("image_size")  # the working size of a Stable Diffusion-style VAE
        size = tuple(int(v) for v in size) if size else None
        if not same_model:
            self.options.images = images
            if size:
                self.options.size = size
            self.load_model(s.model_spec)
        elif size and self.summary.resizable and tuple(self.summary.image_size) != size:
            self.options.images = images
            self.set_working_size(size)
        elif images != self.options.images or self.map_data is None:
            self.options.images = images
            self.build_map()
        else:
            self._finish_session()

    def _finish_session(self) -> None:
        from . import sessions

        s, self._pending_session = self._pending_session, None
        if s is None or self.summary is None or not self.views_built:
            return
        notes = list(self.session_notes) + sessions.apply(self, s)
        self.session_notes = []

        def check(h: str) -> None:
            self.model_hash = h
            model_notes = [n for n in s.check_model(self.summary.spec, h) if "image folder" not in n]
            self._session_report(notes + model_notes)

        if self.model_hash is not None:
            check(self.model_hash)
        else:
            self.worker.submit("hash", tasks.model_hash, on_result=check)

    def _session_report(self, notes: list[str]) -> None:
        if notes:
            self.show_error("Opened what the session could: " + "; ".join(dict.fromkeys(notes)) + ".")
        else:
            self.statusBar().showMessage("session restored", 4000)
        self.sessionRestored.emit(notes)

    def _start_autosave(self) -> None:
        """Offer the last autosave when the last run crashed, then hold the marker and save every minute."""
        from . import sessions

        try:
            self.autosave = sessions.autosave_for(self.options.data_dir)
        except OSError as e:
            self.banner.show_error(f"autosave is off: cannot use the data folder ({e.strerror or e})")
            return
        if self.autosave.recoverable():
            if self._ask_recover():
                try:
                    s = self.autosave.load()
                except Exception as e:  # an unreadable autosave must never stop the app starting
                    self.banner.show_error(f"could not recover the autosave: {e}")
                else:
                    self.options.model = s.model_spec
                    self.options.images = sessions.session_images(s)
                    if isinstance(self.options.images, str) and not Path(self.options.images).is_dir():
                        self.options.images = None
                    self._pending_session = s
                    self.recovered = True
            else:
                self.autosave.discard()
        else:
            self.autosave.discard()  # a clean exit's autosave is stale: never offer it after a later crash
        self.autosave.start()
        self.autosaver = sessions.AutosaveController(self, self.autosave, self.options.autosave_interval_ms)
        self.autosaver.start()

    def _ask_recover(self) -> bool:
        answer = self.options.recover
        if answer is not None:
            return bool(answer() if callable(answer) else answer)
        box = QMessageBox(QMessageBox.Icon.Question, "Recover your last session?",
                          "latent-explorer did not close cleanly last time. Recover the session it autosaved "
                          "(model, map, latent, bookmarks, history)?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        return box.exec() == QMessageBox.StandardButton.Yes

    # ================================================================ training
    def open_train_dialog(self):
        from .train_dialog import TrainDialog

        if self.train_dialog is None:
            folder = self.options.images if isinstance(self.options.images, str) else None
            devices = self.summary.devices if self.summary is not None else ["cpu"]
            self.train_dialog = TrainDialog(self, folder=folder, devices=devices)
            self.train_dialog.trained.connect(self._on_trained)
        self.train_dialog.show()
        self.train_dialog.raise_()
        return self.train_dialog

    def _on_trained(self, out: str, data: str) -> None:
        """A finished training run: its model becomes the current one, its dataset fills the map."""
        self.options.images = None if data in ("mnist-5k", "shapes") else data
        self.load_model(out)
