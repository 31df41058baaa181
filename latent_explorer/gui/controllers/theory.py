"""The theory controller: the selected image's numbers (μ, σ², KL per dimension, the −ELBO split),
the edited latent's numbers (log p(z), the reconstruction term), the reparameterisation step by
step, and the posterior's ellipse and samples on the map.

It works while the Theory dock is visible (View → Theory, Ctrl+E), for models with vector
latents and a posterior (the project's VAEs); other models get a sentence saying why not.
Numbers come from ``app.jobs.theory`` on the worker ("theory" and "posterior" requests,
coalescing: only the newest latent's numbers matter).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from ...app.jobs import theory as theory_jobs
from ...core.latent import posterior_map as pm
from ...core.latent.posterior_map import ellipse, projected_gaussian


class TheoryController(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.latent_for = None        # the latent the shown numbers are of
        self.manifold_latents = None  # the 2-d manifold figure's latents, n×n×2
        self.note = ""                # why the map shows no ellipse, if it does not
        self._later = None
        self.overlay = self.prior = None
        self.hole_grid = None          # (rect, bool n×n) while the holes are shown

    # the selected image's numbers and the last draws are the application model's
    @property
    def image_numbers(self):
        return self.ctx.model.theory_numbers

    @property
    def draws(self):
        return self.ctx.model.theory_sample

    def attach(self, dock) -> None:
        """The panel exists (in ``dock``): bind it (called once, by the window)."""
        from superqt.utils import qdebounced

        from ..widgets.posterior_overlay import PosteriorOverlay, PriorOverlay

        v, c = self.ctx.views, self.ctx
        self.dock = dock
        self.overlay, self.prior = PosteriorOverlay(), PriorOverlay()   # (the window puts them on the map)
        m = c.model
        v.theory.priorToggled.connect(lambda on: setattr(m, "show_prior", bool(on)))
        m.events.show_prior.connect(self._on_show_prior)
        m.events.theory_sample.connect(self._on_draws)
        v.theory.manifoldRequested.connect(self.manifold)
        self._later = qdebounced(self.request, 80)
        v.theory.sampleRequested.connect(lambda: self.sample(1))
        v.theory.manyRequested.connect(lambda: self.sample(16))
        c.state.connect(lambda origin: self.active and self._later())
        m.events.selected.connect(lambda i: self.refresh())
        c.model.events.map.connect(lambda d: d is not None and self._on_map(d))
        c.model.loaded.connect(lambda s: self._reset())
        dock.visibilityChanged.connect(lambda on: (self.show_prior(), on and self.refresh()))
        if not dock.isVisible():
            self.overlay.clear()

    @property
    def active(self) -> bool:
        return self.overlay is not None and self.dock.isVisible() and self.available() == ""

    def available(self) -> str:
        """"" when the panel can show this model, else why not (``model.theory_unavailable``)."""
        return self.ctx.model.theory_unavailable

    def manifold(self, spacing: str) -> int:
        """The 2-d manifold figure (15 × 15 decodes), evenly or inverse-CDF spaced, in the panel."""
        from ...app.jobs.decode import manifold_grid

        if self.ctx.model.summary is None or self.ctx.model.summary.latent_size != 2:
            return -1
        return self.ctx.worker.submit("figure", manifold_grid, 15, spacing,
                                      on_result=lambda r: self._on_manifold(r, spacing))

    def _on_manifold(self, result, spacing: str) -> None:
        self.manifold_latents = result[0]
        self.ctx.views.theory.set_manifold(result[1], spacing)

    def _reset(self) -> None:
        self.ctx.model.theory_numbers = self.ctx.model.theory_sample = None
        if self.overlay is not None:
            self.overlay.clear()
            reason = self.available()
            panel = self.ctx.views.theory
            panel.clear()  # nothing of the previous image or model stays
            panel.set_enabled_for(not reason, reason)
            panel.heading.setText(reason or "Select an image on the map to see it in numbers")
            s = self.ctx.model.summary
            self.ctx.views.theory.manifold_box.setVisible(s is not None and s.latent_size == 2)

    def _on_map(self, data) -> None:
        self.ctx.views.theory.set_order(list(self.ctx.drawn.slider_order) or list(range(int(np.prod(data.mean.shape[1:])))))
        self._reset()
        self.show_prior()
        self.refresh()

    # ---- the prior, the data and the holes ----------------------------------------------------
    def _on_show_prior(self, on: bool) -> None:
        check = self.ctx.views.theory.prior_check
        if check.isChecked() != on:  # (without an echo back to the model)
            check.blockSignals(True)
            check.setChecked(on)
            check.blockSignals(False)
        self.show_prior()

    def show_prior(self) -> None:
        """Draw (or remove) the prior's contours, the data's density and the holes on the map."""
        d, check = self.ctx.model.map, self.ctx.views.theory.prior_check
        g = None if d is None else pm.prior_on_map(d.projection)
        check.setEnabled(g is not None)
        if d is not None and g is None:
            check.setToolTip("t-SNE / UMAP maps are not linear: the prior has no place on them (choose PCA)")
        self.hole_grid = None
        self.ctx.model.prior_holes = None
        if g is None or not check.isChecked() or not self.dock.isVisible():
            self.prior.clear()
            return
        rect = pm.map_rect(d.xy, g)
        data = pm.density_grid(d.xy, rect, 128)
        spread = None if d.logvar is None else pm.posterior_spread(d.projection, d.logvar)
        holes = pm.holes(d.xy, g, rect, 128, spread=spread)
        self.prior.show([ellipse(g[0], g[1], k) for k in (1.0, 2.0, 3.0)], rect, data, holes)
        self.hole_grid = (rect, holes)
        self.ctx.model.prior_holes = (rect, holes)   # a click in one decodes the plane there

    def refresh(self) -> None:
        """The selection changed, or the panel was shown: everything again."""
        if not self.active:
            return
        self.ctx.model.theory_sample = None
        self.overlay.clear()
        self.ctx.views.theory.grid.clear()
        self.request()

    def _selected_image(self):
        d, i = self.ctx.model.map, self.ctx.model.selected
        return None if d is None or i is None or i >= len(d.images) else d.images[i]

    def request(self) -> int:
        # (never while a model loads: the latent would be the old model's)
        if not self.active or self.ctx.state.z is None or self.ctx.model.loading or self.ctx.model.map is None:
            return -1
        z = self.ctx.state.z.copy()
        return self.ctx.worker.submit("theory", theory_jobs.numbers, self._selected_image(), z,
                                      on_result=lambda r: self._on_numbers(r, z))

    def _on_numbers(self, result, z) -> None:
        if self.ctx.model.map is None or self.ctx.model.loading:
            return
        image, latent = result
        self.latent_for = z
        panel = self.ctx.views.theory
        if image is not None:
            self.ctx.model.theory_numbers = image
            panel.set_image(image, f"image {self.ctx.model.label(self.ctx.model.selected)}")
            self._draw_posterior()
        panel.set_latent(z, latent)

    def _draw_posterior(self) -> None:
        d, n = self.ctx.model.map, self.image_numbers
        g = projected_gaussian(d.projection, n.mean, n.var)
        cloud = None
        if self.draws is not None:
            cloud = d.projection.locate(self.draws.z.reshape(len(self.draws.z), -1))
        if g is None:
            self.note = ("t-SNE / UMAP maps are not linear: no ellipse; the samples are placed approximately "
                         "(among their nearest encoded images)")
            self.overlay.show([], cloud)
        else:
            self.note = ""
            centre, cov = g
            self.overlay.show([ellipse(centre, cov, 1.0), ellipse(centre, cov, 2.0)], cloud)
        self.ctx.views.theory.set_note(self.note)

    # ---- the reparameterisation ---------------------------------------------------------
    def sample(self, k: int) -> int:
        """Draw ε and decode z = μ + σ·ε (``Commands.sample_posterior``; ``k`` = 1: it becomes the
        latent; 16: a grid and a cloud)."""
        if not self.active:
            return -1
        return self.ctx.commands.sample_posterior(k)

    def _on_draws(self, draws) -> None:
        """``model.theory_sample`` changed: ε, σ·ε and z in the panel, or the grid, and the cloud."""
        if draws is None or self.overlay is None or self.image_numbers is None:
            return
        panel = self.ctx.views.theory
        if len(draws.z) == 1:
            panel.set_draw(draws)
        else:
            panel.set_many(draws)
        self._draw_posterior()

    def stop(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later.flush(restart_timer=False)
