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
from .model import show_notices
from .tiered import TieredPreviewer


class PreviewController(QObject):
    #: a preview is on screen (its request id)
    shown = Signal(int)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.first_preview_at: float | None = None
        self.final_seen = False      # a slow decoder's full decode has been shown (screenshots wait for it)
        self._warm_up_pending = False
        self._known_image = False    # set_latent was given the image: no decode for this change
        self._seed = 0
        self.tiered = TieredPreviewer(ctx.worker, self._show_tiered, parent=self)
        self.tiered.notices.connect(lambda notes: show_notices(ctx, notes))
        ctx.state.connect(self._on_state_changed)
        ctx.models.loading.connect(self._on_loading)
        ctx.models.loaded.connect(self._on_loaded)
        ctx.models.tiersChanged.connect(self._on_tiers)

    @property
    def seed(self) -> int:
        """The last random sample's seed."""
        return self._seed

    # ---- model events ---------------------------------------------------------------
    def _on_loading(self, spec: str) -> None:
        if self.ctx.views.preview is not None:
            self.ctx.views.preview.set_placeholder(f"Loading {spec}…")

    def _on_loaded(self, s) -> None:
        self._warm_up_pending = True  # after its first preview (see _show)
        self.final_seen = False
        self.tiered.stop()
        if self.ctx.views.tier_badge is not None:
            self.ctx.views.tier_badge.clear()
        if not self.ctx.views.built:  # the panels are still being built: show z = 0 at once
            self._preview_prior_mean(s)

    def _on_tiers(self, s) -> None:
        """Device or precision changed: redo the preview (a slow decoder may have become fast)."""
        self.tiered.stop()
        self.ctx.views.tier_badge.clear()
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
        if not self._known_image:
            self.request(self.ctx.state.z, self.ctx.state.source)

    def set_latent(self, z, source: str, origin=None, commit: bool = True, image=None, rid: int = 0,
                   seconds: float = 0.0, final: bool = True) -> None:
        """Make ``z`` the current latent; decode it unless its ``image`` is already known (``final``:
        a full decode; else an approximate one, which a slow decoder replaces when the user pauses)."""
        self._known_image = image is not None
        try:
            self.ctx.state.set(z, source, origin=origin, commit=commit)
        finally:
            self._known_image = False
        if image is not None and self.ctx.models.slow:
            self.tiered.request(self.ctx.state.z, source, image=image, final=final, seconds=seconds)
        elif image is not None:
            self._show(image, rid, source, seconds)
        if not commit:
            self.ctx.sliders.commit_later()

    def request(self, z, caption: str) -> int:
        """Ask for the decode of ``z`` (the newest request wins)."""
        if self.ctx.models.is_loading or self.ctx.closing or z is None or self.ctx.models.summary is None:
            return -1
        if self.ctx.models.slow:  # approximate now, full decode when the user pauses
            return self.tiered.request(z, caption)
        return self.ctx.worker.submit("preview", decode_jobs.decode, z, on_result=lambda d: self._on_decoded(d, caption))

    def _on_decoded(self, d, caption: str) -> None:
        self._show(d.image, self.ctx.worker.latest_id("preview") or 0, caption, d.seconds)

    def _show_tiered(self, image, rid: int, caption: str, seconds: float, final: bool) -> None:
        kind = self.tiered.preview_kind
        if not kind and self.ctx.models.summary is not None and self.ctx.models.summary.tiers is not None:
            kind = self.ctx.models.summary.tiers.preview
        self.ctx.views.tier_badge.set_tier(final, seconds, pending=not final, preview=kind)
        if final:
            self.final_seen = True
        self._show(image, rid, caption, seconds)

    def _show(self, image, rid: int, caption: str, seconds: float) -> None:
        self.ctx.views.preview.show_image(image, rid)
        self.ctx.views.status.preview_shown(seconds)
        if self.first_preview_at is None:
            self.first_preview_at = time.perf_counter()
        if self._warm_up_pending:  # the model's first preview is out: now its fast small decodes
            self._warm_up_pending = False
            self.ctx.worker.submit("warm", model_jobs.warm_up)
        self.shown.emit(rid)
        self.ctx.readiness.check()

    # ---- buttons ------------------------------------------------------------------------
    def random_sample(self) -> None:
        if self.ctx.models.summary is None or self.ctx.models.is_loading or not self.ctx.views.built:
            return
        self._seed += 1
        t, seed = self.ctx.views.temperature.value(), self._seed
        if self.ctx.models.slow:  # draw the latent only; the tiered preview decodes it
            from ...app.jobs.spatial import sample_latent

            self.ctx.worker.submit("sample", sample_latent, seed, t,
                                   on_result=lambda z: self._on_sample(z, None, seed, t))
            return
        # a "preview" request: the newest of the user's actions wins (a click on the map right after
        # Random replaces the sample, and the sample replaces a preview still pending)
        self.ctx.worker.submit("preview", decode_jobs.sample, seed, t,
                               on_result=lambda d: self._on_sample(d.z, d, seed, t))

    def _on_sample(self, z, d, seed: int, t: float) -> None:
        s = self.ctx.models.summary
        # an SD-style VAE weighs its KL by about 1e-6: its images' latents are nowhere near N(0, I)
        # (Stable Diffusion draws them with a diffusion model), so a prior sample decodes to texture
        why = (" · texture: an SD-style VAE barely weighs its KL, so its images do not lie at N(0, I)"
               if s is not None and s.resizable else "")
        self.ctx.note(f"random sample (T {t:.2f}, seed {seed}){why}")
        if d is None:
            self.set_latent(z, f"random sample T {t:.2f} seed {seed}")
        else:
            self.set_latent(z, f"random sample T {t:.2f} seed {seed}", image=d.image,
                            rid=self.ctx.worker.latest_id("preview") or 0, seconds=d.seconds)

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
        if self.ctx.state.undo():
            self.ctx.note(f"undo: {self.ctx.state.source}")

    def redo(self) -> None:
        if self.ctx.state.redo():
            self.ctx.note(f"redo: {self.ctx.state.source}")

    def stop(self) -> None:
        self.tiered.stop()
