"""The explorer's application model: everything a user can see or change, in one evented object.

``ExplorerModel`` is plain Python (no Qt, no web): the window, the browser classroom and scripts
are views of it. Each field emits its own event when it is given a new value
(``model.events.selected.connect(fn)``, psygnal's evented dataclass, as napari's ViewerModel);
a view binds both ways and blocks its own signals while it applies a model change, so the two
never loop. Fields hold immutable values (tuples, frozen records) or objects that are replaced,
never edited in place (the family tree, which breeding grows, is the one exception), so "it
changed" is always an event. The current latent and its undo
history are ``model.latent`` (``app.state.LatentState``, with its own listeners: a slider drag
changes it hundreds of times a second).

A session file is this model's serialisation and nothing else: ``app.session_io.dump(model)`` and
``app.session_io.restore_plan`` / ``commands.open_session``.

Besides the fields, signals tell what no single field says: ``load_started(spec, words)``,
``loaded(summary)`` (a new model, or a new working size: everything that depends on the latent
shape starts again), ``load_failed(message)``, ``tiers_changed(summary)`` (the same model decodes
on another device or precision: previews are redone), ``rebuild_map()``, ``failed(what,
message)`` (say it to the user), ``notice(text)`` (a passing word) and ``session_opened(notes)``.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psygnal import Signal, evented

from .options import MAX_MAP_POINTS
from .state import LatentState

# Fields holding arrays or big records compare by identity: a new object is a change.
_BY_IDENTITY = ("summary", "map", "morph", "family", "directions", "bookmarks", "images", "theory_sample",
                "theory_numbers", "opening_session", "prior_holes")


def _empty_tree():
    from ..core.latent.breeding import FamilyTree

    return FamilyTree()


@evented(equality_operators={name: operator.is_ for name in _BY_IDENTITY})
@dataclass(eq=False)
class ExplorerModel:
    # ---- the model ---------------------------------------------------------------------
    #: the model spec asked for (while it loads) or open (``load_model``'s spec string)
    spec: str = "digits"
    #: a Stable Diffusion-style VAE's working size asked for: an int, (H, W), "HxW" or None (256)
    size: Any = None
    device: str = "auto"
    #: full-decode precision of diffusers VAEs: "auto", "fp32" or "bf16"
    precision: str = "auto"
    allow_pickle: bool = False
    #: what the open model is (``app.jobs.model.ModelSummary``); None before the first load
    summary: Any = None
    #: a model (or working size) is being loaded
    loading: bool = False
    #: the weights' hash ("" when it has none; None until known)
    model_hash: str | None = None

    # ---- images and the map ------------------------------------------------------------
    #: what the map shows: a folder, a collection folder, a list of files, or None (the model's own images)
    images: Any = None
    map_limit: int = MAX_MAP_POINTS
    #: the map on screen (``app.jobs.mapping.MapData``), None while there is none
    map: Any = None
    #: the map job ended (shown, failed or cancelled)
    map_done: bool = False
    #: how the map's points are coloured ("label", a factor name, "error", …); None: the view's default
    color_by: str | None = None
    #: the visible region of the map (x0, x1, y0, y1), as the user left it
    map_view: tuple | None = None
    #: the projection asked for ("pca", "tsne", "umap", "identity"…); None: the map's default
    projection: str | None = None
    #: the selected image (its index on the map): the sliders show its posterior
    selected: int | None = None
    #: pinned images, in the order pinned (analogies, blends, groups, parents)
    pins: tuple = ()

    # ---- the latent and what the user made -----------------------------------------------
    latent: LatentState = field(default_factory=LatentState)
    #: the temperature of random samples (z ~ N(0, T² I))
    temperature: float = 1.0
    #: bookmarks: a tuple of ``core.session.Bookmark``
    bookmarks: tuple = ()
    #: the morph on screen (``app.session_io.MorphSpec``), or None
    morph: Any = None
    #: the user's attribute directions: a tuple of (``core.latent.attributes.Direction``, strength)
    directions: tuple = ()
    #: breeding's family tree (``core.latent.breeding.FamilyTree``; the breeding commands grow it in
    #: place, and a new tree, from a session or another model, is a new object)
    family: Any = field(default_factory=lambda: _empty_tree())
    #: the seed of the last random sample (Random: z ~ N(0, T² I))
    sample_seed: int = 0
    #: the Theory view's numbers of the selected image (``app.jobs.theory.ImageNumbers``: μ, σ², KL…)
    theory_numbers: Any = None
    #: the Theory view's last "Sample z = μ + σ·ε" (``app.jobs.theory.PosteriorDraws``), or None
    theory_sample: Any = None
    theory_seed: int = 0
    #: the prior's contours, the data's density and the holes drawn on the map
    show_prior: bool = False
    #: where the map shows the prior's holes: (rect (x0, y0, w, h), bool n×n), or None
    prior_holes: Any = None
    #: the guided lab's step (0-based), or None when the lab is closed
    lab_step: int | None = None
    #: what the preview shows now, in words (the caption under it)
    caption: str = ""
    #: a session being opened (``core.session.Session``): applied once its model and map are up
    opening_session: Any = None

    # ---- signals no single field tells ---------------------------------------------------
    #: a model (or a working size) is being loaded: (its spec, what is happening in words)
    load_started = Signal(str, str)
    loaded = Signal(object)
    load_failed = Signal(str)
    tiers_changed = Signal(object)
    #: the same images must be mapped again (a session reopened over a map that failed)
    rebuild_map = Signal()
    #: an operation failed and the user must hear of it: (what, message)
    failed = Signal(str, str)
    #: a passing word for the user (a status bar's message)
    notice = Signal(str)
    #: a session was put back: the notes on what could not be
    session_opened = Signal(list)
    #: an export was written (its path) / could not be (its path, why)
    exported = Signal(str)
    export_failed = Signal(str, str)

    # ---- derived ----------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """A model is open and none is loading."""
        return self.summary is not None and not self.loading

    @property
    def slow(self) -> bool:
        """Its full decode takes seconds: approximate previews first (tiers)."""
        s = self.summary
        return bool(s is not None and s.tiers is not None and s.tiers.slow)

    @property
    def spatial(self) -> bool:
        """C×h×w latents (a Stable Diffusion-style VAE)."""
        s = self.summary
        return bool(s is not None and s.tiers is not None and s.tiers.spatial)

    @property
    def latent_shape(self) -> tuple | None:
        return None if self.summary is None else tuple(self.summary.latent_shape)

    def label(self, i: int) -> str:
        """How image ``i`` of the map is named everywhere (captions, history, morph titles,
        bookmarks): its file name for the user's own images, else its index and label."""
        d = self.map
        if d is None:
            return f"#{i}"
        if d.paths and 0 <= i < len(d.paths):
            return Path(d.paths[i]).name
        return f"#{i}" + ("" if d.labels is None else f" ({d.label_text(i)})")

    @property
    def theory_unavailable(self) -> str:
        """"" when the Theory view can show this model, else why not (in words)."""
        d = self.map
        if self.summary is None:
            return "No model loaded"
        if self.spatial:
            return ("The Theory panel shows vector latents; this model's latent is a C×h×w grid "
                    "(see the Latent channels view)")
        if d is not None and d.logvar is None:
            return "This model's encoder gives a point, not a distribution: there is no q(z|x) to show"
        return ""

    def settle_map(self) -> None:
        """The map job ended (shown, failed or cancelled): ``map_done`` turns True, an event each time
        (a session waiting for its map is applied then; readiness checks)."""
        if self.map_done:
            with self.events.map_done.blocked():
                self.map_done = False
        self.map_done = True

    def latent_at(self, x: float, y: float):
        """The latent at map point (x, y): exact for a 2-d latent, else a blend of the images around it."""
        import numpy as np

        d = self.map
        if d.projection.method == "identity":
            return np.array([x, y], np.float32).reshape(d.mean.shape[1:])
        if d.interpolator is None:  # too few points for a blend: the nearest image
            return d.mean[int(np.argmin(((d.xy - (x, y)) ** 2).sum(1)))]
        return d.interpolator.latent_at((x, y))

    def hole_at(self, x: float, y: float):
        """(latent, words) when map point (x, y) is in one of the prior's holes the map shows
        (``prior_holes``): the latent on the map's plane there (exact for 2-d and PCA); else None."""
        import numpy as np

        d, found = self.map, self.prior_holes  # read once: another thread may replace either meanwhile
        if found is None or d is None:
            return None
        (x0, y0, w, h), holes = found
        n = holes.shape[0]
        i, j = int((y - y0) / h * n), int((x - x0) / w * n)
        if not (0 <= i < n and 0 <= j < n and holes[i, j]):
            return None
        p = d.projection
        z = np.array([x, y], np.float32) if p.method == "identity" else \
            (np.asarray(p.mean) + np.array([x, y]) @ np.asarray(p.components)).astype(np.float32)
        return z.reshape(d.mean.shape[1:]), "a hole: the prior reaches it, no encoded image does"

    def close(self) -> None:
        """Disconnect every listener (of its fields, its signals and its latent): a model that is done
        with (a classroom student who left) can then be freed, listeners and all."""
        self.events.disconnect()
        for name in ("load_started", "loaded", "load_failed", "tiers_changed", "rebuild_map", "failed", "notice",
                     "session_opened", "exported", "export_failed"):
            getattr(self, name).disconnect()
        self.latent.disconnect_all()

    def forget_map(self) -> None:
        """A new model or new images: what indexed the old map goes (selection, pins, morph ends)."""
        self.selected = None
        self.pins = ()
        self.latent.selected = None
