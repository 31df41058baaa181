"""The slider controller: the per-dimension sliders (or, for spatial latents, the principal-direction
and channel sliders, and the channel view) bound both ways to ``LatentState``.

A slider edit is an uncommitted change of the state (one undo step per gesture: committed when
the user pauses); a state change moves the sliders without echoing back (the napari pattern:
``origin`` names the widget that made the change). Traversal strips (what each dimension does
around the current latent) are asked for when the latent rests.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from ...app.jobs import decode as decode_jobs
from ...app.jobs import spatial as spatial_jobs
from ..widgets.panels import LEGEND_DIMS, LEGEND_SPATIAL

TRAVERSAL_STEPS = 7


class SliderController(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self._last_traversal_z = None
        self._directions_for = None   # the map latents the spatial directions were fitted on
        self._timers = []
        self._commit = self._traverse = self._channels = None
        # a change that is part of a gesture (a drag on the map, a scrub, a direction) becomes one
        # undo step once the user pauses, whoever made it
        ctx.state.connect(lambda origin: ctx.state.editing and self.commit_later())

    def attach(self) -> None:
        """The slider panels exist: bind them (called once, by the window)."""
        from superqt.utils import qdebounced, qthrottled

        v = self.ctx.views
        self._traverse = qdebounced(self.request_traversal, 120)
        self._commit = qdebounced(self.ctx.state.commit, 400)
        self._channels = qthrottled(self._update_channels, 40)
        self._timers = [self._traverse, self._commit, self._channels]
        self.ctx.state.connect(self._on_state_changed)
        v.sliders.valueEdited.connect(self._on_slider_edited)
        v.spatial.latentEdited.connect(self._on_spatial_edited)
        self.ctx.model.events.selected.connect(self._on_selected)
        # the temperature: the model holds it, the spin box shows and edits it
        m = self.ctx.model
        v.temperature.setValue(m.temperature)
        v.temperature.valueChanged.connect(lambda t: setattr(m, "temperature", float(t)))
        m.events.temperature.connect(lambda t: v.temperature.value() != t and v.temperature.setValue(t))
        self.ctx.model.loaded.connect(self.apply_model)
        # another device, precision or approximate decoder: the strips are drawn again with it
        self.ctx.model.tiers_changed.connect(lambda s: self.refresh_traversal())
        self.ctx.model.events.map.connect(lambda d: d is not None and self._on_map_ready(d))

    @property
    def traversal_ready(self) -> bool:
        """The strips are drawn for the latent on screen (``ctx.drawn``)."""
        return self.ctx.drawn.traversal_ready

    @traversal_ready.setter
    def traversal_ready(self, value: bool) -> None:
        self.ctx.drawn.traversal_ready = bool(value)

    def _show_order(self) -> None:
        """The sliders' order and count, for the views that follow it (exports, Theory, readiness)."""
        v = self.ctx.views.sliders
        self.ctx.drawn.slider_order = tuple(v.order)
        self.ctx.drawn.slider_rows = len(v.rows)

    def commit_later(self) -> None:
        """Close the current gesture (one undo step) once the user pauses."""
        if self._commit is None:
            self.ctx.state.commit()
        else:
            self._commit()

    def set_enabled(self, on: bool) -> None:
        v = self.ctx.views
        for w in (v.random_button, v.reset_button, v.copy_button, v.temperature, v.sliders, v.spatial):
            w.setEnabled(on)
        v.reset_button.setEnabled(on and self.ctx.model.selected is not None)

    def apply_model(self, s) -> None:
        v, spatial = self.ctx.views, self.ctx.model.spatial
        v.slider_stack.setCurrentWidget(v.spatial if spatial else v.sliders)
        v.channel_panel.setVisible(spatial)
        v.legend.setText(LEGEND_SPATIAL if spatial else LEGEND_DIMS)
        v.sliders_heading.setText("Latent directions and channels" if spatial else "Latent dimensions")
        self.ctx.drawn.spatial_directions = None
        if spatial:
            v.spatial.set_shape(s.latent_shape)
            v.channels.set_scales(None)
            self._directions_for = None
        self.traversal_ready = False
        self._last_traversal_z = None
        v.sliders.set_dims(s.latent_size)
        self._show_order()
        self.set_enabled(True)
        v.reset_button.setEnabled(False)  # a new model: nothing selected yet

    # ---- both ways between the widgets and the state ----------------------------------------
    def _on_state_changed(self, origin) -> None:
        v, z = self.ctx.views, self.ctx.state.z
        if origin is not v.sliders:
            v.sliders.set_values(z)
        if self.ctx.model.spatial:
            if origin is not v.spatial:
                v.spatial.set_latent(z)
            self._channels()
        self._traverse()

    def _on_slider_edited(self, dim: int, value: float) -> None:
        if self.ctx.state.z is None:
            return
        self.ctx.state.set_dim(dim, value, origin=self.ctx.views.sliders)
        self.ctx.note("edited with the sliders")
        self.commit_later()

    def _on_spatial_edited(self, z) -> None:
        if self.ctx.state.z is None:
            return
        self.ctx.note("edited with the direction / channel sliders")
        self.ctx.state.set(z, "direction sliders", origin=self.ctx.views.spatial, commit=False)
        self.commit_later()

    def _update_channels(self) -> None:
        if self.ctx.model.spatial and self.ctx.state.z is not None:
            self.ctx.views.channels.set_latent(self.ctx.state.z)

    def show_posterior(self, mean, logvar) -> None:
        self.ctx.views.sliders.set_posterior(mean, logvar)

    def _on_selected(self, i) -> None:
        """The selected image's posterior as a band on each slider (none without a selection)."""
        d, v = self.ctx.model.map, self.ctx.views
        if i is None or d is None or i >= len(d.mean):
            self.show_posterior(None, None)
            v.reset_button.setEnabled(False)
            return
        self.show_posterior(d.mean[i], d.logvar[i] if d.logvar is not None else None)
        v.reset_button.setEnabled(True)

    # ---- traversal strips ----------------------------------------------------------------
    def request_traversal(self) -> None:
        v, z = self.ctx.views, self.ctx.state.z
        spatial = self.ctx.model.spatial and v.spatial.directions is not None
        if self.ctx.closing or self.ctx.model.loading or z is None or not (v.sliders.rows or spatial):
            return
        if self._last_traversal_z is not None and np.array_equal(z, self._last_traversal_z):
            return
        self._last_traversal_z = z.copy()
        if spatial:  # each principal direction swept over its slider range
            self.ctx.worker.submit("traversal", spatial_jobs.direction_strips, z, v.spatial.directions,
                                   TRAVERSAL_STEPS, on_result=self._on_strips)
        else:
            self.ctx.worker.submit("traversal", decode_jobs.traversal, z, TRAVERSAL_STEPS, 3.0,
                                   on_result=self._on_strips)

    def refresh_traversal(self) -> None:
        """Sweep the strips again for the same latent (the approximate decoder that draws them changed)."""
        self._last_traversal_z = None
        self.request_traversal()

    def _on_strips(self, strips) -> None:
        v = self.ctx.views
        (v.spatial if self.ctx.model.spatial else v.sliders).set_traversals(strips)
        self.traversal_ready = True

    # ---- spatial latents: principal directions of the mapped images ---------------------------
    def _on_map_ready(self, data) -> None:
        self.ctx.views.sliders.set_kl(data.kl_per_dim, data.active)
        self._show_order()
        if self.ctx.model.spatial and self._directions_for is not data.mean:
            self._directions_for = data.mean
            self.ctx.views.spatial.summary.setText(f"fitting principal directions on {len(data.mean):,} "
                                                   "encoded images…")
            self.ctx.worker.submit(
                "directions", spatial_jobs.directions_and_scales, data.mean, on_result=self._on_directions,
                on_error=lambda f: self.ctx.views.spatial.summary.setText(f"no principal directions: {f.message}"))

    def _on_directions(self, result) -> None:
        dirs, scales, centres = result
        v = self.ctx.views
        v.spatial.set_directions(dirs)
        self.ctx.drawn.spatial_directions = dirs
        v.spatial.set_latent(self.ctx.state.z)
        v.channels.set_scales(scales, centres)
        self._last_traversal_z = None
        self.traversal_ready = False
        self.request_traversal()

    def stop(self) -> None:
        for t in self._timers:
            t.cancel()
            t.flush(restart_timer=False)  # nothing pending now: this just stops its QTimer
