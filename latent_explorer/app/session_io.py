"""Sessions in the app, without Qt: the application model (``app/model.py``) <-> a ``core.session.Session``.

A session is the model's serialisation and nothing else. Saving: ``snapshot(model)`` reads the
model's fields into a ``Snapshot`` and ``capture`` turns it into a Session (``dump(model)`` does
both). Opening: ``plan_restore(session, ...)`` checks a loaded (schema-checked, bounded) session
against the model and map now open and returns a ``RestorePlan``: what to put back and, in
words, what could not be (another latent shape, an image not on this map); ``apply_plan(model,
plan)`` writes it into the model, whose events update whatever views it has. Nothing here
touches a widget.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.session import Bookmark, Morph, Session


@dataclass
class MorphSpec:
    keys: np.ndarray                 # k × *latent_shape
    ends: tuple                      # (index a or None, index b or None) on the map
    name: str = "morph"
    #: None (both): the strip's current settings (the view fills them in)
    method: str | None = "slerp"
    frames: int | None = 16


@dataclass
class Snapshot:
    model_spec: str
    model_hash: str = ""
    images: object = None            # a folder (str), a list of files, or None
    latent: np.ndarray | None = None
    latent_source: str = ""
    selected: int | None = None
    pins: tuple = ()
    bookmarks: list = field(default_factory=list)
    history: list = field(default_factory=list)      # [(z, source)], oldest first
    history_position: int = -1
    image_size: tuple | None = None  # a resizable (Stable Diffusion-style) VAE's working size
    temperature: float | None = None
    family: tuple | None = None      # breeding: (FamilyTree.to_dict(), its latents)
    color_by: str | None = None
    projection: str | None = None
    view: list | None = None
    morph: MorphSpec | None = None
    directions: list = field(default_factory=list)   # [(core.latent.attributes.Direction, strength)]


def snapshot(model) -> Snapshot | None:
    """The application model's fields as a Snapshot (None before a model is loaded)."""
    s = model.summary
    if s is None:
        return None
    st, h = model.latent, model.latent.history
    snap = Snapshot(
        model_spec=s.spec, model_hash=model.model_hash or "", images=model.images,
        latent=None if st.z is None else st.z.copy(), latent_source=st.source, selected=model.selected,
        pins=tuple(model.pins),
        bookmarks=list(model.bookmarks), history=h.entries(), history_position=h.position,
        image_size=tuple(s.image_size) if s.resizable else None)
    tree = model.family
    snap.family = tree.to_dict() if tree is not None and tree.nodes else None
    snap.temperature = float(model.temperature)
    snap.color_by = model.color_by
    if model.map is not None:
        snap.projection = model.map.projection.method
        if model.map_view:
            snap.view = [float(v) for v in model.map_view]
    snap.morph = model.morph
    snap.directions = list(model.directions)
    return snap


def dump(model) -> Session | None:
    """The application model as a Session (None before a model is loaded)."""
    snap = snapshot(model)
    return None if snap is None else capture(snap)


def apply_plan(model, plan: "RestorePlan") -> None:
    """Put a checked session (``plan_restore``'s plan) into the application model, in the order the
    views need: map settings, selection, morph, bookmarks, latent and history, directions (their
    strengths are relative to the latent), projection or view, the family tree."""
    from ..core.latent.breeding import FamilyTree

    if plan.color_by:
        model.color_by = plan.color_by
    if plan.temperature is not None:
        model.temperature = float(plan.temperature)
    if plan.selected is not None:
        model.selected = int(plan.selected)
    model.pins = tuple(plan.pins)
    if plan.morph is not None:
        model.morph = plan.morph
    model.bookmarks = tuple(plan.bookmarks)
    if plan.latent is not None or plan.history:
        model.latent.restore(plan.latent, plan.latent_source, plan.history, plan.history_position)
    model.directions = tuple((d, float(st)) for d, st in plan.directions)
    if plan.projection:
        model.projection = plan.projection
    elif plan.view:
        model.map_view = tuple(float(v) for v in plan.view)
    model.family = plan.family if plan.family is not None else FamilyTree()


def capture(snap: Snapshot) -> Session:
    images = snap.images
    s = Session(model_spec=snap.model_spec, model_hash=snap.model_hash or "",
                images_dir=images if isinstance(images, str) else None,
                current_latent=None if snap.latent is None else np.array(snap.latent, np.float32),
                selected_index=snap.selected,
                bookmarks=[Bookmark(b.name, np.array(b.latent, np.float32)) for b in snap.bookmarks],
                history=[np.array(z, np.float32) for z, _ in snap.history])
    s.extra = {"latent_source": snap.latent_source, "history_sources": [src for _, src in snap.history],
               "history_position": snap.history_position}
    if snap.family is not None:
        s.family, s.family_latents = snap.family
    if snap.pins:
        s.extra["pins"] = [int(i) for i in snap.pins]
    if isinstance(images, (list, tuple)):
        s.extra["image_files"] = [str(p) for p in images]
    if snap.image_size:
        s.extra["image_size"] = [int(v) for v in snap.image_size]
    if snap.temperature is not None:
        s.extra["temperature"] = float(snap.temperature)
    if snap.color_by:
        s.map_settings = {"color_by": snap.color_by}
    if snap.projection:
        s.map_settings.update(projection=snap.projection)
    if snap.view:
        s.map_settings.update(view=[float(v) for v in snap.view])
    if snap.morph is not None:
        m = snap.morph
        s.morphs = [Morph(m.name or "morph", np.array(m.keys, np.float32), m.method, int(m.frames))]
        s.extra["morph_endpoints"] = [None if e is None else int(e) for e in m.ends]
    if snap.directions:  # the vectors as arrays, the rest (name, method, recipe) in the JSON
        s.directions = {str(i): np.asarray(d.vector, np.float32) for i, (d, _) in enumerate(snap.directions)}
        s.extra["attribute_directions"] = [{"key": str(i), "name": d.name, "method": d.method, "recipe": d.recipe,
                                            "strength": float(st)} for i, (d, st) in enumerate(snap.directions)]
    return s


def session_directions(s: Session, shape: tuple) -> tuple[list, list[str]]:
    """The session's attribute directions that fit latents of ``shape`` (each checked like an imported
    JSON file), as (direction, its slider's strength) pairs, and notes on those that do not."""
    from ..core.latent.attributes import Direction

    out, notes = [], []
    meta = s.extra.get("attribute_directions") or []
    if not isinstance(meta, list):
        return [], ["the session's directions are damaged and were left out"]
    for i, m in enumerate(meta):
        key = m.get("key") if isinstance(m, dict) else None
        vec = s.directions.get(key) if isinstance(key, str) else None
        if vec is None:
            notes.append(f"direction {i + 1} has no vector and was left out")
            continue
        try:
            d = Direction.from_dict({"name": m.get("name"), "method": m.get("method", "mean"),
                                     "latent_shape": [int(n) for n in np.shape(vec)],
                                     "vector": np.asarray(vec, np.float64).ravel().tolist(),
                                     "recipe": m.get("recipe", {})}, tuple(shape))
        except ValueError as e:
            notes.append(f"direction {i + 1} was left out: {e}")
            continue
        strength = m.get("strength", 0.0)
        out.append((d, float(strength) if isinstance(strength, (int, float)) and abs(strength) <= 1e3 else 0.0))
    return out, notes


def session_images(session: Session):
    """The session's images as the map wants them: a folder, a list of files, or None."""
    if session.images_dir:
        return session.images_dir
    files = session.extra.get("image_files")
    return list(files) if files else None


def available_images(session: Session) -> tuple[object, list[str]]:
    """The session's images that are still there, and notes on those that are not."""
    images = session_images(session)
    if isinstance(images, str) and not Path(images).is_dir():
        return None, [f"image folder {images} is missing: mapping the model's own data"]
    if isinstance(images, list):
        present = [p for p in images if Path(p).is_file()]
        notes = [] if len(present) == len(images) else \
            [f"{len(images) - len(present)} of the session's image files are missing"]
        return present or None, notes
    return images, []


def working_size(session: Session) -> tuple | None:
    size = session.extra.get("image_size")
    return tuple(int(v) for v in size) if size else None


@dataclass
class RestorePlan:
    notes: list = field(default_factory=list)
    color_by: str | None = None
    temperature: float | None = None
    selected: int | None = None
    pins: tuple = ()
    morph: MorphSpec | None = None
    bookmarks: list = field(default_factory=list)
    latent: np.ndarray | None = None
    latent_source: str = "restored session"
    history: list = field(default_factory=list)
    history_position: int | None = None
    family: object = None            # breeding's FamilyTree
    projection: str | None = None    # project the map this way (it is shown another way now)
    view: list | None = None         # else show this region of it
    directions: list = field(default_factory=list)   # (core.latent.attributes.Direction, strength)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def plan_restore(s: Session, latent_shape: tuple, map_size: int | None, projection: str | None) -> RestorePlan:
    """What of ``s`` fits the model (latents of ``latent_shape``) and the map (``map_size`` points,
    projected with ``projection``; None when there is no map) now open."""
    shape = tuple(latent_shape)
    plan = RestorePlan()

    def fits(z) -> bool:
        return z is not None and tuple(np.shape(z)) == shape

    ms = s.map_settings or {}
    color_by = ms.get("color_by")
    plan.color_by = color_by if isinstance(color_by, str) and color_by else None
    if "temperature" in s.extra:
        t = s.extra["temperature"]
        if _is_number(t) and 0.0 <= t <= 3.0:
            plan.temperature = float(t)
        else:
            plan.notes.append(f"the session's temperature {t!r} is not a number from 0 to 3: kept this one")
    if map_size is not None and s.selected_index is not None:
        if 0 <= s.selected_index < map_size:
            plan.selected = int(s.selected_index)
        else:
            plan.notes.append(f"the selected image #{s.selected_index} is not on this map")
    pins = s.extra.get("pins") or []
    if not isinstance(pins, list):
        plan.notes.append("the session's pins are damaged and were left out")
    elif map_size is not None:
        ok = [int(i) for i in pins if _is_int(i) and 0 <= i < map_size]
        plan.pins = tuple(dict.fromkeys(ok))
        if len(plan.pins) < len(pins):
            plan.notes.append(f"{len(pins) - len(plan.pins)} pinned image(s) are not on this map")
    if s.morphs:  # its endpoints index the map only when they are on it
        m = s.morphs[0]
        if fits(m.keyframes[0]):
            ends = s.extra.get("morph_endpoints") or (None, None)
            ends = tuple(ends) if isinstance(ends, (list, tuple)) and len(ends) == 2 else (None, None)
            if map_size is None or any(e is not None and not (_is_int(e) and 0 <= e < map_size) for e in ends):
                ends = (None, None)
            plan.morph = MorphSpec(np.asarray(m.keyframes, np.float32), ends, m.name, m.method, int(m.frames))
        else:
            plan.notes.append("the morph was made for another latent shape and was not restored")
    plan.directions, notes = session_directions(s, shape)
    plan.notes += notes
    plan.bookmarks = [b for b in s.bookmarks if fits(b.latent)]
    if len(plan.bookmarks) < len(s.bookmarks):
        plan.notes.append(f"{len(s.bookmarks) - len(plan.bookmarks)} bookmark(s) have another latent shape "
                          "and were left out")
    sources = list(s.extra.get("history_sources") or [])
    plan.history = [(z, sources[i] if i < len(sources) else "restored") for i, z in enumerate(s.history) if fits(z)]
    plan.latent = s.current_latent if fits(s.current_latent) else None
    if s.current_latent is not None and plan.latent is None:
        plan.notes.append(f"the saved latent has shape {tuple(np.shape(s.current_latent))}, "
                          f"this model's is {shape}: kept the model's own")
    plan.notes += list(getattr(s, "read_notes", []))
    source = s.extra.get("latent_source", "restored session")
    plan.latent_source = source if isinstance(source, str) else "restored session"
    pos = s.extra.get("history_position")
    plan.history_position = int(pos) if _is_int(pos) and len(plan.history) == len(s.history) else None
    if s.family:
        from ..core.latent.breeding import FamilyTree

        tree = FamilyTree.from_dict(s.family, s.family_latents)  # (checked when the file was read)
        if tree.shape in (None, shape):
            plan.family = tree
        else:
            plan.notes.append("the family tree was bred on another latent shape and was not restored")
    method, view = ms.get("projection"), ms.get("view")
    method = method if isinstance(method, str) else None
    if map_size is not None and method and method != projection:
        plan.projection = method
    elif map_size is not None and isinstance(view, list) and len(view) == 4 and all(_is_number(v) for v in view):
        plan.view = list(view)
    return plan
