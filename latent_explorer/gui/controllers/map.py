"""The map controller: encode the images on the worker, project them, and turn the map into latents.

Maps have generations (``app.map_generations``): encoding a folder and re-projecting (PCA on the
worker, t-SNE / UMAP on a thread of their own, in a child process) each take a new generation,
and a result is shown only while it is the newest asked for, so a slow t-SNE of the previous
folder never replaces the new folder's map. Choosing another projection or opening a folder
cancels a running projection. It also owns the selection (the image whose posterior the
sliders show), clicks on empty places (exact for 2-d latents, else a blend of the images
around the click) and the decoded manifold behind a 2-d map.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...app.jobs import collection_map as collection_jobs
from ...app.jobs import decode as decode_jobs
from ...app.jobs import mapping as map_jobs
from ...app.jobs import tiers as tier_jobs
from ...app.map_generations import MapGenerations
from .. import memory
from ..worker import DecodeWorker
from .model import show_notices

MANIFOLD_TILE_PX = 34


class MapController(QObject):
    #: a new map is on screen (its MapData)
    ready = Signal(object)
    #: an image was selected (its index)
    selected_changed = Signal(int)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.data = None              # the MapData on screen
        self.selected: int | None = None
        self.done = False             # the map job ended (shown, failed or cancelled)
        self.manifold_ready = False
        self.generations = MapGenerations()
        self.projector: DecodeWorker | None = None  # t-SNE / UMAP: long, no model, own thread
        #: (x, y) -> (latent, words) for a click on empty space that someone else decodes (a hole of
        #: the prior, when the Theory panel shows them), or None: the default blend
        self.place_resolver = None
        self._move_marker = self._manifold_later = None
        ctx.worker.progress.connect(self._on_progress)

    def attach(self) -> None:
        """The map panel exists: bind it (called once, by the window)."""
        from superqt.utils import qdebounced, qthrottled

        m = self.ctx.views.map
        self._move_marker = qthrottled(self.update_marker, 30)
        self._manifold_later = qdebounced(self.request_manifold, 120)
        self.ctx.state.connect(lambda origin: self._move_marker())
        m.pointClicked.connect(lambda i, mods: self.select(i))
        m.placeClicked.connect(self._on_place_clicked)
        m.projectionChanged.connect(self.set_projection)
        m.visibleRangeChanged.connect(lambda *a: self._manifold_later())
        m.manifoldToggled.connect(lambda on: on and self._manifold_later())
        self.ctx.models.loaded.connect(self._on_model)

    # ---- building ---------------------------------------------------------------------
    def _on_model(self, s) -> None:
        """A new model (or working size): forget the old map and latent, encode the images again."""
        self.data = None
        self.selected = None
        self.manifold_ready = False
        self.ctx.views.recon.clear()
        self.ctx.state.reset(np.zeros(s.latent_shape, np.float32), "initial")
        self.ctx.note("the prior's mean z = 0")
        self.build()

    def build(self) -> int:
        """Encode the images (``options.images``, or the model's own dataset) and project them.
        Before the map panel exists this waits: the model is applied to the panels once they are."""
        if not self.ctx.views.built:
            return -1
        self.cancel_projection()
        self.done = False
        gen = self.generations.next()
        self.ctx.views.map.show_message("Encoding images…")
        self.ctx.views.status.set_progress("encoding images…", 0, 0)
        return self.ctx.worker.submit("map", map_jobs.build_map, self.ctx.options.images,
                                      limit=self.ctx.options.map_limit, on_result=lambda d: self._on_ready(d, gen),
                                      on_error=lambda f: self._on_failed(f, gen))

    def open_images(self, source) -> None:
        """Map a folder (scanned lazily on the worker) or a list of image files."""
        source = [str(p) for p in source] if isinstance(source, (list, tuple)) else str(source)
        self.ctx.options.images = source
        if self.ctx.models.summary is not None and not self.ctx.models.is_loading:
            self.build()

    def cancel(self) -> None:
        """The status bar's Cancel: stop encoding or projecting; the map on screen stays."""
        if not self.ctx.views.built:
            return
        self.generations.next()
        self.ctx.worker.cancel("map")
        self.cancel_projection()
        self.ctx.views.status.set_progress(None)
        self.ctx.views.map.show_message("" if self.data is not None else
                                        "Map cancelled (File → Open images… to retry)")
        self.done = True
        self.ctx.readiness.check()

    def cancel_projection(self) -> None:
        if self.projector is not None:
            self.projector.cancel_all()

    def set_projection(self, method: str) -> int:
        """Project the map with ``method`` (a new generation: a running projection is cancelled)."""
        if self.data is None:
            return -1
        if method == self.data.projection.method:  # the map on screen already: stop a running projection
            if self.projector is not None and self.projector.is_busy("map"):
                self.generations.next()
                self.cancel_projection()
                self.ctx.views.status.set_progress(None)
                self.ctx.views.map.show_message("")
                self.ctx.views.map.set_projection_methods(*self._methods(self.data))
            return -1
        if self.projector is None:
            self.projector = DecodeWorker(self, torch_threads=None)
            self.projector.failed.connect(self.ctx.report_failure)
            self.projector.progress.connect(self._on_progress)
            self.projector.start()
        if self.ctx.worker.is_busy("map"):  # images are being encoded: that map comes first
            self.ctx.message("the images are still being encoded: choose the projection once the map is up", 5000)
            self.ctx.views.map.set_projection_methods(*self._methods(self.data))
            return -1
        gen = self.generations.next()
        n = len(self.data.mean)
        slow = " (t-SNE takes a while)" if method == "tsne" else ""
        self.ctx.views.map.show_message(f"Projecting {n:,} points…{slow}")
        self.ctx.views.status.set_progress(f"projecting with {method}…{slow}", 0, 0)
        return self.projector.submit("map", map_jobs.reproject, self.data, method,
                                     on_result=lambda d: self._on_ready(d, gen),
                                     on_error=lambda f: self._on_failed(f, gen))

    def _on_progress(self, kind, rid, done, total, text) -> None:
        if kind in ("map", "load", "export"):
            self.ctx.views.status.set_progress(text, done, total, cancellable=kind == "map")
            if kind == "export" and total and done >= total:
                self.ctx.views.status.set_progress(None)
            if kind == "map" and self.ctx.views.built and self.data is None:
                self.ctx.views.map.show_message(text)

    def _on_failed(self, failure, gen: int) -> None:
        if not self.generations.is_current(gen):
            return
        self.ctx.views.status.set_progress(None)
        self.done = True
        self.ctx.views.map.show_message(failure.message)
        skipped = getattr(failure.error, "skipped", None)
        if skipped:
            self.show_skipped(skipped, self.ctx.options.images, 0)
            self.show_skipped_report()
        self.ctx.sessions.map_settled()
        self.ctx.readiness.check()

    def _on_ready(self, data, gen: int) -> None:
        if not self.generations.accept(gen):
            return  # an older map job's result: a newer map was asked for since
        old, m = self.data, self.ctx.views.map
        keep_view = old is not None and old.mean is data.mean and data.projection.method == old.projection.method
        new_images = old is not None and old.mean is not data.mean
        self.data = data
        if new_images:  # other images: nothing may keep showing the previous ones
            self._forget_images()
        self.ctx.views.status.set_progress(None)
        m.set_projection_methods(*self._methods(data))
        m.set_data(data, keep_view=keep_view)
        if data.source is not None or not data.skipped:
            self.show_skipped(data.skipped, data.source, len(data.images))
        self.done = True
        self.ready.emit(data)
        self.update_marker()
        if self.selected is not None:
            m.set_selected(self.selected)
        if data.projection.method == "identity":
            self._manifold_later()
        if not self.ctx.sessions.map_settled() and self.ctx.options.demo and (
                self.ctx.state.source == "initial" or new_images):
            self._demo_start()
        self.ctx.readiness.check()

    def _forget_images(self) -> None:
        """The previous images' selection, reconstruction, morph and posterior band go; the preview
        starts again from the prior's mean."""
        self.selected = None
        self.ctx.state.selected = None
        v = self.ctx.views
        v.recon.clear()
        v.sliders.set_posterior(None, None)
        v.reset_button.setEnabled(False)
        self.ctx.morphs.clear()
        self.ctx.previews.set_latent(np.zeros(self.data.mean.shape[1:], np.float32), "the prior's mean z = 0")
        self.ctx.note("new images: the prior's mean z = 0 (click an image to select it)")

    @staticmethod
    def _methods(data) -> tuple:
        """The projection menu's entries for ``data``: (methods, labels, current)."""
        from ...core.latent.project import METHOD_LABELS, available_methods

        return available_methods(int(np.prod(data.mean.shape[1:]))), METHOD_LABELS, data.projection.method

    def _demo_start(self) -> None:
        """Open on something to look at: a 3 selected and its morph into an 8 (or the first two points)."""
        d = self.data
        a, b = 0, min(1, len(d.mean) - 1)
        if d.labels is not None:
            threes, eights = np.flatnonzero(d.labels == 3), np.flatnonzero(d.labels == 8)
            if len(threes) and len(eights):
                a, b = int(threes[len(threes) // 3]), int(eights[len(eights) // 3])
        self.select(a)
        self.ctx.morphs.make(a, b)

    # ---- the marker and the manifold of a 2-d latent ----------------------------------------
    def update_marker(self) -> None:
        if self.data is None or self.ctx.state.z is None:
            return
        self.ctx.views.map.set_current(self.data.projection.locate(self.ctx.state.z.reshape(-1)))

    def request_manifold(self) -> None:
        m = self.ctx.views.map
        if self.ctx.closing or self.data is None or self.data.projection.method != "identity" \
                or not m.manifold_check.isChecked():
            return
        x0, x1, y0, y1 = m.visible_range()
        nx = int(np.clip(max(1, m.plot.width()) / MANIFOLD_TILE_PX, 4, 40))
        ny = int(np.clip(max(1, m.plot.height()) / MANIFOLD_TILE_PX, 4, 40))
        self.ctx.worker.submit("manifold", decode_jobs.manifold, x0, x1, y0, y1, nx, ny, on_result=self._on_manifold)

    def _on_manifold(self, result) -> None:
        self.ctx.views.map.set_manifold(*result)
        self.manifold_ready = True
        self.ctx.readiness.check()

    # ---- selection and clicks ---------------------------------------------------------
    def label(self, i: int) -> str:
        """How an image is named everywhere (captions, history, morph titles, bookmarks): its file name
        for the user's own images, else its index and label."""
        d = self.data
        if d.paths and 0 <= i < len(d.paths):
            return Path(d.paths[i]).name
        return f"#{i}" + ("" if d.labels is None else f" ({d.label_text(i)})")

    def _caption_name(self, i: int) -> str:
        """The reconstruction view's name of image ``i`` (its label is said beside it)."""
        d = self.data
        return Path(d.paths[i]).name if d.paths and 0 <= i < len(d.paths) else f"image #{i}"

    def show_own_images(self) -> None:
        """File → Show this model's own images: its dataset, or the folder it was trained on."""
        self.ctx.options.images = None
        if self.ctx.models.summary is not None and not self.ctx.models.is_loading:
            self.build()

    def select(self, i: int) -> None:
        d, v = self.data, self.ctx.views
        if d is None:
            return
        self.selected = i
        self.ctx.state.selected = i
        v.map.set_selected(i)
        self.ctx.sliders.show_posterior(d.mean[i], d.logvar[i] if d.logvar is not None else None)
        v.reset_button.setEnabled(True)
        lab = "" if d.labels is None else f"{d.label_name} {d.label_text(i)} · "
        if np.isnan(d.recon_error[i]):  # a slow decoder (or a collection): the map skipped decoding every image
            v.recon.set_selected(i, d.images[i], f"{lab}{self._caption_name(i)} · decoding its reconstruction…")
            path = collection_jobs.original_path(d, self.ctx.models.summary, i)
            fn, args = (collection_jobs.recon_with_original, (d.mean[i], path)) if path else (tier_jobs.final, (d.mean[i],))
            self.ctx.worker.submit("recon", fn, *args, on_result=lambda r, i=i: self._on_slow_recon(i, r))
        else:
            v.recon.set_selected(i, d.images[i], f"{lab}{self._caption_name(i)} · reconstruction error {d.recon_error[i]:.4f}")
            self.ctx.worker.submit("recon", decode_jobs.decode, d.mean[i],
                                   on_result=lambda r, i=i: v.recon.set_reconstruction(i, r.image))
        self.ctx.note(f"image {self.label(i)}: its posterior mean μ decoded")
        self.ctx.previews.set_latent(d.mean[i], f"image {self.label(i)}")
        self.selected_changed.emit(i)

    def _on_slow_recon(self, i: int, r) -> None:
        d = self.data
        if d is None or i >= len(d.images):
            return
        show_notices(self.ctx, r.extra.get("notices") or [])
        original = r.extra.get("original")
        if original is not None:  # a collection's own file, not its thumbnail
            self.ctx.views.recon.set_selected(i, original, "")
        ref = d.images[i] if original is None else original
        err = float((((r.image.astype(np.float32) - ref.astype(np.float32)) / 255.0) ** 2).mean())
        d.recon_error[i] = err
        lab = "" if d.labels is None else f"{d.label_name} {d.label_text(i)} · "
        self.ctx.views.recon.set_reconstruction(i, r.image, f"{lab}{self._caption_name(i)} · reconstruction error {err:.4f}")

    def reset_to_selected(self) -> None:
        if self.selected is not None and self.data is not None:
            self.select(self.selected)

    def latent_at(self, x: float, y: float) -> np.ndarray:
        """The latent at map point (x, y): exact for a 2-d latent, else a blend of the images around it."""
        d = self.data
        if d.projection.method == "identity":
            return np.array([x, y], np.float32).reshape(d.mean.shape[1:])
        if d.interpolator is None:  # too few points for a blend: the nearest image
            return d.mean[int(np.argmin(((d.xy - (x, y)) ** 2).sum(1)))]
        return d.interpolator.latent_at((x, y))

    def _on_place_clicked(self, x: float, y: float) -> None:
        if self.data is None:
            return
        resolved = self.place_resolver(x, y) if self.place_resolver is not None else None
        if resolved is not None:
            z, how = resolved
        else:
            z = self.latent_at(x, y)
            how = "exact" if self.data.projection.method == "identity" else "blend of the 3 points around it"
        self.ctx.note(f"map point ({x:.2f}, {y:.2f}), {how}")
        self.ctx.previews.set_latent(z, f"map point ({x:.2f}, {y:.2f})")

    # ---- opening images, and the skipped-files report -----------------------------------
    def open_folder_dialog(self) -> None:
        d = memory.open_folder(self.ctx.window, "Open a folder of images to map")
        if d:
            self.open_images(d)

    def open_collection_dialog(self) -> None:
        """File → Open an encoded collection: its map from the shards, nothing encoded again."""
        from ...app.jobs.collection_map import is_collection

        d = memory.open_folder(self.ctx.window, "Open a collection (made by latent-explorer encode --out FOLDER)")
        if d and not is_collection(d):
            self.ctx.message(f"{Path(d).name} is not a collection (no manifest.json): make one with "
                             "latent-explorer encode --images DIR --out FOLDER", 8000)
        elif d:
            self.open_images(d)

    def open_files_dialog(self) -> None:
        from ...core.data.images import IMAGE_EXTENSIONS

        pattern = " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS))
        files = memory.open_paths(self.ctx.window, "Open images to map", f"Images ({pattern});;All files (*)")
        if files:
            self.open_images(files)

    def open_dropped(self, paths: list[Path]) -> None:
        """A folder, or image files (folders among them contribute their images), dropped on the window."""
        dirs = [p for p in paths if p.is_dir()]
        if len(dirs) == 1 and len(paths) == 1:
            self.open_images(str(dirs[0]))
            return
        from ...core.data.images import iter_image_files

        files = []
        for p in paths:
            files.extend(iter_image_files(p) if p.is_dir() else [p])
        self.open_images([str(f) for f in files])

    def show_skipped(self, skipped: list, source, imported: int) -> None:
        v = self.ctx.views
        v.skipped_panel.set_report(skipped, source, imported if source is not None else None)
        v.skipped_link.set_count(len(skipped))
        if skipped:
            first, why = skipped[0]
            self.ctx.message(f"{len(skipped)} file(s) skipped, e.g. {Path(first).name}: {why}", 8000)

    def show_skipped_report(self) -> None:
        self.ctx.views.skipped_dock.show()
        self.ctx.views.skipped_dock.raise_()

    def stop(self) -> None:
        for t in (self._move_marker, self._manifold_later):
            if t is not None:
                t.cancel()
                t.flush(restart_timer=False)
        if self.ctx.views.map is not None:
            self.ctx.views.map.lod.stop()
        if self.projector is not None:
            self.projector.stop(200)
