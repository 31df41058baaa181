"""The directions controller: groups → attribute directions → sliders of their own (issue 12 §1).

It owns the two groups being defined (``app.jobs.attributes.Group``), the directions made so far
(``core.latent.attributes.Direction``) and their strengths. Moving direction sliders sets the
latent to ``base + Σ sᵢ·vᵢ``, where ``base`` is the latent they started from: any other change of
the latent (a click, a slider of a dimension, an undo) becomes the new base and puts every
strength back to 0, so a direction applies to whatever image is on screen. Encoding a folder and
fitting a direction are ``attribute`` requests (queued: each one asked for runs). Directions are
saved in sessions and exported as JSON with their recipe.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from ...app.jobs import attributes as attr_jobs
from ...core.errors import UserError
from ...core.latent.attributes import MAX_NAME, Direction, apply_directions
from .. import memory

SAMPLE_THUMBS = 8


class DirectionsController(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.directions: list[Direction] = []
        self.strengths: list[float] = []
        self.base: np.ndarray | None = None
        self.groups: dict[str, attr_jobs.Group | None] = {"from": None, "to": None}
        self.panel = self.sliders = self.lasso = None
        self._applying = False
        self._strips_for = None      # (base, number of directions) the strips on screen show
        self._lasso_images = None    # the images the lasso's indices refer to (the map's)
        self._strips_later = None

    def attach(self, panel, lasso) -> None:
        """The panels exist: bind them and the map's ``lasso`` (the window made it on the map)."""
        from superqt.utils import qdebounced

        self.ctx.model.events.directions.connect(self._on_directions)

        self._strips_later = qdebounced(self.request_strips, 150)
        v = self.ctx.views
        self.panel, self.sliders = panel, v.user_directions
        self.lasso = lasso
        self.lasso.selected.connect(lambda _: self._update_counts())
        panel.lassoArmed.connect(self.lasso.set_armed)
        panel.groupRequested.connect(self.set_group)
        panel.makeRequested.connect(self.make)
        panel.importRequested.connect(self.import_dialog)
        self.sliders.strengthChanged.connect(self.set_strength)
        self.sliders.actionRequested.connect(self._on_action)
        self.sliders.resetRequested.connect(self.reset_strengths)
        self.ctx.model.events.pins.connect(lambda _: self._update_counts())
        panel.menuOpening.connect(self._update_counts)
        self.ctx.worker.progress.connect(self._on_progress)
        self.ctx.cancelRequested.connect(self.cancel)
        self.ctx.state.connect(self._on_state_changed)
        self.ctx.model.loaded.connect(self._on_model)
        self.ctx.model.events.map.connect(lambda d: d is not None and self._on_map(d))

    # ---- groups -------------------------------------------------------------------------
    def set_group(self, side: str, source: str, value=None) -> int:
        """Make one side's group from the map's lasso / pins / a label / a factor, the bookmarks, or
        a folder (encoded on the worker). Returns the request id of a folder's encode, else 0."""
        d = self.ctx.model.map
        try:
            if self.ctx.model.loading or self.ctx.model.summary is None:
                raise UserError("a model is loading: make the groups once it is there")
            if source == "folder":
                folder = value or memory.open_folder(self.ctx.window, "A folder of images for the group")
                if not folder:
                    return 0
                name = Path(folder).name
                self.panel.status.setText(f"encoding {name}…")
                return self.ctx.worker.submit(
                    "attribute", attr_jobs.encode_group, folder, f"folder {name}", str(folder),
                    on_result=lambda g: self._encoded(side, g), on_error=self._failed)
            if source == "bookmarks":
                shape = tuple(self.ctx.model.summary.latent_shape)
                items = [b for b in self.ctx.model.bookmarks if tuple(np.shape(b.latent)) == shape]
                if not items:
                    raise UserError("there are no bookmarks of this model yet (Ctrl+D keeps the current latent)")
                names = ", ".join(b.name for b in items[:3]) + ("…" if len(items) > 3 else "")
                group = attr_jobs.Group(np.stack([b.latent for b in items]), f"{len(items)} bookmarks: {names}",
                                        "bookmarks: " + ", ".join(b.name for b in items))
                return self._set(side, group) or 0
            if d is None:
                raise UserError("the map has no images yet")
            rows = self._rows(source, value, d)
            group = attr_jobs.Group(d.mean[rows], self._text(source, value, rows, d), self._source(source, value, rows, d),
                                    d.images[rows[np.linspace(0, len(rows) - 1, min(len(rows), SAMPLE_THUMBS)).astype(int)]])
        except UserError as e:
            self.panel.status.setText(str(e))
            self.ctx.message(str(e), 5000)
            return 0
        self._set(side, group)
        return 0

    def _rows(self, source: str, value, d) -> np.ndarray:
        from ...core.latent.groups import GroupSpec, select

        if source == "lasso":
            rows = np.asarray(self.lasso.indices, int)
            if len(rows) == 0:
                raise UserError("nothing is lassoed: Shift+drag round some points on the map")
        elif source == "pins":
            rows = np.asarray(self.ctx.model.pins, int)
            if len(rows) == 0:
                raise UserError("nothing is pinned: Ctrl-click points on the map")
        elif source == "label":
            rows = select(GroupSpec("label", int(value), f"label:{value}"), d.labels, None, limit=None)
        elif source == "factor":
            name, text = value
            rows = select(GroupSpec("factor", (name, text), f"factor:{name}={text}"), None, d.factors,
                          d.factor_names, d.value_names, limit=None)
        else:
            raise UserError(f"unknown group source {source!r}")
        return rows

    def _text(self, source, value, rows, d) -> str:
        n = f"{len(rows):,} image{'s' if len(rows) != 1 else ''}"
        if source == "label":
            names = d.label_names
            shown = names[value] if names and 0 <= value < len(names) else value
            return f"{d.label_name} {shown} ({n})"
        if source == "factor":
            return f"{value[0]} = {value[1]} ({n})"
        return f"{source} ({n})"

    def _source(self, source, value, rows, d) -> str:
        if source == "label":
            return f"label:{value}"
        if source == "factor":
            return f"factor:{value[0]}={value[1]}"
        return f"{source}:{d.name}:" + ",".join(str(int(i)) for i in rows)

    def _set(self, side: str, group) -> None:
        self.groups[side] = group
        self.panel.show_group(side, group.text, group.images)
        ready = all(g is not None for g in self.groups.values())
        self.panel.set_ready(ready)
        a, b = self.groups["from"], self.groups["to"]
        if ready and not self.panel.name.text().strip():
            self.panel.name.setPlaceholderText(f"{_short(a.text)} → {_short(b.text)}")
        self.panel.status.setText("now Make direction" if ready else f"{side}: {group.text}; now set the other group")

    def _encoded(self, side: str, group) -> None:
        self.ctx.progress(None)
        s = self.ctx.model.summary
        if s is None or tuple(group.latents.shape[1:]) != tuple(s.latent_shape):
            self.panel.status.setText("the folder was encoded by another model: set the group again")
            return
        self._set(side, group)

    def _on_progress(self, kind, rid, done, total, text) -> None:
        if kind == "attribute":
            self.panel.status.setText(text)
            self.ctx.progress(text, done, total, cancellable=True)

    def cancel(self) -> None:
        """The status bar's Cancel: stop encoding a group's folder (a direction's fit is quick)."""
        if self.ctx.worker.is_busy("attribute"):
            self.ctx.worker.cancel("attribute")
            self.ctx.progress(None)
            self.panel.status.setText("cancelled")

    def _failed(self, failure) -> None:
        self.ctx.progress(None)
        failure.handled = True
        self.panel.status.setText(f"could not: {failure.message}")
        self.ctx.error(f"Directions: {failure.message}")

    def _update_counts(self) -> None:
        if self.panel is not None:
            self.panel.set_counts(len(self.lasso.indices), len(self.ctx.model.pins), len(self.ctx.model.bookmarks))

    # ---- directions -----------------------------------------------------------------------
    def make(self, method: str = "mean", name: str = "") -> int:
        a, b = self.groups["from"], self.groups["to"]
        if a is None or b is None:
            self.panel.status.setText("set both groups first")
            return -1
        if self.ctx.model.loading:
            self.panel.status.setText("a model is loading: make the direction once it is there")
            return -1
        name = name or f"{_short(a.text)} → {_short(b.text)}"
        recipe = {"model": self.ctx.model.summary.spec}
        self.panel.status.setText(f"making {name!r}…")
        return self.ctx.worker.submit("attribute", attr_jobs.fit, a, b, method, name, recipe,
                                      on_result=self.add, on_error=self._failed)

    def add(self, direction: Direction) -> None:
        s = self.ctx.model.summary
        if s is None or direction.latent_shape != tuple(s.latent_shape):
            self.panel.status.setText(f"{direction.name!r} was made for latents of shape {direction.latent_shape}, "
                                      "not this model's: left out")
            return
        self.directions.append(direction)
        self.strengths.append(0.0)
        self._show_sliders()
        self.panel.status.setText(f"added {direction.name!r}: move its slider in the sliders column")
        self.ctx.message(f"direction {direction.name!r} added (length {direction.norm:.2f})", 5000)

    def _show_sliders(self) -> None:
        if getattr(self, "_mine", None) is not self.ctx.model.directions or len(self._mine) != len(self.directions):
            self._publish()
        self.sliders.set_directions([(d.name, _tooltip(d)) for d in self.directions])
        self.sliders.set_strengths(self.strengths)
        self._strips_for = None
        self.strips_later()

    # ---- strips: what each direction does to the image on screen ---------------------------------
    def strips_later(self) -> None:
        if self._strips_later is not None:
            self._strips_later()

    def request_strips(self) -> int:
        base = self.base if self.base is not None else self.ctx.state.z
        if not self.directions or base is None or self.ctx.closing or self.ctx.model.loading:
            return -1
        if self._strips_for is not None and self._strips_for[1] == len(self.directions) \
                and np.array_equal(self._strips_for[0], base):
            return -1
        self._strips_for = (base.copy(), len(self.directions))
        return self.ctx.worker.submit("attribute-strips", attr_jobs.strips, base.copy(),
                                      [d.vector for d in self.directions], on_result=self.sliders.set_strips)

    def stop(self) -> None:
        if self._strips_later is not None:
            self._strips_later.cancel()
            self._strips_later.flush(restart_timer=False)  # nothing pending now: this just stops its QTimer

    def set_strength(self, i: int, s: float) -> None:
        z = self.ctx.state.z
        if z is None or not 0 <= i < len(self.directions):
            return
        if self.base is None or self.base.shape != z.shape:
            self.base = z.copy()
        self.strengths[i] = float(s)
        self._publish()
        moved = ", ".join(f"{d.name} {v:+.2f}" for d, v in zip(self.directions, self.strengths) if v)
        z = apply_directions(self.base, self.directions, self.strengths)
        self._applying = True
        try:
            self.ctx.state.set(z, f"directions: {moved or 'all at 0'}", origin=self, commit=False)
        finally:
            self._applying = False
        self.ctx.note(f"direction sliders: {moved or 'all at 0'}")

    def reset_strengths(self) -> None:
        if any(self.strengths) and self.base is not None:
            self.strengths = [0.0] * len(self.directions)
            self._publish()
            self.ctx.state.set(self.base, "directions: all at 0", origin=self, commit=False)
            self.sliders.set_strengths(self.strengths)

    def _on_state_changed(self, origin) -> None:
        if origin is self or self._applying:
            return
        self.base = None if self.ctx.state.z is None else self.ctx.state.z.copy()
        if any(self.strengths):
            self.strengths = [0.0] * len(self.directions)
            self._publish()
            self.sliders.set_strengths(self.strengths)
        if self.directions:
            self.strips_later()

    def _on_action(self, i: int, action: str) -> None:
        if not 0 <= i < len(self.directions):
            return
        d = self.directions[i]
        if action == "remove":
            del self.directions[i], self.strengths[i]
            self._show_sliders()
        elif action == "rename":
            name, ok = QInputDialog.getText(self.ctx.window, "Rename direction", "Name:", text=d.name)
            if ok and name.strip():
                d.name = name.strip()[:MAX_NAME]
                self._show_sliders()
        elif action == "export":
            path = memory.save_path(self.ctx.window, "Export direction", _file_name(d.name), "direction (*.json)")
            if path:
                self.export(i, path)

    def export(self, i: int, path: str) -> str | None:
        from ...core.paths import atomic_write_text

        try:
            atomic_write_text(Path(path), self.directions[i].to_json())
        except OSError as e:
            self.ctx.error(f"Could not write {path}: {e.strerror or e}")
            return None
        self.ctx.message(f"direction saved to {path}", 5000)
        return str(path)

    def import_dialog(self) -> None:
        path = memory.open_path(self.ctx.window, "Import direction", "direction (*.json)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> bool:
        from ...core.latent.attributes import MAX_JSON_BYTES

        s = self.ctx.model.summary
        try:
            if Path(path).stat().st_size > MAX_JSON_BYTES:
                raise ValueError("too large for a direction file")
            d = Direction.from_json(Path(path).read_text(encoding="utf-8"), None if s is None else tuple(s.latent_shape))
        except (OSError, ValueError, UnicodeDecodeError) as e:
            self.ctx.error(f"Could not import {Path(path).name}: {e}", dialog=True)
            return False
        note = d.provenance_note(self.ctx.model.model_hash, None if s is None else s.spec)
        if note:  # made on other weights: walked all the same, but said
            self.ctx.banner(f"Note: {note}")
            self.ctx.message(note, 8000)
        self.add(d)
        return True

    # ---- model, map and session ---------------------------------------------------------------
    def _on_model(self, s) -> None:
        """Directions belong to a model's latent space: another model starts with none."""
        keep = [(d, v) for d, v in zip(self.directions, self.strengths)
                if d.latent_shape == tuple(s.latent_shape) and d.recipe.get("model") in (None, s.spec)]
        self.directions = [d for d, _ in keep]
        self.strengths = [0.0] * len(keep)
        self.groups = {"from": None, "to": None}
        self.base = None
        if self.panel is not None:
            for side in self.groups:
                self.panel.show_group(side, None)
            self.panel.set_ready(False)
            self._show_sliders()

    def _on_map(self, data) -> None:
        if self.lasso is not None:
            if data.images is self._lasso_images:
                self.lasso.select(self.lasso.indices)  # the same images re-projected: the rings follow
            else:
                self.lasso.clear()   # other images: the indices would pick the wrong ones
            self._lasso_images = data.images
        labels = []
        if data.labels is not None:
            names = data.label_names
            labels = [(int(v), str(names[v]) if names and 0 <= v < len(names) else str(int(v)))
                      for v in np.unique(data.labels)]
        factors = []
        if data.factors is not None:
            for k, fname in enumerate(data.factor_names):
                names = data.value_names.get(fname)
                factors.append((fname, [str(names[v]) if names and 0 <= v < len(names) else str(int(v))
                                        for v in np.unique(data.factors[:, k])]))
        self.panel.set_choices(labels, factors, data.label_name)
        self._update_counts()

    def snapshot(self) -> list:
        return [(d, s) for d, s in zip(self.directions, self.strengths)]

    def _publish(self) -> None:
        """The directions and their strengths into ``model.directions`` (sessions save them there)."""
        self._mine = tuple((d, float(s)) for d, s in zip(self.directions, self.strengths))
        self.ctx.model.directions = self._mine

    def _on_directions(self, items) -> None:
        if items is not getattr(self, "_mine", None):  # from a session or a script
            self.restore(list(items))

    def restore(self, items: list) -> None:
        """A session's (direction, strength) pairs, the sliders where they were: the latent restored is the
        moved one, so the image they started from is it minus Σ strength × direction."""
        self.directions = [d for d, _ in items]
        self.strengths = [float(s) for _, s in items]
        z = self.ctx.state.z
        fits = z is not None and all(d.latent_shape == tuple(z.shape) for d in self.directions)
        if not fits:
            self.strengths = [0.0] * len(self.directions)
        self.base = apply_directions(z, self.directions, [-s for s in self.strengths]) if fits else None
        self._publish()
        self._show_sliders()


def _short(text: str) -> str:
    return text.split(" (")[0][:30]


def _file_name(name: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name).strip("-") or "direction"
    return f"{safe[:60]}.json"


def _tooltip(d: Direction) -> str:
    r = d.recipe
    parts = [f"{d.name}: {r.get('from_text', r.get('from', '?'))} → {r.get('to_text', r.get('to', '?'))}",
             f"method: {d.method}, length {d.norm:.2f}"]
    return "\n".join(parts)
