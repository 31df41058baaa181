"""Commands: the explorer's operations as Qt-free methods over the application model.

``Commands(model, scheduler)`` reads and writes an ``ExplorerModel`` (``app/model.py``) and submits
jobs (``app/jobs``) to a scheduler (``app/scheduler.Scheduler``, or the window's ``DecodeWorker``
adapter: the same API). Every result is written to the model on the scheduler's delivering
thread, so a front-end only views the model: a script or test drains the scheduler's inbox
(``scheduler.wait_for``), the window gets results on its GUI thread, a browser session on its
handler. The window, the command line and scripts call these same methods.

Long operations return the request id and finish asynchronously; what they made is in the model
(``summary``, ``map``, ``morph``, ``directions``…) or, for an export, in ``exports``. A failure the
user must hear of is ``model.failed(what, message)``; a passing word is ``model.notice(text)``.

``pipelines``: with True (scripts, tests, the browser) this object also makes what a view would
otherwise make: the map when a model opens or the images change (and a projection asked for),
and a morph's strip. The window passes False: its map view encodes with progress, generations
and t-SNE in a process of its own, and its morph view decodes approximate frames first.
"""
from __future__ import annotations

import numpy as np

from ..core.errors import UserError
from .jobs import attributes as attr_jobs
from .jobs import decode as decode_jobs
from .jobs import exports as export_jobs
from .jobs import mapping as map_jobs
from .jobs import model as model_jobs
from .session_io import MorphSpec

#: the model a session falls back to when its own cannot be opened
DEFAULT_MODEL = "digits"


class Commands:
    def __init__(self, model, scheduler, pipelines: bool = True):
        self.model = model
        self.scheduler = scheduler
        self.pipelines = pipelines
        #: the latest morph strip (``decode_jobs.Strip``) for ``model.morph`` (pipelines only)
        self.strip = None
        #: paths written by exports, in the order they finished
        self.exports: list[str] = []
        #: (what, message) of each operation that failed
        self.failures: list[tuple[str, str]] = []
        #: notes on what the session being opened could not put back
        self.session_notes: list[str] = []
        self._running: dict[int, str] = {}
        self._fell_back = False
        model.failed.connect(lambda what, message: self.failures.append((what, message)))
        model.events.map_done.connect(self._on_map_done)
        if pipelines:
            model.events.morph.connect(self._on_morph)
            model.events.images.connect(lambda _: self.model.ready and self.build_map())
            model.events.projection.connect(self._on_projection)

    # ---- bookkeeping ---------------------------------------------------------------------------
    def _submit(self, kind: str, fn, *args, on_result=None, on_error=None, what: str = "", **kwargs) -> int:
        """Submit a job; its result goes to ``on_result``; a failure to ``on_error``, else ``model.failed``."""
        box = {}

        def done(value):
            self._running.pop(box.get("rid"), None)
            if on_result is not None:
                on_result(value)

        def failed(f):
            self._running.pop(box.get("rid"), None)
            if on_error is not None:
                on_error(f)
            else:
                self.model.failed.emit(what or kind, f.message)

        rid = self.scheduler.submit(kind, fn, *args, on_result=done, on_error=failed, **kwargs)
        box["rid"] = rid
        self._forget_replaced()
        self._running[rid] = kind
        return rid

    def _forget_replaced(self) -> None:
        """Coalesced requests a newer one of their kind replaced never report: stop waiting for them."""
        sched = self.scheduler
        self._running = {r: k for r, k in self._running.items() if sched.latest_id(k) == r or k in ("export",
                                                                                                  "attribute")}

    def idle(self) -> bool:
        """Nothing asked for here still waits or runs (a coalesced request a newer one replaced is done)."""
        self._forget_replaced()
        return not self._running and self.scheduler.quiet() and self.model.opening_session is None

    def _require_model(self):
        if self.model.summary is None or self.model.loading:
            raise UserError("no model is open yet")
        return self.model.summary

    def _require_map(self):
        if self.model.map is None:
            raise UserError("there is no map yet")
        return self.model.map

    # ---- the model ----------------------------------------------------------------------------------
    def open_model(self, spec: str, own_images: bool = False, first: bool = False) -> int:
        """Open model ``spec`` (a bundled name, a folder, a file, a hub id). ``own_images``: map the
        model's own images (its dataset, or the folder it was trained on) instead of those open now.
        ``first``: the launch's own load (the device asked for at launch; later loads take "auto")."""
        m = self.model
        self._begin(spec)
        if own_images:  # (after the load began: nothing maps these images with the old model)
            m.images = None
        return self._submit("load", model_jobs.load, spec, m.device if first else "auto", m.precision,
                            m.allow_pickle, m.size, on_result=self._on_loaded, on_error=self._on_load_failed)

    def adopt(self, latent_model) -> int:
        """Use a ready LatentModel (tests, scripts) instead of loading one."""
        self._begin(getattr(latent_model, "spec", "model"))
        return self._submit("load", model_jobs.adopt, latent_model, on_result=self._on_loaded, on_error=self._on_load_failed)

    def set_working_size(self, size) -> int:
        """Work at ``size`` px, an int (square) or (H, W) (Stable Diffusion-style VAEs): more detail,
        slower decodes. The latent changes shape, so the map is encoded again from z = 0."""
        hw = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)
        m, s = self.model, self.model.summary
        if s is None or m.loading or not s.resizable or tuple(s.image_size) == hw:
            return -1
        m.size = hw
        self._begin(s.spec, f"working size {hw[1]} × {hw[0]} px…")
        return self._submit("size", model_jobs.set_size, hw, on_result=self._on_loaded,
                            on_error=self._on_load_failed)

    def _begin(self, spec: str, words: str = "") -> None:
        m = self.model
        m.loading, m.spec = True, spec
        # a newer model replaces one still waiting to load (only the newest is applied); coalescing
        # work on the old model stops; queued exports still run first, on the model they were made of
        self.scheduler.cancel("load")
        self.scheduler.cancel("size")
        self.scheduler.cancel_all()
        m.load_started.emit(spec, words or f"loading {spec}…")

    def _on_loaded(self, summary) -> None:
        m = self.model
        m.summary, m.spec, m.model_hash = summary, summary.spec, None
        if self.pipelines:  # (a window's map view does this itself, with its own progress)
            m.map = None
            m.forget_map()
            m.morph = None
            m.latent.reset(np.zeros(summary.latent_shape, np.float32), "initial")
        m.loading = False
        m.loaded.emit(summary)
        self._submit("hash", model_jobs.model_hash, on_result=lambda h: setattr(m, "model_hash", h))
        if self.pipelines:
            self.build_map()

    def _on_load_failed(self, failure) -> None:
        m = self.model
        m.loading = False
        if m.summary is not None:
            m.spec = m.summary.spec
        if self._session_fallback(failure.message):
            return
        m.load_failed.emit(failure.message)

    def set_device(self, device: str) -> int:
        """Decode on ``device``; while a model is loading, it moves there once loaded."""
        self._say_if_waiting(f"switching to {device}")
        return self._submit("device", model_jobs.set_device, device, on_result=self._on_tiers,
                            what="Could not switch device")

    def set_precision(self, precision: str) -> int:
        """Full decodes in "bf16" or "fp32" (the loaded VAE's, and later loads')."""
        self.model.precision = precision
        if self.model.summary is None and not self.model.loading:
            return -1
        self._say_if_waiting(f"full decodes in {precision}")
        return self._submit("precision", model_jobs.set_precision, precision, on_result=self._on_tiers,
                            what="Could not change the precision")

    def pair_preview(self, spec: str) -> int:
        """Use a TAESD model (folder, file or hub id) for the approximate preview of a slow decoder."""
        if self.model.summary is None:
            return -1
        return self._submit("pair", model_jobs.pair_preview, spec, what=f"Could not pair {spec}",
                            on_result=lambda s: (self._on_tiers(s), self.model.notice.emit(
                                f"approximate previews now from {s.tiers.preview}")))

    def _say_if_waiting(self, what: str) -> None:
        """Model changes wait for a running encode (they never run inside one): say so."""
        if self.scheduler.is_busy("map"):
            self.model.notice.emit(f"{what} once the images are encoded")

    def _on_tiers(self, summary) -> None:
        """Device or precision changed: same model, same latents; previews are redone."""
        m = self.model
        if m.summary is None:
            return
        m.summary = summary
        m.tiers_changed.emit(summary)
        t = summary.tiers
        m.notice.emit(f"now decoding on {summary.device}" + (f" · full decodes in {t.dtype}" if t else ""))

    # ---- images and the map -------------------------------------------------------------------------
    def open_images(self, source) -> None:
        """Map a folder, a collection or a list of image files (None: the model's own images)."""
        self.model.images = [str(p) for p in source] if isinstance(source, (list, tuple)) else \
            (None if source is None else str(source))

    def build_map(self) -> int:
        """Encode the images and project them (pipelines: a window's map view does it itself)."""
        self._require_model()
        m = self.model
        m.map_done = False
        return self._submit("map", map_jobs.build_map, m.images, limit=m.map_limit, on_result=self._on_map,
                            on_error=self._on_map_failed, what="map")

    def _on_map(self, data) -> None:
        m = self.model
        if m.map is not None and m.map.mean is not data.mean:
            m.forget_map()
        m.map = data
        m.settle_map()

    def _on_map_failed(self, failure) -> None:
        self.model.failed.emit("map", failure.message)
        self.model.settle_map()

    def project(self, method: str) -> None:
        """Project the map with ``method`` ("pca", "tsne", "umap"; "identity" for a 2-d latent)."""
        self.model.projection = method

    def _on_projection(self, method) -> None:
        d = self.model.map
        if method and d is not None and method != d.projection.method:
            self._submit("map", map_jobs.reproject, d, method, on_result=self._on_map, what="projection")

    def select(self, i: int) -> None:
        """Select image ``i``: the sliders show its posterior and the latent becomes its mean μ."""
        d = self._require_map()
        i = int(i)
        if not 0 <= i < len(d.mean):
            raise UserError(f"there is no image #{i} on this map ({len(d.mean)} images)")
        m = self.model
        m.selected = i
        m.latent.selected = i
        m.caption = f"image {m.label(i)}: its posterior mean μ decoded"
        m.latent.set(d.mean[i], f"image {m.label(i)}")

    def show_place(self, x: float, y: float) -> None:
        """A click on an empty place of the map: the latent there (a hole of the prior where the map
        shows them, exact for a 2-d latent, else a blend of the images around it)."""
        m = self.model
        self._require_map()
        resolved = m.hole_at(x, y)
        if resolved is not None:
            z, how = resolved
        else:
            z = m.latent_at(x, y)
            how = "exact" if m.map.projection.method == "identity" else "blend of the 3 points around it"
        m.caption = f"map point ({x:.2f}, {y:.2f}), {how}"
        m.latent.set(z, f"map point ({x:.2f}, {y:.2f})")

    def drag(self, a: int, x: float, y: float, b: int = -1) -> None:
        """Image ``a`` dragged over map point (x, y) (onto image ``b`` when b ≥ 0): the latent there, as
        part of the gesture (one undo step once it ends)."""
        m = self.model
        d = self._require_map()
        if b >= 0:
            z, where = d.mean[b], m.label(b)
        else:
            z, where = m.latent_at(x, y), f"({x:.2f}, {y:.2f})"
        m.caption = f"morphing {m.label(a)} → {where}"
        m.latent.set(z, f"drag {m.label(a)} → {where}", commit=False)

    def drop(self, a: int, x: float, y: float, b: int = -1) -> None:
        """Image ``a`` dropped on map point (x, y) (on image ``b`` when b ≥ 0): a morph from it to there."""
        if b >= 0:
            self.morph(a, b)
        else:
            self.morph(a, None, end=self.model.latent_at(x, y), end_name=f"({x:.2f}, {y:.2f})")

    def blend_pins(self, x: float, y: float) -> None:
        """A point inside the pinned images' hull: the barycentric blend of the pins around it."""
        from ..core.latent import barycentric
        from ..core.latent.project import blend_weights

        m, pins = self.model, list(self.model.pins)
        d = m.map
        if len(pins) < 3 or d is None:
            return
        idx, w = blend_weights(d.xy[pins], (x, y))
        lat = d.mean[[pins[i] for i in idx]]
        z = barycentric(lat.reshape(len(lat), -1), w).reshape(d.mean.shape[1:])
        parts = ", ".join(f"{m.label(pins[i])} {wi:.2f}" for i, wi in zip(idx, w) if wi > 0.005)
        m.caption = f"blend {parts}"
        m.latent.set(z, f"blend {parts}", commit=False)

    def pin(self, i: int) -> tuple:
        """Pin image ``i`` (or unpin it when it is pinned); returns the pins."""
        d = self._require_map()
        i = int(i)
        if not 0 <= i < len(d.mean):
            raise UserError(f"there is no image #{i} on this map ({len(d.mean)} images)")
        pins = list(self.model.pins)
        pins.remove(i) if i in pins else pins.append(i)
        self.model.pins = tuple(pins)
        return self.model.pins

    def clear_pins(self) -> None:
        self.model.pins = ()

    # ---- the latent ---------------------------------------------------------------------------------
    def set_latent(self, z, source: str, commit: bool = True) -> None:
        self.model.latent.set(np.asarray(z, np.float32), source, commit=commit)

    def undo(self) -> bool:
        st = self.model.latent
        if st.undo():
            self.model.caption = f"undo: {st.source}"
            return True
        return False

    def redo(self) -> bool:
        st = self.model.latent
        if st.redo():
            self.model.caption = f"redo: {st.source}"
            return True
        return False

    def random_sample(self) -> int:
        """Decode z ~ N(0, T² I) (T: ``model.temperature``) with the next seed (``model.sample_seed``)."""
        m = self.model
        if m.summary is None or m.loading:
            return -1
        m.sample_seed += 1
        t, seed = m.temperature, m.sample_seed
        if m.slow:  # draw the latent only; the preview decodes it in tiers
            from .jobs.spatial import sample_latent

            return self._submit("sample", sample_latent, seed, t, on_result=lambda z: self._on_sample(z, None, seed, t))
        # a "preview" request: the newest of the user's actions wins (a click on the map right after
        # Random replaces the sample, and the sample replaces a preview still pending)
        return self._submit("preview", decode_jobs.sample, seed, t,
                            on_result=lambda d: self._on_sample(d.z, d, seed, t))

    def _on_sample(self, z, d, seed: int, t: float) -> None:
        m = self.model
        # an SD-style VAE weighs its KL by about 1e-6: its images' latents are nowhere near N(0, I)
        # (Stable Diffusion draws them with a diffusion model), so a prior sample decodes to texture
        why = (" · texture: an SD-style VAE barely weighs its KL, so its images do not lie at N(0, I)"
               if m.summary is not None and m.summary.resizable else "")
        m.caption = f"random sample (T {t:.2f}, seed {seed}){why}"
        source = f"random sample T {t:.2f} seed {seed}"
        if d is None:
            m.latent.set(z, source)
        else:
            m.latent.set(z, source, image=d.image, rid=self.scheduler.latest_id("preview") or 0, seconds=d.seconds)

    # ---- the Theory view: the reparameterisation ------------------------------------------------------
    def sample_posterior(self, k: int = 1) -> int:
        """Draw ε and decode z = μ + σ·ε for the selected image (``model.theory_numbers``); ``k`` = 1:
        it becomes the latent; more: a grid and a cloud (``model.theory_sample``)."""
        from .jobs import theory as theory_jobs

        n = self.model.theory_numbers
        if n is None or self.model.theory_unavailable:
            return -1
        self.model.theory_seed += 1
        return self._submit("posterior", theory_jobs.posterior_draws, n.mean, n.logvar, int(k),
                            self.model.theory_seed, on_result=self._on_draws, what="posterior samples")

    def _on_draws(self, draws) -> None:
        m = self.model
        m.theory_sample = draws
        if len(draws.z) == 1:
            m.caption = f"z = μ + σ·ε, ε drawn with seed {draws.seed}"
            m.latent.set(draws.z[0], f"posterior sample (seed {draws.seed})", image=draws.images[0],
                         rid=self.scheduler.latest_id("posterior") or 0)

    # ---- morphs -------------------------------------------------------------------------------------
    def morph(self, a: int, b: int | None, end=None, end_name: str = "", frames: int | None = None,
              method: str | None = None) -> None:
        """A morph from map image ``a`` to image ``b`` (or to latent ``end``): ``model.morph``.
        ``frames``/``method`` None: the strip's current settings."""
        d = self._require_map()
        label = self.model.label
        zb = d.mean[int(b)] if b is not None else np.asarray(end, np.float32)
        name = f"{label(int(a))} → {label(int(b)) if b is not None else end_name}"
        self.model.morph = MorphSpec(np.stack([d.mean[int(a)], zb]), (int(a), None if b is None else int(b)),
                                     name, method, None if frames is None else int(frames))

    def _on_morph(self, spec) -> None:
        self.strip = None
        if spec is None or self.model.summary is None or self.model.loading:
            return
        if spec.method is None or spec.frames is None:  # no strip view to take them from: the defaults
            spec = MorphSpec(spec.keys, spec.ends, spec.name, spec.method or "slerp", spec.frames or 12)
            with self.model.events.morph.blocked():
                self.model.morph = spec
        self._submit("strip", decode_jobs.morph_strip, spec.keys, int(spec.frames), spec.method, tuple(spec.ends),
                     on_result=lambda s: setattr(self, "strip", s), what="morph strip")

    # ---- exports ------------------------------------------------------------------------------------
    def recipe(self, **kw) -> dict:
        """How an export was made (its PNG text chunk or sidecar): the model, its weights' hash, ``kw``."""
        s = self.model.summary
        r = {"model": s.spec if s is not None else ""}
        if self.model.model_hash:
            r["model_hash"] = self.model.model_hash
        r.update(kw)
        return r

    def export(self, path: str, fn, *args) -> int:
        """Run export job ``fn(ctx, path, *args)`` (queued: every one runs and reports): the path is added
        to ``exports`` and ``model.exported(path)`` emitted, or ``model.export_failed(path, why)``.
        Refused while a model loads (it would be made with the model being loaded)."""
        m = self.model
        if m.loading:
            raise UserError(f"Not exported: a model is loading; export {path} once it is there")

        def saved(p):
            self.exports.append(str(p))
            m.exported.emit(str(p))

        def failed(f):
            self.failures.append((f"export {path}", f.message))
            m.export_failed.emit(str(path), f.message)

        return self._submit("export", fn, str(path), *args, on_result=saved, on_error=failed)

    def export_morph(self, path: str, fps: int = 12) -> int:
        """The morph's strip as a GIF, MP4 or PNG strip (once the strip is there)."""
        spec, s = self.model.morph, self.strip
        if spec is None or s is None:
            raise UserError("no morph strip to export yet")
        d = self.model.map
        recipe = self.recipe(kind="morph", method=s.method, frames=len(s.frames), keyframes=s.keyframes,
                             images=[self.model.label(i) for i in spec.ends if i is not None],
                             dataset=d.name if d is not None else "")
        return self.export(path, export_jobs.export_morph, s.frames, int(fps), recipe, None, None, s.method)

    # ---- bookmarks ----------------------------------------------------------------------------------
    def bookmark(self, name: str = ""):
        """Keep the latent on screen as a named bookmark; returns it (None without a latent)."""
        from ..core.session import Bookmark

        st = self.model.latent
        if st.z is None:
            return None
        st.commit()
        b = Bookmark(name.strip() or f"bookmark {len(self.model.bookmarks) + 1}", st.z.copy())
        self.model.bookmarks = tuple(self.model.bookmarks) + (b,)
        return b

    def remove_bookmark(self, i: int) -> None:
        items = list(self.model.bookmarks)
        if 0 <= i < len(items):
            del items[i]
            self.model.bookmarks = tuple(items)

    # ---- attribute directions -------------------------------------------------------------------------
    def group(self, rows, text: str = "") -> attr_jobs.Group:
        """A group of map images (their posterior means) for a direction."""
        d = self._require_map()
        rows = np.asarray(rows, int)
        if len(rows) == 0:
            raise UserError("a group needs at least one image")
        return attr_jobs.Group(d.mean[rows], text or f"{len(rows)} images",
                               f"map:{d.name}:" + ",".join(str(int(i)) for i in rows))

    def make_direction(self, a, b, method: str = "mean", name: str = "", on_result=None, on_error=None) -> int:
        """The direction from group ``a`` to group ``b`` (``group()``), added to ``model.directions``."""
        s = self._require_model()
        name = name or f"{a.text} → {b.text}"

        def made(direction):
            self.add_direction(direction)
            if on_result is not None:
                on_result(direction)

        return self._submit("attribute", attr_jobs.fit, a, b, method, name, {"model": s.spec},
                            on_result=made, on_error=on_error, what=f"direction {name}")

    def add_direction(self, direction) -> bool:
        """Add a direction (made here, or imported) at strength 0; refused for another latent shape."""
        s = self.model.summary
        if s is None or direction.latent_shape != tuple(s.latent_shape):
            self.model.failed.emit("direction", f"{direction.name!r} was made for latents of shape "
                                                f"{direction.latent_shape}, not this model's: left out")
            return False
        self.model.directions = tuple(self.model.directions) + ((direction, 0.0),)
        return True

    # ---- breeding -------------------------------------------------------------------------------------
    def add_parents(self, latents, labels) -> list[int]:
        """Roots of the family tree from latents (pinned images, bookmarks, the latent on screen)."""
        tree = self.model.family
        ids = [tree.add_root(np.asarray(z, np.float32), str(lab)) for z, lab in zip(latents, labels)]
        tree.set_parents([*tree.parents, *[i for i in ids if i not in tree.parents]])
        return ids

    def add_pinned_parents(self) -> list[int]:
        d = self._require_map()
        pins = list(self.model.pins)
        if not pins:
            raise UserError("pin images on the map first")
        return self.add_parents([d.mean[i] for i in pins], [self.model.label(i) for i in pins])

    def breed(self, n: int = 8, mutation: float = 0.3, seed: int = 0) -> list[int]:
        """A brood of ``n`` children of the parents chosen (seeded: the same seed, the same children)."""
        tree = self.model.family
        if not tree.parents:
            raise UserError("choose parents first")
        return tree.breed(int(n), float(mutation), int(seed))

    def next_generation(self, picked, n: int = 8, mutation: float = 0.3, seed: int = 1) -> list[int]:
        """The children ``picked`` become the parents of a new brood."""
        self.model.family.set_parents(list(picked))
        return self.breed(n, mutation, seed)

    # ---- sessions -------------------------------------------------------------------------------------
    def save_session(self, path: str) -> str:
        """Write the model as a session file (atomically); raises UserError when there is nothing to save
        or the file cannot be written."""
        from .session_io import dump

        s = dump(self.model)
        if s is None:
            raise UserError("nothing to save yet: no model is loaded")
        try:
            return str(s.save(path))
        except OSError as e:
            raise UserError(f"Could not save the session to {path}: {e.strerror or e}") from None

    def open_session(self, path: str) -> None:
        """Open a session file into the model: its model and map first (asynchronously), then what fits
        (``model.session_opened(notes)`` says what could not be put back). A malformed file raises
        UserError and changes nothing."""
        from ..core.session import Session

        self.restore(Session.load(path))

    def restore(self, s, notes: list[str] | None = None) -> None:
        """Put session ``s`` back: load its model and images where they differ, then its state."""
        from .session_io import available_images, working_size

        m = self.model
        m.opening_session = s
        self._fell_back = False
        images, self.session_notes = available_images(s)
        self.session_notes = list(notes or []) + self.session_notes
        size = working_size(s)
        summary = m.summary
        # (the images are set once the load began: nothing maps them with the old model)
        if summary is None or summary.spec != s.model_spec:
            if size:
                m.size = size
            self.open_model(s.model_spec)
            m.images = images
        elif size and summary.resizable and tuple(summary.image_size) != size:
            self.set_working_size(size)
            m.images = images
        elif images != m.images:
            m.images = images        # (the map is built again on this event)
        elif m.map is None:
            m.rebuild_map.emit()
            if self.pipelines:
                self.build_map()
        else:
            self._finish_session()

    def prepare_restore(self, s, notes: list[str] | None = None) -> None:
        """Session ``s`` (a recovered autosave) is put back once the first model and map are up: its
        model and images become the ones to open (nothing is loaded here)."""
        from .session_io import available_images

        m = self.model
        m.spec = s.model_spec
        m.images, found = available_images(s)
        m.opening_session = s
        self._fell_back = False
        self.session_notes = list(notes or []) + found

    def _session_fallback(self, message: str) -> bool:
        """The session's model could not be loaded: say so, and open what we can on another model."""
        m, s = self.model, self.model.opening_session
        if s is not None and self._fell_back:  # the fallback failed too: give up on the session
            m.opening_session = None
            return False
        if s is None or s.model_spec == DEFAULT_MODEL or (m.summary is not None and m.summary.spec == s.model_spec):
            return False
        self._fell_back = True
        self.session_notes.append(f"the session's model {s.model_spec!r} could not be loaded ({message})")
        if m.summary is None:
            m.images = None
            self.open_model(DEFAULT_MODEL)
        else:
            self._finish_session()
        return True

    def _on_map_done(self, done: bool) -> None:
        if done and self.model.opening_session is not None and self.model.ready:
            self._finish_session()

    def _finish_session(self) -> None:
        from .session_io import apply_plan, plan_restore

        m = self.model
        s = m.opening_session
        if s is None or m.summary is None or m.loading:
            return
        m.opening_session = None
        d = m.map
        plan = plan_restore(s, m.summary.latent_shape, None if d is None else len(d.mean),
                            None if d is None else d.projection.method)
        apply_plan(m, plan)
        if plan.latent is not None or plan.history:
            m.caption = f"restored: {m.latent.source}"
        notes = list(self.session_notes) + plan.notes
        self.session_notes = []

        def check(h: str) -> None:
            m.model_hash = h
            model_notes = [n for n in s.check_model(m.summary.spec, h) if "image folder" not in n]
            self.session_notes = notes + model_notes
            m.session_opened.emit(self.session_notes)

        if m.model_hash is not None:
            check(m.model_hash)
        else:
            self._submit("hash", model_jobs.model_hash, on_result=check, what="the weights' hash")
