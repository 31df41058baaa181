"""The export controller: files the user asks for, each written with its recipe.

Exports are *queued* requests on the worker (``app/requests.py``): two exports issued back to
back (the preview, grids, a morph; while idle or while the map is being encoded) are both
written, in order, and each reports: ``exported(path)`` on success, ``exportFailed(path,
message)`` on failure (and the banner says why).
"""
from __future__ import annotations

from ...core.errors import UserError

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...app.jobs import exports as export_jobs
from .. import memory
from ...app.jobs import spatial as spatial_jobs


class ExportController(QObject):
    exported = Signal(str)
    exportFailed = Signal(str, str)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        # every export (this window's or another's, through the commands) is said here
        ctx.model.exported.connect(self._saved)
        ctx.model.export_failed.connect(self._failed)

    def recipe(self, **kw) -> dict:
        return self.ctx.commands.recipe(**kw)

    def submit(self, path: str, fn, *args) -> int:
        try:
            return self.ctx.commands.export(path, fn, *args)
        except UserError as e:  # a model is loading: it would be made with that one, not this one
            self.ctx.error(str(e))
            return -1

    def _saved(self, path: str) -> None:
        self.ctx.message(f"saved {path}", 5000)
        self.exported.emit(path)

    def _failed(self, path: str, message: str) -> None:
        self.ctx.error(f"Could not export {path}: {message}")
        self.exportFailed.emit(path, message)

    # ---- the exports ---------------------------------------------------------------------
    def save_preview(self, path: str, settings=None) -> int:
        """The preview as a PNG whose text chunk holds the latent, the model hash and how it was made."""
        drawn, state = self.ctx.drawn, self.ctx.state
        img = drawn.preview_image
        if img is None or state.z is None:
            return -1
        recipe = self.recipe(kind="preview", latent=state.z, method=state.source, image_size=list(img.shape[:2]))
        if self.ctx.model.slow and drawn.preview_final is not True:  # never save the approximate preview
            return self.submit(path, export_jobs.save_final_preview, state.z, recipe, settings)
        return self.submit(path, export_jobs.save_preview, img, recipe, settings)

    def export_morph(self, path: str, fps: int = 12, settings=None, close: bool = False,
                     through_pins: bool = False) -> int:
        """The morph strip as a GIF, MP4 or PNG strip. With ``settings`` (size, fps, easing, looping,
        frames) it is made again as asked; ``through_pins`` runs it through the pinned images
        (3 or more), ``close`` comes back to the first image at the end."""
        s = self.ctx.drawn.strip
        if s is None:
            return -1
        if not getattr(s, "final", True):
            self.ctx.error("this strip has approximate frames only (a slow decoder): export it once its full "
                           "frames are there")
            return -1
        a, b = s.endpoints if s.endpoints else (None, None)
        maps = self.ctx.model
        recipe = self.recipe(kind="morph", method=s.method, frames=len(s.frames), keyframes=s.keyframes,
                             images=[maps.label(i) for i in (a, b) if i is not None],
                             dataset=maps.map.name if maps.map is not None else "")
        keys = None
        if settings is not None and s.method == "analogy":  # its frames are strengths, not a path: as they are
            settings = replace(settings, frames=None, ease="linear")
        elif settings is not None:
            pins = list(self.ctx.model.pins)
            keys = maps.map.mean[pins] if through_pins and len(pins) >= 3 else s.keyframes
            keys = None if keys is None else np.asarray(keys, np.float32)
            if keys is not None and close:
                keys = np.concatenate([keys, keys[:1]])
            if keys is not None and (through_pins or close):
                recipe["images"] = [maps.label(i) for i in pins] if through_pins else recipe["images"]
        return self.submit(path, export_jobs.export_morph, s.frames, None if settings else fps, recipe, settings,
                            keys, s.method)

    def export_traversal(self, path: str, steps: int = 9, value_range: float = 3.0, max_rows: int = 16,
                         settings=None) -> int:
        """Rows = the most informative dimensions (KL order), each swept over ±range around the current latent."""
        z, v, drawn = self.ctx.state.z, self.ctx.views, self.ctx.drawn
        if z is None or not v.built:
            return -1
        if self.ctx.model.spatial and drawn.spatial_directions is not None:  # rows = principal directions
            recipe = self.recipe(method="each row moves the latent along one principal direction of the mapped "
                                        "images, over ±3 std of the images along it")
            self.ctx.message("exporting the direction grid (full decodes)…", 4000)
            return self.submit(path, spatial_jobs.export_direction_grid, z, drawn.spatial_directions, steps,
                                min(max_rows, 8), recipe, settings)
        dims = list(drawn.slider_order[:max_rows]) or list(range(min(max_rows, z.size)))
        recipe = self.recipe(method="each row sets one dimension to evenly spaced values, the rest as the latent")
        kl = self.ctx.model.map.kl_per_dim if self.ctx.model.map is not None else None
        labels = [f"z{d}" + ("" if kl is None else f" · KL {kl[d]:.2f}") for d in dims]
        return self.submit(path, export_jobs.export_traversal_grid, z, dims, steps, value_range, recipe, labels,
                            settings)

    def export_samples(self, path: str, n: int = 64, seed: int | None = None, settings=None) -> int:
        if self.ctx.model.summary is None or not self.ctx.views.built:
            return -1
        seed = self.ctx.model.sample_seed + 1000 if seed is None else seed
        recipe = self.recipe(method="z ~ N(0, T²·I), decoded")
        return self.submit(path, export_jobs.export_sample_grid, n, seed, self.ctx.model.temperature, recipe,
                            settings)

    # ---- dialogs -------------------------------------------------------------------------
    def _ask(self, title: str, name: str, filters: str) -> str:
        return memory.save_path(self.ctx.window, title, name, filters)

    def choose_options(self, title: str, animated: bool = False):
        from ..dialogs.export_options import ask

        pins = len(self.ctx.model.pins)
        strip = self.ctx.drawn.strip
        return ask(self.ctx.window, title, animated, pins, len(strip.frames) if strip is not None else None)

    def save_preview_dialog(self) -> None:
        if self.ctx.drawn.preview_image is not None:
            chosen = self.choose_options("Save the preview")
            path = chosen and self._ask("Save preview", "preview.png", "PNG image (*.png)")
            if path:
                self.save_preview(path, chosen[0])

    def export_morph_dialog(self) -> None:
        if self.ctx.drawn.strip is None:
            self.ctx.message("make a morph first: drag from one point to another on the map", 4000)
            return
        chosen = self.choose_options("Export the morph", animated=True)
        path = chosen and self._ask("Export morph", "morph.gif",
                                    "GIF animation (*.gif);;MP4 video (*.mp4);;PNG strip (*.png)")
        if path:
            settings, close, through_pins = chosen
            self.export_morph(path, settings=settings, close=close, through_pins=through_pins)

    def export_traversal_dialog(self) -> None:
        if self.ctx.state.z is not None:
            chosen = self.choose_options("Export the traversal grid")
            path = chosen and self._ask("Export traversal grid", "traversal.png", "PNG image (*.png)")
            if path:
                self.export_traversal(path, settings=chosen[0])

    def export_samples_dialog(self) -> None:
        if self.ctx.model.summary is not None:
            chosen = self.choose_options("Export a grid of samples")
            path = chosen and self._ask("Export sample grid", "samples.png", "PNG image (*.png)")
            if path:
                self.export_samples(path, settings=chosen[0])
