"""The model controller: load a model, switch device, precision and working size, pair a preview.

Every model change is a queued, exclusive request on the worker (``app/requests.py``): it never
runs inside a running decode or encode, and several changes made within a moment all take
effect, in order. What the app knows of the model (``summary``, ``loading``, ``model_hash``) is
written to the application model (``app/model.py``), whose signals tell the rest: ``loaded`` (a
new model, or a new working size: everything is rebuilt), ``tiers_changed`` (device or decoding
settings: previews redone), ``load_failed``.
"""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from .. import memory

from ...core.models.loading import BUNDLED_MODELS

BUNDLED = tuple(BUNDLED_MODELS)  # File → Bundled model lists them all, in the core's order


class ModelController(QObject):
    """Model changes on the worker; what they give is written to the application model
    (``summary``, ``loading``, ``spec``, ``model_hash``), which tells everyone else through its
    signals ``load_started``, ``loaded``, ``load_failed`` and ``tiers_changed``."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.exit_code = 0
        m = ctx.model
        m.load_started.connect(self._on_load_started)
        m.loaded.connect(self._on_loaded)
        m.load_failed.connect(self._on_failed)

    # what the app knows of the model lives in the application model; these read it there
    @property
    def summary(self):
        return self.ctx.model.summary

    @property
    def spec(self) -> str | None:
        return self.ctx.model.spec

    @property
    def model_hash(self) -> str | None:
        return self.ctx.model.model_hash

    @property
    def is_loading(self) -> bool:
        return self.ctx.model.loading

    @property
    def slow(self) -> bool:
        return self.ctx.model.slow

    @property
    def spatial(self) -> bool:
        return self.ctx.model.spatial

    # ---- requests: the commands do them; this controller shows what happens ----------------
    def load(self, spec: str, first: bool = False, own_images: bool = False) -> int:
        """Open model ``spec``; with ``own_images`` the map shows the model's own images (its dataset, or
        the folder it was trained on) instead of the images open now."""
        return self.ctx.commands.open_model(spec, own_images=own_images, first=first)

    def adopt(self, model) -> int:
        """Use a ready LatentModel (tests, scripts) instead of loading one."""
        return self.ctx.commands.adopt(model)

    def set_working_size(self, size) -> int:
        return self.ctx.commands.set_working_size(size)

    def set_device(self, device: str) -> int:
        return self.ctx.commands.set_device(device)

    def set_reduced_precision(self, on: bool) -> int:
        """Device → Fast bf16 full decode: switch the loaded VAE's full decode (and later loads)."""
        return self.ctx.commands.set_precision("bf16" if on else "fp32")

    def pair_preview_decoder(self, spec: str) -> int:
        """Use a TAESD model (folder, file or hub id) for the approximate preview of a slow decoder."""
        return self.ctx.commands.pair_preview(spec)

    # ---- what the model does, shown -------------------------------------------------------
    def _on_load_started(self, spec: str, words: str) -> None:
        self.ctx.progress(words)  # a load cannot be stopped

    def _on_loaded(self, summary) -> None:
        self.ctx.progress(None)

    def _on_failed(self, message: str) -> None:
        self.ctx.progress(None)
        if self.ctx.model.summary is None:
            self.exit_code = 2
        self.ctx.error(f"Could not load the model: {message}", dialog=True)

    def describe(self) -> str:
        return describe(self.summary)

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



def describe(s) -> str:
    """The model caption above the sliders: what it is, its test −ELBO, how it previews."""
    ev = (s.metrics or {}).get("evaluate") or {}
    extra = f" · test −ELBO {ev['neg_elbo_nats']:.1f} nats" if "neg_elbo_nats" in ev else ""
    if s.tiers is not None and s.tiers.slow:
        kind = {"taesd": "TAESD", "linear": "linear map", "learned": "learned from the map"}.get(s.tiers.preview,
                                                                                              s.tiers.preview)
        extra += f" · approximate preview while you drag ({kind}), full decode when you pause"
    return s.describe() + extra
