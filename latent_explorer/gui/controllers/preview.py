"""The preview controller: the current latent -> pixels on the preview, as fast as the model allows.

It listens to ``LatentState`` (first, so the decode is asked for before anything else updates),
asks the worker for a coalescing "preview" (only the newest latent matters), or for a slow
decoder the approximate-then-final tiers (``TieredPreviewer``), and shows each frame with its
request id. It also draws random samples, copies the image or the latent, and runs undo / redo.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from ...app.jobs import decode as decode_jobs
from ...app.jobs import model as model_jobs
from ...app.jobs import tiers as tier_jobs
from .tiered import TieredPreviewer


class PreviewController(QObject):
    #: a preview is on screen (its request id)
    shown = Signal(int)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self._warm_up_pending = False
        self.tiered = TieredPreviewer(ctx.worker, self._show_tiered, parent=self)
        self.tiered.notices.connect(ctx.show_notices)
        ctx.state.connect(self._on_state_changed)
        ctx.model.events.caption.connect(self._show_caption)
        ctx.model.load_started.connect(self._on_loading)
        ctx.model.loaded.connect(self._on_loaded)
        ctx.model.tiers_changed.connect(self._on_tiers)

    @property
    def first_preview_at(self) -> float | None:
        return self.ctx.drawn.first_preview_at

    @property
    def final_seen(self) -> bool:
        """A slow decoder's full decode has been shown (screenshots wait for it)."""
        return self.ctx.drawn.final_seen

    def _show_caption(self, text: str) -> None:
        if self.ctx.views.preview is not None:
            self.ctx.views.preview.caption.setText(text)

    @property
    def seed(self) -> int:
        """The last random sample's seed (``model.sample_seed``)."""
        return self.ctx.model.sample_seed

    # ---- model events ---------------------------------------------------------------
    def _on_loading(self, spec: str) -> None:
        if self.ctx.views.preview is not None:
            self.ctx.views.preview.set_placeholder(f"Loading {spec}…")
            self.ctx.drawn.preview_image = self.ctx.views.preview.image

    def _on_loaded(self, s) -> None:
        self._warm_up_pending = True  # after its first preview (see _show)
        self.ctx.drawn.final_seen = False
        self.tiered.stop()
        if self.ctx.views.tier_badge is not None:
            self.ctx.views.tier_badge.clear()
        self.ctx.drawn.preview_final = None
        if not self.ctx.views.built:  # the panels are still being built: show z = 0 at once
            self._preview_prior_mean(s)

    def _on_tiers(self, s) -> None:
        """Device or precision changed: redo the preview (a slow decoder may have become fast)."""
        self.tiered.stop()
        self.ctx.views.tier_badge.clear()
        self.ctx.drawn.preview_final = None
        self.request(self.ctx.state.z, self.ctx.state.source)

    def _preview_prior_mean(self, s) -> None:
        z = np.zeros(s.latent_shape, np.float32)
        caption = "the prior's mean z = 0"
        if s.tiers is not None and s.tiers.slow:  # its approximate preview; the full one comes later
            self.ctx.worker.submit("preview", tier_jobs.approx, z, on_result=lambda d: self._show_prior_approx(d, caption))
        else:
            self.ctx.worker.submit("preview", decode_jobs.decode, z, on_result=lambda d: self._on_decoded(d, caption))
        self.ctx.note(caption)

    def _show_prior_approx(self, d, caption: str) -> None:
        self.tiered.preview_kind = str(d.extra.get("preview", ""))
        self._show_tiered(d.image, self.ctx.worker.latest_id("preview") or 0, caption, d.seconds, False)

    # ---- latent changes ---------------------------------------------------------------
    def _on_state_changed(self, origin) -> None:
        st = self.ctx.state
        if st.shown is None:  # decode it
            self.request(st.z, st.source)
            return
        image, final, seconds, rid = st.shown   # its caller had the image already
        if self.ctx.model.slow:
            self.tiered.request(st.z, st.source, image=image, final=final, seconds=seconds)
        else:
            self._show(image, rid, st.source, seconds)

    def set_latent(self, z, source: str, origin=None, commit: bool = True, image=None, rid: int = 0,
                   seconds: float = 0.0, final: bool = True) -> None:
        """Make ``z`` the current latent (``LatentState.set``: the preview decodes it unless its
        ``image`` is already known)."""
        self.ctx.state.set(z, source, origin=origin, commit=commit, image=image, final=final, seconds=seconds,
                           rid=rid)

    def request(self, z, caption: str) -> int:
        """Ask for the decode of ``z`` (the newest request wins)."""
        if self.ctx.model.loading or self.ctx.closing or z is None or self.ctx.model.summary is None:
            return -1
        if self.ctx.model.slow:  # approximate now, full decode when the user pauses
            return self.tiered.request(z, caption)
        return self.ctx.worker.submit("preview", decode_jobs.decode, z, on_result=lambda d: self._on_decoded(d, caption))

    def _on_decoded(self, d, caption: str) -> None:
        self._show(d.image, self.ctx.worker.latest_id("preview") or 0, caption, d.seconds)

    def _show_tiered(self, image, rid: int, caption: str, seconds: float, final: bool) -> None:
        kind = self.tiered.preview_kind
        if not kind and self.ctx.model.summary is not None and self.ctx.model.summary.tiers is not None:
            kind = self.ctx.model.summary.tiers.preview
        self.ctx.views.tier_badge.set_tier(final, seconds, pending=not final, preview=kind)
        self.ctx.drawn.preview_final = bool(final)
        if final:
            self.ctx.drawn.final_seen = True
        self._show(image, rid, caption, seconds)

    def _show(self, image, rid: int, caption: str, seconds: float) -> None:
        self.ctx.views.preview.show_image(image, rid)
        self.ctx.drawn.preview_image = self.ctx.views.preview.image
        self.ctx.preview_time(seconds)
        if self.ctx.drawn.first_preview_at is None:
            self.ctx.drawn.first_preview_at = time.perf_counter()
        if self._warm_up_pending:  # the model's first preview is out: now its fast small decodes
            self._warm_up_pending = False
            self.ctx.worker.submit("warm", model_jobs.warm_up)
        self.shown.emit(rid)

    # ---- buttons ------------------------------------------------------------------------
    def random_sample(self) -> None:
        if self.ctx.views.built:
            self.ctx.commands.random_sample()

    def copy_image(self) -> None:
        """The preview on the clipboard, scaled up by a whole factor (pixels stay crisp)."""
        from ..widgets.imaging import to_qimage, upscale

        img = self.ctx.views.preview.image if self.ctx.views.preview is not None else None
        if img is None:
            return
        QApplication.clipboard().setImage(to_qimage(upscale(img, 256)))
        self.ctx.message("preview image copied to the clipboard", 2000)

    def copy_latent(self) -> None:
        text = self.ctx.state.as_text()
        if text:
            QApplication.clipboard().setText(text)
            self.ctx.message("latent copied to the clipboard", 2000)

    def undo(self) -> None:
        self.ctx.commands.undo()

    def redo(self) -> None:
        self.ctx.commands.redo()

    def stop(self) -> None:
        self.tiered.stop()
