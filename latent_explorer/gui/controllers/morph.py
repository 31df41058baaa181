"""The morph controller: drag one image onto another to morph, scrub the strip, blend pinned images.

It owns the morph's keyframes (``keys``: the latents it passes through, and the map indices of
its ends) and asks the worker for the strip (a coalescing request: changing the frame count
twice quickly computes only the last). For a slow decoder the strip comes approximate first and
its full frames follow, frame by frame.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...app.jobs import decode as decode_jobs
from ...app.jobs import tiers as tier_jobs
from ...app.session_io import MorphSpec


class MorphController(QObject):
    #: a strip is on screen (its Strip)
    stripReady = Signal(object)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.keys = None          # (keyframes k × *latent_shape, (index a or None, index b or None))
        self.desc = ""

    def attach(self) -> None:
        v = self.ctx.views
        v.map.morphMoved.connect(self._on_moved)
        v.map.morphDropped.connect(self._on_dropped)
        v.map.blendMoved.connect(self._on_blend)
        v.morph.frameScrubbed.connect(self._on_scrub)
        v.morph.settingsChanged.connect(self.recompute)
        self.ctx.models.loaded.connect(lambda s: self.clear())

    def clear(self) -> None:
        self.keys = None
        self.ctx.views.morph.clear()

    @property
    def pending(self) -> bool:
        """A morph was asked for and its strip (full frames, for a slow decoder) is not on screen yet."""
        strip = self.ctx.views.morph.strip
        return self.keys is not None and (strip is None or not getattr(strip, "final", True))

    def spec(self) -> MorphSpec | None:
        if self.keys is None:
            return None
        keys, ends = self.keys
        m = self.ctx.views.morph
        return MorphSpec(np.array(keys, np.float32), tuple(ends), self.desc or "morph", m.method_name, m.frame_count)

    def restore(self, spec: MorphSpec) -> None:
        """A session's morph: its settings without echoing them back, then its strip."""
        self.ctx.views.morph.set_settings(spec.method, spec.frames)
        self.keys = (np.asarray(spec.keys, np.float32), tuple(spec.ends))
        self.desc = spec.name
        self.recompute()

    def make(self, a: int, b: int | None, end=None, end_name: str = "") -> int:
        """The morph strip from map image ``a`` to image ``b`` (or to latent ``end``)."""
        d, label = self.ctx.maps.data, self.ctx.maps.label
        zb = d.mean[b] if b is not None else np.asarray(end, np.float32)
        self.keys = (np.stack([d.mean[a], zb]), (a, b))
        self.desc = f"{label(a)} → {label(b) if b is not None else end_name}"
        return self.recompute()

    def to_current(self) -> int:
        """A morph from the selected map image to the latent on screen (an analogy's result, a direction's
        move, a child, a random sample): the strip of anything the user made, as an endpoint."""
        maps, state = self.ctx.maps, self.ctx.state
        if maps.data is None or maps.selected is None or state.z is None:
            self.ctx.message("select an image on the map first: the morph runs from it to the latent on screen", 5000)
            return -1
        if np.array_equal(state.z, maps.data.mean[maps.selected]):
            self.ctx.message("the latent on screen is the selected image itself: change it first "
                             "(an analogy, a direction, a sample…)", 5000)
            return -1
        return self.make(maps.selected, None, end=state.z.copy(), end_name=state.source or "the latent on screen")

    def recompute(self) -> int:
        if self.keys is None or self.ctx.models.is_loading:
            return -1
        keys, ends = self.keys
        m, w = self.ctx.views.morph, self.ctx.worker
        if self.ctx.models.slow:  # approximate frames at once, then the full ones decoded frame by frame
            w.cancel("strip-final")
            args = (keys, m.frame_count, m.method_name, ends)
            return w.submit("strip", tier_jobs.strip, *args, False, on_result=lambda s: self._on_approx(s, args))
        return w.submit("strip", decode_jobs.morph_strip, keys, m.frame_count, m.method_name, ends,
                        on_result=self._on_strip)

    def make_analogy(self) -> int:
        """A : B :: C : ? from the three pinned images (in the order pinned): the strip of C + s·(B − A)
        for s from 0 to 2, and the latent at s = 1 on the preview."""
        pins, maps = list(self.ctx.views.map.pins), self.ctx.maps
        if len(pins) != 3 or maps.data is None:
            self.ctx.message("an analogy needs three pinned images: Ctrl-click A, then B, then C on the map", 5000)
            return -1
        a, b, c = (maps.data.mean[i] for i in pins)
        self.keys = None  # not a morph: changing the frame count does not remake it
        self.desc = f"{maps.label(pins[0])} : {maps.label(pins[1])} :: {maps.label(pins[2])} : ?"
        return self.ctx.worker.submit("strip", decode_jobs.analogy_strip, a, b, c, on_result=self._on_analogy)

    def _on_analogy(self, strip) -> None:
        self._on_strip(strip)
        k = strip.strengths.index(1.0)
        self.ctx.previews.set_latent(strip.latents[k], f"analogy {self.desc}", image=strip.frames[k])
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
        self.stripReady.emit(strip)
        self.ctx.readiness.check()

    # ---- gestures ---------------------------------------------------------------------
    def _on_moved(self, a: int, x: float, y: float, b: int) -> None:
        maps = self.ctx.maps
        if b >= 0:
            z, where = maps.data.mean[b], maps.label(b)
        else:
            z, where = maps.latent_at(x, y), f"({x:.2f}, {y:.2f})"
        self.ctx.note(f"morphing {maps.label(a)} → {where}")
        self.ctx.previews.set_latent(z, f"drag {maps.label(a)} → {where}", commit=False)

    def _on_dropped(self, a: int, x: float, y: float, b: int) -> None:
        if b >= 0:
            self.make(a, b)
        else:
            self.make(a, None, end=self.ctx.maps.latent_at(x, y), end_name=f"({x:.2f}, {y:.2f})")

    def _on_scrub(self, k: int) -> None:
        s = self.ctx.views.morph.strip
        if s is None:
            return
        self.ctx.note(f"morph frame {k + 1} / {len(s.frames)}")
        self.ctx.previews.set_latent(s.latents[k], f"morph {self.desc}, frame {k + 1}", commit=False,
                                     image=s.frames[k], final=getattr(s, "final", True))

    def _on_blend(self, x: float, y: float) -> None:
        from ...core.latent import barycentric
        from ...core.latent.project import blend_weights

        maps = self.ctx.maps
        pins = list(self.ctx.views.map.pins)
        if len(pins) < 3 or maps.data is None:
            return
        idx, w = blend_weights(maps.data.xy[pins], (x, y))
        lat = maps.data.mean[[pins[i] for i in idx]]
        z = barycentric(lat.reshape(len(lat), -1), w).reshape(maps.data.mean.shape[1:])
        parts = ", ".join(f"{maps.label(pins[i])} {wi:.2f}" for i, wi in zip(idx, w) if wi > 0.005)
        self.ctx.note(f"blend {parts}")
        self.ctx.previews.set_latent(z, f"blend {parts}", commit=False)
