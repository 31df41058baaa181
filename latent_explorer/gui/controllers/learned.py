"""The learned preview in the app: fitted in the background for a spatial-latent VAE, then used.

When a slow decoder with spatial latents opens (a Stable Diffusion-style VAE on the CPU), the
preview fitted for its weights earlier is installed from the cache (instant); otherwise, once
the map has encoded its images, a tiny network is fitted on (latent, image) pairs in short
``learn-preview`` chunks at a low rank (``app/jobs/learned.py``): each chunk is one request, so
everything the user asks for runs between two chunks, and previews run inside one. When it
beats the linear preview on held-out pairs, it replaces it and the tier badge says
"approximate: learned"; the status bar says how much better it is.

Then, since the preview stands in for the full decode and not for the image, the map's latents
are fully decoded in the background (``app/jobs/learned_decodes.py``, kind ``learn-decode``, the
lowest rank): a chunk is asked for only after the user has left the worker alone for
``IDLE_MS`` (nothing of any other kind waiting or running then, and none delivered or failed
during the wait: a final decode of seconds restarts the wait when it ends), and a chunk gives way to any
request that arrives while it decodes. Once the capped set of decodes is made, the preview is
fitted again on them, starting from the installed preview's weights (a warm start in fewer
steps; afresh when none is installed), and replaces the first one only if it is closer to the
full decodes of held-out latents. A preview cached from images only is improved this way on a later opening.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ...app.jobs import learned as jobs
from ...app.jobs import learned_decodes as decodes

#: the worker has delivered nothing the user asked for in this long: a background decode may start
IDLE_MS = 1500


class LearnedPreviewController(QObject):
    #: a fit or the cache ended: its FitReport (installed or not)
    finished = Signal(object)
    #: each chunk's FitReport while fitting
    progressed = Signal(object)
    #: each background decode chunk's DecodeReport
    decoded = Signal(object)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.state: jobs.FitState | None = None
        self.report: jobs.FitReport | None = None
        self.targets: decodes.DecodeTargets | None = None   # the background decodes, while they are made
        self.chunks = 0               # fitting chunks asked for
        self.decode_chunks = 0        # decode chunks that reported
        self.last_decode: decodes.DecodeReport | None = None
        self._pairs = None            # the map's (latents, images); images None once the decodes replace them
        self._fit = None              # (latents, images, targets) of the fit running
        self._checking = False
        self._active = False          # this model takes a learned preview
        self.enabled = True
        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.setInterval(IDLE_MS)
        self.idle.timeout.connect(self._decode_next)
        ctx.model.loaded.connect(self._on_model)
        ctx.model.load_failed.connect(self._resume)
        ctx.model.events.map.connect(lambda d: d is not None and self._on_map(d))
        ctx.worker.finished.connect(self._on_worker_result)
        ctx.worker.failed.connect(self._on_worker_failure)

    @property
    def fitting(self) -> bool:
        return self._fit is not None

    @property
    def decoding(self) -> bool:
        return self.targets is not None

    def _eligible(self) -> bool:
        s = self.ctx.model.summary
        t = getattr(s, "tiers", None)
        return bool(self.enabled and t is not None and t.slow and t.spatial and t.preview in ("linear", "none"))

    def _on_model(self, s) -> None:
        """A new model or working size: stop any fit or decode; install the cached preview if there is one."""
        self.stop()
        if not self._eligible():
            return
        self._active = self._checking = True
        self.state = jobs.FitState()
        self.ctx.worker.submit(jobs.KIND, jobs.install_cached, on_result=self._on_cached,
                               on_error=lambda f: self._halt())

    def _on_cached(self, r) -> None:
        self._checking = False
        if r.installed:
            self._finish(r)
        elif r.done:  # the model cannot take one
            self._halt()
        elif self._pairs is not None:
            self._start_fit(*self._pairs, "images")

    def _on_map(self, data) -> None:
        """The map's images and latents: the pairs to fit on (a second map of other images is not refitted)."""
        if not self._active or self._pairs is not None or data is None or data.mean is None:
            return
        if data.mean.ndim != 4 or len(data.mean) < jobs.MIN_PAIRS:
            return
        self._pairs = (data.mean, data.images)
        if self._checking:
            return
        if self.report is None:
            self._start_fit(*self._pairs, "images")
        elif self.report.targets == "images" and not self.report.decodes_checked:  # cached from images:
            self._start_decodes()                                                  # try full decodes too

    # ---- fitting ------------------------------------------------------------------
    def _start_fit(self, latents, images, targets: str) -> None:
        self.state = jobs.FitState()
        self._fit = (latents, images, targets)
        self._next()

    def _next(self) -> None:
        latents, images, targets = self._fit
        self.chunks += 1
        self.ctx.worker.submit(jobs.KIND, jobs.fit_chunk, self.state, latents, images, targets=targets,
                               on_result=self._on_chunk, on_error=lambda f: self._halt())

    def _on_chunk(self, r) -> None:
        if self.state is None:
            return
        if not r.done:
            self.progressed.emit(r)
            self._next()
            return
        self.state, self._fit = None, None  # (the fitter holds its pairs: let them go)
        self._finish(r)

    def _finish(self, r) -> None:
        self.report = r
        decoded = r.targets == "decodes"
        if r.installed and r.tiers is not None and self.ctx.model.summary is not None:
            s = self.ctx.model.summary
            s.tiers = r.tiers
            # the preview and the strips (approximate decodes too) are redone with it; menus and caption say so
            self.ctx.model.tiers_changed.emit(s)
            how = "from the cache" if r.cached else f"fitted in {r.seconds:.0f} s"
            what = "full decodes" if decoded else "images"
            self.ctx.message(f"approximate previews now learned from the map's {what} ({how}): {r.psnr:.1f} dB "
                             f"against {r.linear_psnr:.1f} dB for the linear map on held-out {what}", 6000)
        elif r.done and not r.installed and r.psnr:
            rival = (f"the preview in use ({r.previous_psnr:.1f} dB)" if r.previous_psnr > r.linear_psnr + 0.05
                     else f"the linear map ({r.linear_psnr:.1f} dB)")
            self.ctx.message(f"the preview learned from {'full decodes' if decoded else 'images'} "
                             f"({r.psnr:.1f} dB) did not beat {rival}: keeping that one", 6000)
        self.finished.emit(r)
        if r.targets == "images" and not r.decodes_checked and (r.installed or r.psnr) and self._pairs is not None:
            self._start_decodes()

    # ---- background decodes -------------------------------------------------------
    def _start_decodes(self) -> None:
        latents, images = self._pairs
        targets = decodes.new_targets(latents, images.shape[1:3])
        if len(targets.order) < jobs.MIN_PAIRS:  # too few to fit on (a tiny map, huge images)
            return
        self.targets = targets
        self._pairs = (latents, None)  # the full decodes replace the images: let them go
        self.idle.start()

    def _on_worker_result(self, kind: str, *_):
        """Something the user asked for ended: the worker is not idle yet; wait again from now."""
        if kind not in (jobs.KIND, decodes.KIND) and self.idle.isActive():
            self.idle.start()

    def _on_worker_failure(self, failure) -> None:
        self._on_worker_result(failure.kind)

    def _decode_next(self) -> None:
        if self.targets is None:
            return
        if not self.ctx.worker.quiet(ignore=(jobs.KIND, decodes.KIND)):
            # a request waits or runs (a final decode of seconds): wait; its end restarts the wait
            self.idle.start()
            return
        self.ctx.worker.submit(decodes.KIND, decodes.decode_chunk, self.targets, self._pairs[0],
                               on_result=self._on_decoded, on_error=lambda f: self._halt())

    def _on_decoded(self, r) -> None:
        if self.targets is None:
            return
        if r.stopped:  # the model no longer takes them (a TAESD was paired): end the decodes
            self.targets = None
            self.idle.stop()
            return
        self.decode_chunks += 1
        self.last_decode = r
        self.decoded.emit(r)
        if r.done:
            latents, full = decodes.pairs(self.targets, self._pairs[0])
            self.ctx.message(f"{len(full)} full decodes made in the background ({r.seconds:.0f} s): "
                             "fitting the approximate preview to them", 4000)
            self.targets = None
            self._start_fit(latents, full, "decodes")
        elif r.yielded:  # the user is back: wait until they leave the worker alone again
            self.idle.start()
        else:
            self._decode_next()

    def _resume(self, _message: str = "") -> None:
        """A load failed: the weights are those the work was for, but the load cancelled the request in
        flight (a cancelled request reports nothing): ask for it again."""
        if not self._active:
            return
        if self._checking:
            self.ctx.worker.submit(jobs.KIND, jobs.install_cached, on_result=self._on_cached,
                                   on_error=lambda f: self._halt())
        elif self._fit is not None:
            self._next()
        elif self.targets is not None:
            self.idle.start()

    def _halt(self) -> None:
        """Stop fitting and decoding (a failure, the model cannot take a learned preview); the report stays."""
        self.ctx.worker.cancel(jobs.KIND)
        self.ctx.worker.cancel(decodes.KIND)
        self.idle.stop()
        self.state, self._fit, self.targets = None, None, None
        self._checking = self._active = False

    def stop(self) -> None:
        """Stop fitting and decoding and forget it all (a new model, closing the window)."""
        self._halt()
        self.report, self._pairs, self.chunks, self.decode_chunks, self.last_decode = None, None, 0, 0, None
