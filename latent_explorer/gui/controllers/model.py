"""The model controller: load a model, switch device, precision and working size, pair a preview.

Every model change is a queued, exclusive request on the worker (``app/requests.py``): it never
runs inside a running decode or encode, and several changes made within a moment all take
effect, in order. It owns what the app knows of the model (``summary``, ``slow``, ``spatial``,
``model_hash``) and tells the rest through signals: ``loaded`` (a new model, or a new working
size: everything is rebuilt), ``tiersChanged`` (device or decoding settings: previews redone),
``loadFailed``.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog

from ...app.jobs import model as model_jobs
from .. import memory
from ...app.jobs import tiers as tier_jobs

from ...core.models.loading import BUNDLED_MODELS

BUNDLED = tuple(BUNDLED_MODELS)  # File → Bundled model lists them all, in the core's order


class ModelController(QObject):
    #: a new model is loading (its spec)
    loading = Signal(str)
    #: a model (or a model at a new working size) is loaded: its ModelSummary
    loaded = Signal(object)
    #: a load failed and the window keeps what it had (the message)
    loadFailed = Signal(str)
    #: device, precision or preview decoder changed: the summary
    tiersChanged = Signal(object)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.summary = None
        self.spec: str | None = None
        self.model_hash: str | None = None   # weights hash ("" if it has none); None until known
        self.is_loading = False
        self.slow = False       # its full decode takes seconds: tiered previews
        self.spatial = False    # C×h×w latents
        self.exit_code = 0
        #: called with the failure message when a load fails; returns True when it handled it
        #: (the session controller falls back to another model when a session's model is missing)
        self.fallback = None

    # ---- requests -----------------------------------------------------------------
    def load(self, spec: str, first: bool = False, own_images: bool = False) -> int:
        """Open model ``spec``; with ``own_images`` the map shows the model's own images (its dataset, or
        the folder it was trained on) instead of the images open now."""
        o = self.ctx.options
        if own_images:
            o.images = None
        self._begin(f"loading {spec}…", spec)
        return self.ctx.worker.submit("load", model_jobs.load, spec, o.device if first else "auto", o.precision,
                                      o.allow_pickle, o.size, on_result=self._on_loaded, on_error=self._on_failed)

    def adopt(self, model) -> int:
        """Use a ready LatentModel (tests, scripts) instead of loading one."""
        self._begin("using the given model…", getattr(model, "spec", "model"))
        return self.ctx.worker.submit("load", _adopt, model, on_result=self._on_loaded, on_error=self._on_failed)

    def _begin(self, text: str, spec: str) -> None:
        self.is_loading = True
        self.spec = spec
        # a newer model replaces one still waiting to load (only the newest is applied); coalescing
        # work on the old model stops; queued exports still run first, on the model they were made of
        self.ctx.worker.cancel("load")
        self.ctx.worker.cancel("size")
        self.ctx.worker.cancel_all()
        self.ctx.maps.cancel_projection()
        self.ctx.views.status.set_progress(text, 0, 0, cancellable=False)  # a load cannot be stopped
        self.loading.emit(spec)

    def set_working_size(self, size) -> int:
        """Work at ``size`` px, an int (square) or (H, W) (Stable Diffusion-style VAEs): more detail,
        slower decodes. The latent changes shape, so the map is encoded again from z = 0."""
        hw = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)
        s = self.summary
        if s is None or self.is_loading or not s.resizable or tuple(s.image_size) == hw:
            return -1
        self.ctx.options.size = hw
        self._begin(f"working size {hw[1]} × {hw[0]} px…", s.spec)
        return self.ctx.worker.submit("size", model_jobs.set_size, hw, on_result=self._on_loaded,
                                      on_error=self._on_failed)

    def _say_if_waiting(self, what: str) -> None:
        """Model changes wait for a running encode (they never run inside one): say so."""
        if self.ctx.worker.is_busy("map"):
            self.ctx.message(f"{what} once the images are encoded", 5000)

    def set_device(self, device: str) -> int:
        """Decode on ``device``; while a model is loading, it moves there once loaded."""
        self._say_if_waiting(f"switching to {device}")
        return self.ctx.worker.submit(
            "device", model_jobs.set_device, device, on_result=self._on_tiers,
            on_error=lambda f: self.ctx.error(f"Could not switch device: {f.message}", dialog=True))

    def set_reduced_precision(self, on: bool) -> int:
        """Device → Fast bf16 full decode: switch the loaded VAE's full decode (and later loads)."""
        prec = "bf16" if on else "fp32"
        self.ctx.options.precision = prec
        if self.summary is None and not self.is_loading:
            return -1
        self._say_if_waiting(f"full decodes in {prec}")
        return self.ctx.worker.submit(
            "precision", _set_precision, prec, on_result=self._on_tiers,
            on_error=lambda f: self.ctx.error(f"Could not change the precision: {f.message}"))

    def pair_preview_decoder(self, spec: str) -> int:
        """Use a TAESD model (folder, file or hub id) for the approximate preview of a slow decoder."""
        if self.summary is None:
            return -1
        return self.ctx.worker.submit(
            "pair", _pair, spec, on_result=self._on_paired,
            on_error=lambda f: self.ctx.error(f"Could not pair {spec}: {f.message}", dialog=True))

    # ---- results ------------------------------------------------------------------
    def _on_loaded(self, summary) -> None:
        self.is_loading = False
        self.summary = summary
        self.spec = summary.spec
        self.model_hash = None
        self.slow = bool(summary.tiers is not None and summary.tiers.slow)
        self.spatial = bool(summary.tiers is not None and summary.tiers.spatial)
        self.ctx.views.status.set_progress(None)
        self.loaded.emit(summary)
        self.ctx.worker.submit("hash", _hash, on_result=self._on_hash)  # after the first preview

    def _on_hash(self, h: str) -> None:
        self.model_hash = h

    def _on_failed(self, failure) -> None:
        self.is_loading = False
        self.ctx.views.status.set_progress(None)
        if self.summary is not None:
            self.spec = self.summary.spec
        if self.fallback is not None and self.fallback(failure.message):
            return
        if self.summary is None:
            self.exit_code = 2
        self.ctx.error(f"Could not load the model: {failure.message}", dialog=True)
        self.loadFailed.emit(failure.message)

    def _on_tiers(self, summary) -> None:
        """Device or precision changed: same model, same latents; previews are redone."""
        if self.summary is None:
            return
        self.summary = summary
        self.slow = bool(summary.tiers is not None and summary.tiers.slow)
        self.tiersChanged.emit(summary)
        t = summary.tiers
        self.ctx.message(f"now decoding on {summary.device}" + (f" · full decodes in {t.dtype}" if t else ""), 3000)

    def _on_paired(self, summary) -> None:
        self._on_tiers(summary)
        self.ctx.message(f"approximate previews now from {summary.tiers.preview}", 4000)

    def describe(self) -> str:
        s = self.summary
        ev = (s.metrics or {}).get("evaluate") or {}
        extra = f" · test −ELBO {ev['neg_elbo_nats']:.1f} nats" if "neg_elbo_nats" in ev else ""
        if s.tiers is not None and s.tiers.slow:
            kind = {"taesd": "TAESD", "linear": "linear map", "learned": "learned from the map"}.get(s.tiers.preview, s.tiers.preview)
            extra += f" · approximate preview while you drag ({kind}), full decode when you pause"
        return s.describe() + extra

    # ---- dialogs ------------------------------------------------------------------
    def open_folder_dialog(self) -> None:
        d = memory.open_folder(self.ctx.window, "Open a model folder (config.json + weights)")
        if d:
            self.load(d, own_images=True)

    def open_file_dialog(self) -> None:
        f = memory.open_path(self.ctx.window, "Open a VAE weights file", "safetensors (*.safetensors)")
        if f:
            self.load(f, own_images=True)

    def open_spec_dialog(self) -> None:
        spec, ok = QInputDialog.getText(self.ctx.window, "Open model",
                                        "Bundled name, folder, .safetensors file or hub id:")
        if ok and spec.strip():
            self.load(spec.strip(), own_images=True)

    def pair_dialog(self) -> None:
        d = memory.open_folder(self.ctx.window, "Pair a TAESD (AutoencoderTiny) folder for fast previews")
        if d:
            self.pair_preview_decoder(d)


# ---- jobs (worker thread) ----------------------------------------------------------
def _adopt(ctx, model):
    ctx.set_model(model)
    return model_jobs.summarize(model)


def _hash(ctx) -> str:
    return model_jobs.model_hash(ctx)


def _set_precision(ctx, precision: str):
    tier_jobs.set_precision(ctx, precision)
    return model_jobs.summarize(ctx.model)


def _pair(ctx, spec: str):
    tier_jobs.pair_preview(ctx, spec)
    return model_jobs.summarize(ctx.model)


def show_model(ctx, s) -> None:
    """The window's title, the model caption, the menus and the status bar for summary ``s``."""
    ctx.window.setWindowTitle(f"latent-explorer — {s.name}")
    menus = ctx.views.menus
    menus.show_model(s.spec)
    menus.fill_devices(s.devices, s.device)
    menus.show_working_size(s)
    menus.show_tiers(s.tiers)
    t = s.tiers
    ctx.views.status.set_device(f"{s.device} · {t.dtype}" if t is not None and t.lowp_supported else s.device)
    if ctx.views.model_label is not None:
        ctx.views.model_label.setText(ctx.models.describe())
    if t is not None and t.notices:
        show_notices(ctx, t.notices)


def show_notices(ctx, notes: list) -> None:
    """Fallbacks the model made (fp32 after a bf16 overflow, tiles or CPU after out-of-memory)."""
    if not notes:
        return
    text = "; ".join(dict.fromkeys(str(n) for n in notes))
    ctx.views.banner.show_error(f"Note: {text}")
    ctx.message(text, 8000)
    s = ctx.models.summary
    if s is not None and s.tiers is not None:
        ctx.views.status.set_device(f"{s.device} · {'float32' if 'fp32' in text else s.tiers.dtype}")
