"""The morph controller: the morph strip of ``model.morph`` (made by a drag on the map, a session,
the demo or a script), its settings, scrubbing it, analogies.

It owns the morph's keyframes (``keys``: the latents it passes through, and the map indices of
its ends) and asks the worker for the strip (a coalescing request: changing the frame count
twice quickly computes only the last). For a slow decoder the strip comes approximate first and
its full frames follow, frame by frame.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...app.jobs import decode as decode_jobs
from ...app.jobs import tiers as tier_jobs
from ...app.session_io import MorphSpec


class MorphController(QObject):
    """Views and makes ``model.morph`` (a ``MorphSpec``: keyframes, the map indices of its ends, name,
    method and frame count): whoever sets it (a drag, a session, the demo, a script), the strip
    is computed here."""

    #: a strip is on screen (its Strip)
    stripReady = Signal(object)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.desc = ""            # what the strip on screen is (a morph's name, or an analogy)
        self._rid = -1

    def attach(self) -> None:
        v = self.ctx.views
        v.morph.frameScrubbed.connect(self._on_scrub)
        v.morph.settingsChanged.connect(self._on_settings)
        self.ctx.model.loaded.connect(lambda s: self.clear())
        self.ctx.model.events.morph.connect(self._on_morph)

    @property
    def keys(self):
        """(keyframes k × *latent_shape, (index a or None, index b or None)) of the morph, or None."""
        m = self.ctx.model.morph
        return None if m is None else (m.keys, tuple(m.ends))

    def clear(self) -> None:
        self.ctx.model.morph = None
        self._clear_strip()

    def _clear_strip(self) -> None:
        if self.ctx.views.morph is not None:
            self.ctx.views.morph.clear()
        self.ctx.drawn.strip = None

    @property
    def pending(self) -> bool:
        """A morph was asked for and its strip (full frames, for a slow decoder) is not on screen yet."""
        return self.ctx.drawn.morph_pending

    def spec(self) -> MorphSpec | None:
        return self.ctx.model.morph

    def restore(self, spec: MorphSpec) -> None:
        """A session's morph: its settings and its strip."""
        self.ctx.model.morph = spec

    def make(self, a: int, b: int | None, end=None, end_name: str = "") -> int:
        """The morph strip from map image ``a`` to image ``b`` (or to latent ``end``)."""
        d, label = self.ctx.model.map, self.ctx.model.label
        zb = d.mean[b] if b is not None else np.asarray(end, np.float32)
        m = self.ctx.views.morph
        self._rid = -1
        self.ctx.model.morph = MorphSpec(np.stack([d.mean[a], zb]), (a, b),
                                         f"{label(a)} → {label(b) if b is not None else end_name}",
                                         m.method_name, m.frame_count)
        return self._rid

    def _on_morph(self, spec) -> None:
        """``model.morph`` changed: show its settings (without an echo) and compute its strip."""
        if spec is None:
            self.ctx.drawn.morph_pending = False
            self._clear_strip()
            return
        m = self.ctx.views.morph
        if spec.method is None or spec.frames is None:  # the strip's current settings
            spec = replace(spec, method=m.method_name, frames=m.frame_count)
            with self.ctx.model.events.morph.blocked():
                self.ctx.model.morph = spec
        if (m.method_name, m.frame_count) != (spec.method, int(spec.frames)):
            m.set_settings(spec.method, spec.frames)
        self.desc = spec.name
        self.ctx.drawn.morph_pending = True
        self._rid = self.recompute()

    def _on_settings(self) -> None:
        """The strip's method or frame count changed: the morph is made again with them."""
        spec, m = self.ctx.model.morph, self.ctx.views.morph
        if spec is not None:
            self.ctx.model.morph = replace(spec, method=m.method_name, frames=m.frame_count)

    def to_current(self) -> int:
        """A morph from the selected map image to the latent on screen (an analogy's result, a direction's
        move, a child, a random sample): the strip of anything the user made, as an endpoint."""
        maps, state = self.ctx.model, self.ctx.state
        if maps.map is None or maps.selected is None or state.z is None:
            self.ctx.message("select an image on the map first: the morph runs from it to the latent on screen", 5000)
            return -1
        if np.array_equal(state.z, maps.map.mean[maps.selected]):
            self.ctx.message("the latent on screen is the selected image itself: change it first "
                             "(an analogy, a direction, a sample…)", 5000)
            return -1
        return self.make(maps.selected, None, end=state.z.copy(), end_name=state.source or "the latent on screen")

    def recompute(self) -> int:
        if self.keys is None or self.ctx.model.loading:
            return -1
        keys, ends = self.keys
        m, w = self.ctx.views.morph, self.ctx.worker
        if self.ctx.model.slow:  # approximate frames at once, then the full ones decoded frame by frame
            w.cancel("strip-final")
            args = (keys, m.frame_count, m.method_name, ends)
            return w.submit("strip", tier_jobs.strip, *args, False, on_result=lambda s: self._on_approx(s, args))
        return w.submit("strip", decode_jobs.morph_strip, keys, m.frame_count, m.method_name, ends,
                        on_result=self._on_strip)

    def make_analogy(self) -> int:
        """A : B :: C : ? from the three pinned images (in the order pinned): the strip of C + s·(B − A)
        for s from 0 to 2, and the latent at s = 1 on the preview."""
        pins, maps = list(self.ctx.model.pins), self.ctx.model
        if len(pins) != 3 or maps.map is None:
            self.ctx.message("an analogy needs three pinned images: Ctrl-click A, then B, then C on the map", 5000)
            return -1
        a, b, c = (maps.map.mean[i] for i in pins)
        self.ctx.model.morph = None  # not a morph: changing the frame count does not remake it
        self.desc = f"{maps.label(pins[0])} : {maps.label(pins[1])} :: {maps.label(pins[2])} : ?"
        return self.ctx.worker.submit("strip", decode_jobs.analogy_strip, a, b, c, on_result=self._on_analogy)

    def _on_analogy(self, strip) -> None:
        self._on_strip(strip)
        k = strip.strengths.index(1.0)
        self.ctx.state.set(strip.latents[k], f"analogy {self.desc}", image=strip.frames[k])
        m = self.ctx.views.morph
        m.scrub.blockSignals(True)  # show where s = 1 is on the strip, without scrubbing to it again
        m.scrub.setValue(k)
        m.scrub.blockSignals(False)
        m.view.set_current(k)
        self.ctx.note(f"analogy {self.desc[:-1]}C + 1·(B − A) (the strip: strength 0 → 2)")

    def _on_approx(self, strip, args) -> None:
        self._on_strip(strip)
        self.ctx.worker.submit("strip-final", tier_jobs.strip, *args, True, on_result=self._on_strip)

    def _on_strip(self, strip) -> None:
        final = getattr(strip, "final", True)
        self.ctx.views.morph.set_strip(strip, self.desc + ("" if final else " · approximate frames, full ones decoding…"))
        self.ctx.drawn.morph_pending = self.ctx.model.morph is not None and not final
        self.ctx.drawn.strip = strip
        self.stripReady.emit(strip)

    # ---- the strip ---------------------------------------------------------------------
    def _on_scrub(self, k: int) -> None:
        s = self.ctx.views.morph.strip
        if s is None:
            return
        self.ctx.note(f"morph frame {k + 1} / {len(s.frames)}")
        self.ctx.state.set(s.latents[k], f"morph {self.desc}, frame {k + 1}", commit=False,
                                     image=s.frames[k], final=getattr(s, "final", True))
