"""Model actions of the main window: the ``ModelActions`` mixin of ``MainWindow``.

It loads a model (a bundled name, a folder, a weights file, a spec or hub id) and applies it to the
panels, switches the device and the full decode's precision, pairs a TAESD preview decoder with a
slow decoder and shows the notices a model has for the user; it also opens images for the map
(dialogs, or folders and files dropped on the window) and shows the skipped-files report. The
bundled model names and the slider legends live here; main_window imports them.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog

BUNDLED = ("digits", "digits-2d", "shapes")
LEGEND_DIMS = ("sliders span the prior's ±3 · blue band: selected image's μ ± σ · "
               "badge: KL in nats (sorted; grey = unused) · strip: that dimension swept −3 → +3")
LEGEND_SPATIAL = ("PC sliders: principal directions of the encoded images, each spanning ±3 std of the images "
                  "along it · badge: share of their variance · strip: that direction swept · channels: offset "
                  "shifts a channel, gain scales it about its mean")

# numpy and the worker's task functions: filled in by main_window._import_late(), with its own
np = tasks = spatial_tasks = None


class ModelActions:
    """Loading models, device and precision, preview tiers, opening images, the skipped-files report.

    A mixin of ``MainWindow`` (a QMainWindow). It relies on the window's worker, projector, options,
    status, banner, summary, model_hash, exit_code, map_data, selected, state, the session attributes
    (_pending_session, session_notes), the per-model flags that ``_apply_model`` resets (_loading,
    slow, spatial_mode, _final_seen, _map_done, _ready_sent, _strip_keys, _directions_for,
    _traversal_ready, _manifold_ready, _last_traversal_z), the panels built in ``_build_views``
    (preview, recon, map, morph, sliders, spatial, channels, tiered, tier_badge, model_label,
    slider_stack, channel_panel, legend, sliders_heading), the menu actions (model_actions,
    pair_action, lowp_action), the skipped-files dock (skipped_panel, skipped_dock, skipped_link),
    the modelLoaded signal, and on methods of the window and of the other mixins (build_map,
    _recompute_strip, _request_preview, _preview_before_panels, _show_no_model, _note, _set_controls_enabled, _fill_device_menu,
    _finish_session, _on_model_hash, show_error, _check_ready).
    """

    # ================================================================ model
    def load_model(self, spec: str, first: bool = False) -> None:
        self._loading = True
        self.worker.cancel_all()
        if self.projector is not None:
            self.projector.cancel_all()
        self._model_spec = spec
        self.status.set_progress(f"loading {spec}…", 0, 0)
        if self.views_built:
            self.preview.set_placeholder(f"Loading {spec}…")
        self.worker.submit("load", tasks.load, spec, self.options.device if first else "auto",
                           self.options.precision, self.options.allow_pickle, self.options.size,
                           on_result=self._on_model_loaded, on_error=self._on_load_failed)

    def _on_model_loaded(self, summary: tasks.ModelSummary) -> None:
        self._loading = False
        self.summary = summary
        self.model_hash = None
        self._warm_up_pending = True  # after its first preview (see _show_preview_image)
        self.status.set_progress(None)
        self.modelLoaded.emit(summary)
        if self.views_built:
            self._apply_model(summary)
        elif self.preview is not None:  # the map and sliders are still being built
            self._preview_before_panels(summary)
        self.worker.submit("hash", tasks.model_hash, on_result=self._on_model_hash)  # after the preview

    def _on_load_failed(self, failure) -> None:
        self._loading = False
        self.status.set_progress(None)
        msg = failure.message
        pending = self._pending_session
        if pending is not None and pending.model_spec != BUNDLED[0] and (
                self.summary is None or self.summary.spec != pending.model_spec):
            # the session's model is missing: say so, and open what we can on another model
            self.session_notes.append(f"the session's model {pending.model_spec!r} could not be loaded ({msg})")
            if self.summary is None:
                self.options.images = None
                self.load_model(BUNDLED[0])
            else:
                self._finish_session()
            return
        if self.summary is None:  # nothing to fall back on
            self.exit_code = 2
            if self.views_built:
                self._show_no_model()
            self._map_done = True
        else:
            for name, a in self.model_actions.items():
                a.setChecked(name == self.summary.spec)
            self._resume_after_failed_load()
        self.show_error(f"Could not load the model: {msg}", dialog=True)
        self._check_ready(failed=self.summary is None)

    def _describe_model(self, s) -> str:
        ev = (s.metrics or {}).get("evaluate") or {}
        extra = ""
        if "neg_elbo_nats" in ev:
            extra = f" · test −ELBO {ev['neg_elbo_nats']:.1f} nats"
        if s.tiers is not None and s.tiers.slow:
            kind = {"taesd": "TAESD", "linear": "linear map"}.get(s.tiers.preview, s.tiers.preview)
            extra += f" · approximate preview while you drag ({kind}), full decode when you pause"
        return s.describe() + extra

    def _resume_after_failed_load(self) -> None:
        """A failed open leaves the current model loaded: put back what loading it cancelled."""
        if not self.views_built:
            return
        self.preview.set_placeholder("")
        if self.map_data is None and not self._map_done:
            self.build_map()
        elif self.state.z is not None:
            self._request_preview(self.state.z, self.state.source)
        if self._strip_keys is not None and self.morph.strip is None:
            self._recompute_strip()

    def _apply_model(self, s: tasks.ModelSummary) -> None:
        from ..core.latent.directions import is_spatial

        self.setWindowTitle(f"latent-explorer — {s.name}")
        for name, a in self.model_actions.items():
            a.setChecked(name == s.spec)
        self._fill_device_menu(s.devices, s.device)
        self._show_working_size(s)
        tiers = s.tiers
        self.slow = bool(tiers is not None and tiers.slow)
        self.spatial_mode = is_spatial(s.latent_shape)
        self._final_seen = False
        self.tiered.stop()
        self.tier_badge.clear()
        self._apply_tiers(tiers, s.device)
        self.model_label.setText(self._describe_model(s))
        self.slider_stack.setCurrentWidget(self.spatial if self.spatial_mode else self.sliders)
        self.channel_panel.setVisible(self.spatial_mode)
        self.legend.setText(LEGEND_SPATIAL if self.spatial_mode else LEGEND_DIMS)
        self.sliders_heading.setText("Latent directions and channels" if self.spatial_mode else "Latent dimensions")
        if self.spatial_mode:
            self.spatial.set_shape(s.latent_shape)
            self.channels.set_scales(None)
            self._directions_for = None
        self.map_data = None
        self.selected = None
        self._map_done = False
        self._ready_sent = False
        self._strip_keys = None
        self._traversal_ready = False
        self._manifold_ready = False
        self._last_traversal_z = None
        self.morph.clear()
        self.recon.clear()
        self.sliders.set_dims(s.latent_size)
        self._set_controls_enabled(True)
        self.state.reset(np.zeros(s.latent_shape, np.float32), "initial")
        self._note("the prior's mean z = 0")
        self.build_map()

    def set_working_size(self, size) -> int:
        """Work at ``size`` px, an int (square) or (H, W) (Stable Diffusion-style VAEs): more detail,
        slower decodes. The latent changes shape, so the map is encoded again from z = 0."""
        hw = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)
        if self.summary is None or not self.summary.resizable or self._loading \
                or tuple(self.summary.image_size) == hw:
            return -1
        self.options.size = hw
        self._loading = True
        self.worker.cancel_all()
        if self.projector is not None:
            self.projector.cancel_all()
        self.status.set_progress(f"working size {hw[1]} × {hw[0]} px…", 0, 0)
        return self.worker.submit("load", tasks.set_size, hw, on_result=self._on_model_loaded,
                                  on_error=self._on_load_failed)

    def _show_working_size(self, s) -> None:
        self.size_menu.setEnabled(bool(s.resizable))
        h, w = s.image_size
        for a in self.size_group.actions():
            a.setChecked(bool(s.resizable) and h == w == a.data())

    def set_device(self, device: str) -> None:
        self.worker.submit("load", tasks.set_device, device, on_result=self._on_device_changed,
                           on_error=lambda f: self.show_error(f"Could not switch device: {f.message}", dialog=True))

    def _on_device_changed(self, s: tasks.ModelSummary) -> None:
        self.summary = s
        self._fill_device_menu(s.devices, s.device)
        self._apply_tiers(s.tiers, s.device)
        slow = bool(s.tiers is not None and s.tiers.slow)  # the SD VAE is fast on a GPU, slow on the CPU
        if slow != self.slow:
            self.slow = slow
            self.tiered.stop()
            self.tier_badge.clear()
            self._request_preview(self.state.z, self.state.source)
        self.statusBar().showMessage(f"now decoding on {s.device}", 3000)

    # ---- precision of the full decode, and what the model has to tell the user
    def _apply_tiers(self, tiers, device: str) -> None:
        """Device label, the bf16 setting (on by default where it is fast), the model's notices."""
        a = self.lowp_action
        self.pair_action.setEnabled(bool(tiers is not None and tiers.slow))
        supported = bool(tiers is not None and tiers.lowp_supported)
        a.blockSignals(True)
        a.setEnabled(supported)
        a.setChecked(supported and tiers.precision != "fp32")
        a.blockSignals(False)
        if supported:
            where = ", ".join(tiers.lowp_units) if tiers.lowp_units else ""
            a.setToolTip(f"decode in bf16: about 2.5× faster here ({where}); checked for NaN/Inf and redone in fp32"
                         if tiers.lowp_default else
                         "decode in bf16: this CPU has no bf16 units, so it would be slower than fp32")
            self.status.set_device(f"{device} · {tiers.dtype}")
        else:
            self.status.set_device(device)
        if tiers is not None and tiers.notices:
            self._show_notices(tiers.notices)

    def _pair_preview_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Pair a TAESD (AutoencoderTiny) folder for fast previews")
        if d:
            self.pair_preview_decoder(d)

    def pair_preview_decoder(self, spec: str) -> int:
        """Use a TAESD model (folder, file or hub id) for the approximate preview of a slow decoder."""
        if self.summary is None:
            return -1
        return self.worker.submit("load", spatial_tasks.pair_preview, spec, on_result=self._on_paired,
                                  on_error=lambda f: self.show_error(f"Could not pair {spec}: {f.message}",
                                                                     dialog=True))

    def _on_paired(self, tiers) -> None:
        self._on_precision_changed(tiers)
        self.model_label.setText(self._describe_model(self.summary))
        self.statusBar().showMessage(f"approximate previews now from {tiers.preview}", 4000)

    def set_reduced_precision(self, on: bool) -> None:
        """Device → Fast bf16 full decode: switch the loaded VAE's full decode (and later loads)."""
        prec = "bf16" if on else "fp32"
        self.options.precision = prec
        if self.summary is None:
            return
        self.worker.submit("load", spatial_tasks.set_precision, prec, on_result=self._on_precision_changed,
                           on_error=lambda f: self.show_error(f"Could not change the precision: {f.message}"))

    def _on_precision_changed(self, tiers) -> None:
        if self.summary is not None:
            self.summary.tiers = tiers
            self._apply_tiers(tiers, self.summary.device)
        self.statusBar().showMessage(f"full decodes now in {tiers.dtype}", 3000)
        self.slow = bool(tiers.slow)
        if self.slow and self.state.z is not None:
            self._request_preview(self.state.z, self.state.source)

    def _show_notices(self, notes: list) -> None:
        """Fallbacks the model made (fp32 after a bf16 overflow, tiles or CPU after out-of-memory)."""
        if notes:
            text = "; ".join(dict.fromkeys(str(n) for n in notes))
            self.banner.show_error(f"Note: {text}")
            self.statusBar().showMessage(text, 8000)
            if self.summary is not None and self.summary.tiers is not None:
                self.status.set_device(f"{self.summary.device} · "
                                       f"{'float32' if 'fp32' in text else self.summary.tiers.dtype}")

    def _open_model_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a model folder (config.json + weights)")
        if d:
            self.load_model(d)

    def _open_model_file(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "Open a VAE weights file", "", "safetensors (*.safetensors)")
        if f:
            self.load_model(f)

    def _open_model_spec(self) -> None:
        spec, ok = QInputDialog.getText(self, "Open model", "Bundled name, folder, .safetensors file or hub id:")
        if ok and spec.strip():
            self.load_model(spec.strip())

    def _open_images(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a folder of images to map")
        if d:
            self.open_images(d)

    def _open_image_files(self) -> None:
        from ..core.data.images import IMAGE_EXTENSIONS

        pattern = " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Open images to map", "", f"Images ({pattern});;All files (*)")
        if files:
            self.open_images(files)

    def open_images(self, source) -> None:
        """Map a folder (scanned lazily on the worker) or a list of image files."""
        if isinstance(source, (list, tuple)):
            source = [str(p) for p in source]
        else:
            source = str(source)
        self.options.images = source
        if self.summary is not None and not self._loading:
            self.build_map()

    # ---- drag and drop: a folder, or image files, dropped anywhere on the window
    @staticmethod
    def _dropped_paths(mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]

    def dragEnterEvent(self, ev) -> None:
        paths = self._dropped_paths(ev.mimeData())
        if paths and all(p.is_dir() or p.is_file() for p in paths):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev) -> None:
        self.dragEnterEvent(ev)

    def dropEvent(self, ev) -> None:
        paths = self._dropped_paths(ev.mimeData())
        if not paths:
            ev.ignore()
            return
        ev.acceptProposedAction()
        dirs = [p for p in paths if p.is_dir()]
        if len(dirs) == 1 and len(paths) == 1:
            self.open_images(str(dirs[0]))
        else:
            from ..core.data.images import iter_image_files

            files = []
            for p in paths:  # folders among several dropped items contribute their images
                files.extend(iter_image_files(p) if p.is_dir() else [p])
            self.open_images([str(f) for f in files])

    # ---- the skipped-files report
    def _show_skipped(self, skipped: list, source, imported: int) -> None:
        self.skipped_panel.set_report(skipped, source, imported if source is not None else None)
        self.skipped_link.set_count(len(skipped))
        if skipped:
            first, why = skipped[0]
            self.statusBar().showMessage(f"{len(skipped)} file(s) skipped, e.g. {Path(first).name}: {why}", 8000)

    def show_skipped_report(self) -> None:
        self.skipped_dock.show()
        self.skipped_dock.raise_()
