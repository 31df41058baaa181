"""Map actions of the main window: the ``MapActions`` mixin of ``MainWindow``.

It builds the map of encoded images on the worker (with progress and cancel), re-projects it
(PCA, t-SNE, UMAP) on a thread of its own, draws the decoded manifold of a 2-D model, fits the
principal directions of spatial latents and feeds the channel view, and turns what the user does
on the map into latents: a click on empty space, dragging one image onto another (or anywhere) to
morph, scrubbing the morph strip and blending between pinned points.
"""
from __future__ import annotations

from .worker import DecodeWorker

MANIFOLD_TILE_PX = 34

# numpy and the worker's task functions: filled in by main_window._import_late(), with its own
np = tasks = spatial_tasks = None


class MapActions:
    """The map, its projection and manifold, spatial directions and channels, map clicks, morphs, blends.

    A mixin of ``MainWindow`` (a QMainWindow). It relies on the window's worker, projector,
    options, status, state, map_data, selected, slow, spatial_mode, the flags and caches of the
    map and strip (_map_done, _closing, _loading, _pending_session, _directions_for, _strip_keys,
    _strip_desc, _last_traversal_z, _traversal_ready, _manifold_ready), the panels built in
    ``_build_views`` (map, morph, sliders, spatial, channels), its debounced follow-ups
    (_manifold_later, _commit_later), its signals (mapReady, stripReady), and on methods of the
    window and of the other mixins (select, _set_latent, _note, _update_marker, _request_traversal,
    _check_ready, _on_failure, _show_skipped, show_skipped_report, _finish_session).
    """

    # ================================================================ map
    def build_map(self) -> None:
        self._map_done = False
        self.map.show_message("Encoding images…")
        self.status.set_progress("encoding images…", 0, 0)
        self.worker.submit("map", tasks.build_map, self.options.images, limit=self.options.map_limit,
                           on_result=self._on_map_ready,
                           on_error=self._on_map_failed)

    def cancel_map(self) -> None:
        self.worker.cancel("map")
        if self.projector is not None:
            self.projector.cancel("map")
        self.status.set_progress(None)
        self.map.show_message("" if self.map_data is not None else "Map cancelled (File → Open images… to retry)")
        self._map_done = True
        self._check_ready()

    def _on_progress(self, kind, rid, done, total, text) -> None:
        if kind in ("map", "load"):
            self.status.set_progress(text, done, total)
            if kind == "map" and self.views_built and self.map_data is None:
                self.map.show_message(text)

    def _on_map_failed(self, failure) -> None:
        self.status.set_progress(None)
        self._map_done = True
        self.map.show_message(failure.message)
        skipped = getattr(failure.error, "skipped", None)
        if skipped:
            self._show_skipped(skipped, self.options.images, 0)
            self.show_skipped_report()
        if self._pending_session is not None:
            self._finish_session()
        self._check_ready()

    def _on_map_ready(self, data: tasks.MapData) -> None:
        from ..core.latent.project import METHOD_LABELS, available_methods

        keep_view = self.map_data is not None and self.map_data.mean is data.mean and \
            data.projection.method == self.map_data.projection.method
        self.map_data = data
        self.status.set_progress(None)
        self.map.set_projection_methods(available_methods(int(np.prod(data.mean.shape[1:]))), METHOD_LABELS,
                                        data.projection.method)
        self.map.set_data(data, keep_view=keep_view)
        self.sliders.set_kl(data.kl_per_dim, data.active)
        if data.source is not None or not data.skipped:
            self._show_skipped(data.skipped, data.source, len(data.images))
        self._map_done = True
        self.mapReady.emit(data)
        self._update_marker()
        if self.selected is not None:
            self.map.set_selected(self.selected)
        if data.projection.method == "identity":
            self._manifold_later()
        if self.spatial_mode and self._directions_for is not data.mean:
            self._fit_directions(data)
        if self._pending_session is not None:
            self._finish_session()
        elif self.options.demo and self.state.source == "initial":
            self._demo_start()
        self._check_ready()

    # ---- spatial latents: principal directions of the mapped images, the channel view
    def _fit_directions(self, data) -> None:
        self._directions_for = data.mean
        self.spatial.summary.setText(f"fitting principal directions on {len(data.mean):,} encoded images…")
        self.worker.submit("directions", spatial_tasks.directions_and_scales, data.mean,
                           on_result=self._on_directions,
                           on_error=lambda f: self.spatial.summary.setText(f"no principal directions: {f.message}"))

    def _on_directions(self, result) -> None:
        dirs, scales = result
        self.spatial.set_directions(dirs)
        self.spatial.set_latent(self.state.z)
        self.channels.set_scales(scales)
        self._last_traversal_z = None
        self._traversal_ready = False
        self._request_traversal()
        self._check_ready()

    def _on_spatial_edited(self, z) -> None:
        if self.state.z is None:
            return
        self._note("edited with the direction / channel sliders")
        self.state.set(z, "direction sliders", origin=self.spatial, commit=False)
        self._commit_later()

    def _update_channels(self) -> None:
        if self.spatial_mode and self.state.z is not None:
            self.channels.set_latent(self.state.z)

    def _demo_start(self) -> None:
        """Open on something to look at: a 3 selected and its morph into an 8 (or the first two points)."""
        d = self.map_data
        a, b = 0, min(1, len(d.mean) - 1)
        if d.labels is not None:
            threes, eights = np.flatnonzero(d.labels == 3), np.flatnonzero(d.labels == 8)
            if len(threes) and len(eights):
                a, b = int(threes[len(threes) // 3]), int(eights[len(eights) // 3])
        self.select(a)
        self.make_morph(a, b)

    def set_projection(self, method: str) -> None:
        if self.map_data is None or method == self.map_data.projection.method:
            return
        if self.projector is None:
            self.projector = DecodeWorker(self, torch_threads=None)
            self.projector.failed.connect(self._on_failure)
            self.projector.progress.connect(self._on_progress)
            self.projector.start()
        n = len(self.map_data.mean)
        slow = " (t-SNE takes a while)" if method == "tsne" else ""
        self.map.show_message(f"Projecting {n:,} points…{slow}")
        self.status.set_progress(f"projecting with {method}…{slow}", 0, 0)
        self.projector.submit("map", tasks.reproject, self.map_data, method, on_result=self._on_map_ready,
                              on_error=self._on_map_failed)

    def _request_manifold(self) -> None:
        if self._closing or self.map_data is None or self.map_data.projection.method != "identity" \
                or not self.map.manifold_check.isChecked():
            return
        x0, x1, y0, y1 = self.map.visible_range()
        vw, vh = max(1, self.map.plot.width()), max(1, self.map.plot.height())
        nx = int(np.clip(vw / MANIFOLD_TILE_PX, 4, 40))
        ny = int(np.clip(vh / MANIFOLD_TILE_PX, 4, 40))
        self.worker.submit("manifold", tasks.manifold, x0, x1, y0, y1, nx, ny, on_result=self._on_manifold)

    def _on_manifold(self, result) -> None:
        self.map.set_manifold(*result)
        self._manifold_ready = True
        self._check_ready()

    # ================================================================ map clicks, morphs and blends
    def latent_at_map(self, x: float, y: float) -> np.ndarray:
        d = self.map_data
        if d.projection.method == "identity":
            return np.array([x, y], np.float32).reshape(d.mean.shape[1:])
        if d.interpolator is None:  # too few points for a blend: the nearest image
            return d.mean[int(np.argmin(((d.xy - (x, y)) ** 2).sum(1)))]
        return d.interpolator.latent_at((x, y))

    def _on_place_clicked(self, x: float, y: float) -> None:
        if self.map_data is None:
            return
        how = "exact" if self.map_data.projection.method == "identity" else "blend of the 3 points around it"
        self._note(f"map point ({x:.2f}, {y:.2f}), {how}")
        self._set_latent(self.latent_at_map(x, y), f"map point ({x:.2f}, {y:.2f})")

    def _label(self, i: int) -> str:
        d = self.map_data
        return f"#{i}" + ("" if d.labels is None else f" ({int(d.labels[i])})")

    def _on_morph_moved(self, a: int, x: float, y: float, b: int) -> None:
        if b >= 0:
            z, where = self.map_data.mean[b], self._label(b)
        else:
            z, where = self.latent_at_map(x, y), f"({x:.2f}, {y:.2f})"
        self._note(f"morphing {self._label(a)} → {where}")
        self._set_latent(z, f"drag {self._label(a)} → {where}", commit=False)

    def _on_morph_dropped(self, a: int, x: float, y: float, b: int) -> None:
        if b >= 0:
            self.make_morph(a, b)
        else:
            self.make_morph(a, None, end=self.latent_at_map(x, y), end_name=f"({x:.2f}, {y:.2f})")

    def make_morph(self, a: int, b: int | None, end=None, end_name: str = "") -> int:
        """Compute the morph strip from data point ``a`` to point ``b`` (or to latent ``end``)."""
        d = self.map_data
        zb = d.mean[b] if b is not None else np.asarray(end, np.float32)
        self._strip_keys = (np.stack([d.mean[a], zb]), (a, b))
        self._strip_desc = f"{self._label(a)} → {self._label(b) if b is not None else end_name}"
        return self._recompute_strip()

    def _recompute_strip(self) -> int:
        if self._strip_keys is None or self._loading:
            return -1
        keys, ends = self._strip_keys
        if self.slow:  # approximate frames at once, then the full ones decoded frame by frame
            self.worker.cancel("strip-final")
            args = (keys, self.morph.frame_count, self.morph.method_name, ends)
            return self.worker.submit("strip", spatial_tasks.strip, *args, False,
                                      on_result=lambda s: self._on_strip_approx(s, args))
        return self.worker.submit("strip", tasks.morph_strip, keys, self.morph.frame_count, self.morph.method_name,
                                  ends, on_result=self._on_strip)

    def _on_strip_approx(self, strip, args) -> None:
        self._on_strip(strip)
        self.worker.submit("strip-final", spatial_tasks.strip, *args, True, on_result=self._on_strip)

    def _on_strip(self, strip: tasks.Strip) -> None:
        self.morph.set_strip(strip, self._strip_desc + ("" if getattr(strip, "final", True) else
                                                        " · approximate frames, full ones decoding…"))
        self.stripReady.emit(strip)
        self._check_ready()

    def _on_scrub(self, k: int) -> None:
        s = self.morph.strip
        if s is None:
            return
        self._note(f"morph frame {k + 1} / {len(s.frames)}")
        self._set_latent(s.latents[k], f"morph {self._strip_desc}, frame {k + 1}", commit=False,
                         image=s.frames[k], final=getattr(s, "final", True))

    def _on_blend(self, x: float, y: float) -> None:
        from ..core.latent import barycentric
        from ..core.latent.project import blend_weights

        pins = list(self.map.pins)
        if len(pins) < 3 or self.map_data is None:
            return
        idx, w = blend_weights(self.map_data.xy[pins], (x, y))
        lat = self.map_data.mean[[pins[i] for i in idx]]
        z = barycentric(lat.reshape(len(lat), -1), w).reshape(self.map_data.mean.shape[1:])
        parts = ", ".join(f"{self._label(pins[i])} {wi:.2f}" for i, wi in zip(idx, w) if wi > 0.005)
        self._note(f"blend {parts}")
        self._set_latent(z, f"blend {parts}", commit=False)
