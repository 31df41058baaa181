"""The learned preview in the app: fitted in the background for a spatial-latent VAE, then used.

When a slow decoder with spatial latents opens (a Stable Diffusion-style VAE on the CPU), the
preview fitted for its weights earlier is installed from the cache (instant); otherwise, once
the map has encoded its images, a tiny network is fitted on (latent, image) pairs in short
``learn-preview`` chunks at the worker's lowest rank (``app/jobs/learned.py``): each chunk is one
request, so everything the user asks for runs between two chunks, and previews run inside one.
When it beats the linear preview on held-out pairs, it replaces it and the tier badge says
"approximate: learned"; the status bar says how much better it is.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ...app.jobs import learned as jobs


class LearnedPreviewController(QObject):
    #: a fit or the cache ended: its FitReport (installed or not)
    finished = Signal(object)
    #: each chunk's FitReport while fitting
    progressed = Signal(object)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.state: jobs.FitState | None = None
        self.report: jobs.FitReport | None = None
        self.chunks = 0
        self._pairs = None          # (latents, images) waiting for the cache check to end
        self._checking = False
        self.enabled = True
        ctx.models.loaded.connect(self._on_model)
        ctx.maps.ready.connect(self._on_map)

    @property
    def fitting(self) -> bool:
        return self.state is not None and self.report is None and not self._checking

    def _eligible(self) -> bool:
        s = self.ctx.models.summary
        t = getattr(s, "tiers", None)
        return bool(self.enabled and t is not None and t.slow and t.spatial and t.preview in ("linear", "none"))

    def _on_model(self, s) -> None:
        """A new model or working size: stop any fit; install the cached preview if there is one."""
        self.ctx.worker.cancel(jobs.KIND)
        self.state, self.report, self._pairs, self.chunks = None, None, None, 0
        self._checking = False
        if not self._eligible():
            return
        self._checking = True
        self.state = jobs.FitState()
        self.ctx.worker.submit(jobs.KIND, jobs.install_cached, on_result=self._on_cached,
                               on_error=lambda f: self._stop())

    def _on_cached(self, r) -> None:
        self._checking = False
        if r.installed:
            self._finish(r)
        elif r.done:  # the model cannot take one
            self.state = None
        elif self._pairs is not None:
            self._next()

    def _on_map(self, data) -> None:
        """The map's images and latents: the pairs to fit on (a second map of other images is not refitted)."""
        if self.state is None or self.report is not None or data is None or data.mean is None:
            return
        if data.mean.ndim != 4 or len(data.mean) < jobs.MIN_PAIRS:
            return
        first = self._pairs is None
        self._pairs = (data.mean, data.images)
        if first and not self._checking:
            self._next()

    def _next(self) -> None:
        latents, images = self._pairs
        self.chunks += 1
        self.ctx.worker.submit(jobs.KIND, jobs.fit_chunk, self.state, latents, images,
                               on_result=self._on_chunk, on_error=lambda f: self._stop())

    def _on_chunk(self, r) -> None:
        if self.state is None:
            return
        if not r.done:
            self.progressed.emit(r)
            self._next()
            return
        self._finish(r)

    def _finish(self, r) -> None:
        self.report = r
        if r.installed and r.tiers is not None and self.ctx.models.summary is not None:
            s = self.ctx.models.summary
            s.tiers = r.tiers
            self.ctx.models.tiersChanged.emit(s)  # the preview is redone with it; menus and caption say so
            if self.ctx.sliders is not None:
                self.ctx.sliders.refresh_traversal()  # the direction strips are approximate decodes too
            how = "from the cache" if r.cached else f"fitted in {r.seconds:.0f} s"
            self.ctx.message(f"approximate previews now learned ({how}): {r.psnr:.1f} dB against "
                             f"{r.linear_psnr:.1f} dB for the linear map on held-out images", 6000)
        elif r.done and not r.installed and r.psnr:
            self.ctx.message(f"the learned preview ({r.psnr:.1f} dB) did not beat the linear map "
                             f"({r.linear_psnr:.1f} dB) on held-out images: keeping the linear preview", 6000)
        self.finished.emit(r)

    def _stop(self) -> None:
        self.state = None
        self._checking = False

    def stop(self) -> None:
        self.ctx.worker.cancel(jobs.KIND)
        self._stop()
