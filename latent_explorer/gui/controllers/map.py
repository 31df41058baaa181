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
from PySide6.QtCore import QObject

from ...app.jobs import collection_map as collection_jobs
from ...app.jobs import decode as decode_jobs
from ...app.jobs import mapping as map_jobs
from ...app.jobs import tiers as tier_jobs
from ...app.map_generations import MapGenerations
from ...app.session_io import MorphSpec
from .. import memory
from ..worker import DecodeWorker

MANIFOLD_TILE_PX = 34


class MapController(QObject):
    """The map view of ``model.map`` (a new map: ``model.events.map``; a selection: ``model.events.selected``)."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.generations = MapGenerations()
        self.projector: DecodeWorker | None = None  # t-SNE / UMAP: long, no model, own thread
        self._move_marker = self._manifold_later = None
        ctx.worker.progress.connect(self._on_progress)

    # the map, the selection and whether the map job ended live in the application model
    @property
    def data(self):
        """The MapData on screen (``model.map``)."""
        return self.ctx.model.map

    @property
    def selected(self) -> int | None:
        return self.ctx.model.selected

    @property
    def manifold_ready(self) -> bool:
        return self.ctx.drawn.manifold_ready

    @manifold_ready.setter
    def manifold_ready(self, value: bool) -> None:
        self.ctx.drawn.manifold_ready = bool(value)

    @property
    def done(self) -> bool:
        """The map job ended (shown, failed or cancelled): ``model.map_done``."""
        return self.ctx.model.map_done

    @done.setter
    def done(self, value: bool) -> None:
        self.ctx.model.map_done = bool(value)

    def attach(self) -> None:
        """The map panel exists: bind it (called once, by the window)."""
        from superqt.utils import qdebounced, qthrottled

        m = self.ctx.views.map
        self._move_marker = qthrottled(self.update_marker, 30)
        self._manifold_later = qdebounced(self.request_manifold, 120)
        self.ctx.state.connect(lambda origin: self._move_marker())
        m.pointClicked.connect(lambda i, mods: self.select(i))
        # pins, colours, the visible region: the model holds them, the map shows them (and says
        # when the user changes them)
        model = self.ctx.model
        m.pinsChanged.connect(lambda pins: setattr(model, "pins", tuple(pins)))
        model.events.pins.connect(self._show_pins)
        m.colorModeChanged.connect(lambda mode: setattr(model, "color_by", mode))
        model.events.color_by.connect(lambda mode: mode and m.color_mode != mode and m.set_color_mode(mode))
        m.visibleRangeChanged.connect(self._on_range)
        model.events.map_view.connect(self._show_view)
        model.events.selected.connect(self._on_selected)
        model.events.projection.connect(self._on_projection_asked)
        m.placeClicked.connect(self._on_place_clicked)
        # drag one image onto another (or anywhere) to morph; inside the pins' hull, blend them
        cmds = self.ctx.commands
        m.morphMoved.connect(cmds.drag)
        m.morphDropped.connect(cmds.drop)
        m.blendMoved.connect(cmds.blend_pins)
        m.projectionChanged.connect(self.set_projection)
        m.visibleRangeChanged.connect(lambda *a: self._manifold_later())
        m.manifoldToggled.connect(lambda on: on and self._manifold_later())
        self.ctx.model.loaded.connect(self._on_model)
        model.load_started.connect(lambda spec, words: self.cancel_projection())
        model.events.images.connect(lambda images: self._build_if_ready())
        model.rebuild_map.connect(self._build_if_ready)

    def _on_range(self, x0, x1, y0, y1) -> None:
        with self.ctx.model.events.map_view.blocked():  # the user's own pan: nothing to show again
            self.ctx.model.map_view = (x0, x1, y0, y1)

    def _show_view(self, view) -> None:
        if view and len(view) == 4 and self.ctx.views.map is not None:
            self.ctx.views.map.vb.setRange(xRange=view[:2], yRange=view[2:], padding=0.0)

    def _asked_projection(self, method) -> None:
        """``model.projection`` says what is asked for (without asking this controller again)."""
        with self.ctx.model.events.projection.blocked():
            self.ctx.model.projection = method

    def _on_projection_asked(self, method) -> None:
        if method and (self.data is None or method != self.data.projection.method):
            self.set_projection(method)

    def _show_pins(self, pins) -> None:
        m = self.ctx.views.map
        if m is not None and list(m.pins) != list(pins):
            m.set_pins(pins)

    # ---- building ---------------------------------------------------------------------
    def _on_model(self, s) -> None:
        """A new model (or working size): forget the old map and latent, encode the images again."""
        self.ctx.model.map = None
        self.ctx.model.forget_map()
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
        self.ctx.progress("encoding images…", 0, 0)
        return self.ctx.worker.submit("map", map_jobs.build_map, self.ctx.model.images,
                                      limit=self.ctx.options.map_limit, on_result=lambda d: self._on_ready(d, gen),
                                      on_error=lambda f: self._on_failed(f, gen))

    def open_images(self, source) -> None:
        """Map a folder (scanned lazily on the worker) or a list of image files."""
        before = self.ctx.model.images
        self.ctx.commands.open_images(source)
        if self.ctx.model.images == before:  # the same images again: map them again
            self._build_if_ready()

    def _build_if_ready(self) -> None:
        if self.ctx.model.ready:
            self.build()

    def cancel(self) -> None:
        """The status bar's Cancel: stop encoding or projecting; the map on screen stays."""
        if not self.ctx.views.built:
            return
        self.generations.next()
        self.ctx.worker.cancel("map")
        self.cancel_projection()
        self.ctx.progress(None)
        self.ctx.views.map.show_message("" if self.data is not None else
                                        "Map cancelled (File → Open images… to retry)")
        self._settle()

    def cancel_projection(self) -> None:
        if self.projector is not None:
            self.projector.cancel_all()

    def set_projection(self, method: str) -> int:
        """Project the map with ``method`` (a new generation: a running projection is cancelled)."""
        self._asked_projection(method)
        if self.data is None:
            self._asked_projection(None)
            return -1
        if method == self.data.projection.method:  # the map on screen already: stop a running projection
            if self.projector is not None and self.projector.is_busy("map"):
                self.generations.next()
                self.cancel_projection()
                self.ctx.progress(None)
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
            self._asked_projection(self.data.projection.method)   # refused: the map stays as it is
            return -1
        gen = self.generations.next()
        n = len(self.data.mean)
        slow = " (t-SNE takes a while)" if method == "tsne" else ""
        self.ctx.views.map.show_message(f"Projecting {n:,} points…{slow}")
        self.ctx.progress(f"projecting with {method}…{slow}", 0, 0)
        return self.projector.submit("map", map_jobs.reproject, self.data, method,
                                     on_result=lambda d: self._on_ready(d, gen),
                                     on_error=lambda f: self._on_failed(f, gen))

    def _on_progress(self, kind, rid, done, total, text) -> None:
        if kind in ("map", "load", "export"):
            self.ctx.progress(text, done, total, cancellable=kind == "map")
            if kind == "export" and total and done >= total:
                self.ctx.progress(None)
            if kind == "map" and self.ctx.views.built and self.data is None:
                self.ctx.views.map.show_message(text)

    def _on_failed(self, failure, gen: int) -> None:
        if not self.generations.is_current(gen):
            return
        self.ctx.progress(None)
        self.ctx.views.map.show_message(failure.message)
        skipped = getattr(failure.error, "skipped", None)
        if skipped:
            self.show_skipped(skipped, self.ctx.model.images, 0)
            self.show_skipped_report()
        self._settle()

    def _on_ready(self, data, gen: int) -> None:
        if not self.generations.accept(gen):
            return  # an older map job's result: a newer map was asked for since
        old, m = self.data, self.ctx.views.map
        keep_view = old is not None and old.mean is data.mean and data.projection.method == old.projection.method
        new_images = old is not None and old.mean is not data.mean
        if new_images:  # other images: nothing may keep showing the previous ones
            self._forget_images(data)
        self.ctx.progress(None)
        m.set_projection_methods(*self._methods(data))
        m.set_data(data, keep_view=keep_view)
        if not new_images and self.ctx.model.pins:  # the same images projected again: the pins stay
            m.set_pins(self.ctx.model.pins)
        if data.source is not None or not data.skipped:
            self.show_skipped(data.skipped, data.source, len(data.images))
        restoring = self.ctx.model.opening_session is not None   # (applied once the map settles)
        self.ctx.model.map = data   # everyone hears of the new map (model.events.map)
        self.update_marker()
        if self.selected is not None:
            m.set_selected(self.selected)
        if data.projection.method == "identity":
            self._manifold_later()
        if not restoring and self.ctx.options.demo and (self.ctx.state.source == "initial" or new_images):
            self._demo_start()
        self._settle()

    def _settle(self) -> None:
        self.ctx.model.settle_map()

    def _forget_images(self, data) -> None:
        """The previous images' selection, pins, reconstruction, morph and posterior band go; the
        preview starts again from the prior's mean."""
        self.ctx.model.forget_map()
        self.ctx.views.recon.clear()
        self.ctx.model.morph = None
        self.ctx.state.set(np.zeros(data.mean.shape[1:], np.float32), "the prior's mean z = 0")
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
        self.ctx.model.morph = MorphSpec(np.stack([d.mean[a], d.mean[b]]), (a, b),
                                         f"{self.label(a)} → {self.label(b)}", method=None, frames=None)

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

    # ---- selection and clicks ---------------------------------------------------------
    def label(self, i: int) -> str:
        """How an image is named everywhere (``model.label``)."""
        return self.ctx.model.label(i)

    def _caption_name(self, i: int) -> str:
        """The reconstruction view's name of image ``i`` (its label is said beside it)."""
        d = self.data
        return Path(d.paths[i]).name if d.paths and 0 <= i < len(d.paths) else f"image #{i}"

    def show_own_images(self) -> None:
        """File → Show this model's own images: its dataset, or the folder it was trained on."""
        before = self.ctx.model.images
        self.ctx.commands.open_images(None)
        if before is None:
            self._build_if_ready()

    def select(self, i: int) -> None:
        """Select image ``i`` (``Commands.select``: the latent becomes its μ; selecting it again goes
        back to its μ)."""
        if self.data is not None:
            self.ctx.commands.select(i)

    def _on_selected(self, i) -> None:
        """``model.selected`` changed: the ring on the map and the reconstruction."""
        d, v = self.data, self.ctx.views
        if i is None or d is None or v.map is None:
            return
        v.map.set_selected(i)
        lab = "" if d.labels is None else f"{d.label_name} {d.label_text(i)} · "
        if np.isnan(d.recon_error[i]):  # a slow decoder (or a collection): the map skipped decoding every image
            v.recon.set_selected(i, d.images[i], f"{lab}{self._caption_name(i)} · decoding its reconstruction…")
            path = collection_jobs.original_path(d, self.ctx.model.summary, i)
            fn, args = (collection_jobs.recon_with_original, (d.mean[i], path)) if path else (tier_jobs.final, (d.mean[i],))
            self.ctx.worker.submit("recon", fn, *args, on_result=lambda r, i=i: self._on_slow_recon(i, r))
        else:
            v.recon.set_selected(i, d.images[i], f"{lab}{self._caption_name(i)} · reconstruction error {d.recon_error[i]:.4f}")
            self.ctx.worker.submit("recon", decode_jobs.decode, d.mean[i],
                                   on_result=lambda r, i=i: v.recon.set_reconstruction(i, r.image))

    def _on_slow_recon(self, i: int, r) -> None:
        d = self.data
        if d is None or i >= len(d.images):
            return
        self.ctx.show_notices(r.extra.get("notices") or [])
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
        """The latent at map point (x, y) (``model.latent_at``)."""
        return self.ctx.model.latent_at(x, y)

    def _on_place_clicked(self, x: float, y: float) -> None:
        if self.data is not None:
            self.ctx.commands.show_place(x, y)

    def save_map_figure(self, stem: str) -> list[str]:
        """The map as it looks now, as ``stem``.png and ``stem``.svg (for slides)."""
        from ..widgets.figures import save_plot

        if not self.ctx.views.built:
            return []
        written = save_plot(self.ctx.views.map.plot, stem)
        for path in written:
            self.ctx.model.exported.emit(path)   # (said like every export)
        return written

    def save_map_figure_dialog(self) -> None:
        from ..widgets.figures import ask_stem

        stem = ask_stem(self.ctx.window, "Save the map as a figure (PNG and SVG)", "map")
        if stem:
            self.save_map_figure(stem)

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
