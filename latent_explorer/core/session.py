"""Sessions: everything a user made, saved as one ``.lexplore`` file (no pickle, ever).

A ``.lexplore`` file is a zip holding ``session.json`` (model spec and weights hash, image
folder, map settings, bookmarks, morphs, slider state, history, custom directions) and
``arrays.npz`` (the latents, loaded with ``allow_pickle=False``). Saves are atomic: a
temporary file in the same folder, fsync, then ``os.replace``.

Autosave and crash recovery: the app writes ``autosave.lexplore`` to the user's data folder
every minute and holds a ``running`` marker while open; a marker left behind at start-up
means the last run did not exit cleanly, so the autosave is offered for recovery.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError
from .paths import atomic_write

FORMAT = "latent-explorer-session"
VERSION = 1
SUFFIX = ".lexplore"


@dataclass
class Bookmark:
    name: str
    latent: np.ndarray

    def to_json(self) -> dict:
        return {"name": self.name}


@dataclass
class Morph:
    name: str
    keyframes: np.ndarray          # k × *latent_shape
    method: str = "slerp"
    frames: int = 16


@dataclass
class Session:
    model_spec: str = "digits"
    model_hash: str = ""
    images_dir: str | None = None
    map_settings: dict = field(default_factory=dict)   # projection, colour-by, view range …
    current_latent: np.ndarray | None = None
    selected_index: int | None = None
    bookmarks: list[Bookmark] = field(default_factory=list)
    morphs: list[Morph] = field(default_factory=list)
    directions: dict[str, np.ndarray] = field(default_factory=dict)
    history: list[np.ndarray] = field(default_factory=list)  # undo stack of latents, oldest first
    extra: dict = field(default_factory=dict)

    # -- writing ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        meta = {
            "format": FORMAT, "version": VERSION, "model_spec": self.model_spec, "model_hash": self.model_hash,
            "images_dir": self.images_dir, "map_settings": self.map_settings,
            "selected_index": self.selected_index, "extra": self.extra,
            "bookmarks": [], "morphs": [], "directions": sorted(self.directions), "history": len(self.history),
        }
        if self.current_latent is not None:
            arrays["current_latent"] = np.asarray(self.current_latent, np.float32)
        for i, b in enumerate(self.bookmarks):
            meta["bookmarks"].append(b.to_json())
            arrays[f"bookmark_{i}"] = np.asarray(b.latent, np.float32)
        for i, m in enumerate(self.morphs):
            meta["morphs"].append({"name": m.name, "method": m.method, "frames": m.frames})
            arrays[f"morph_{i}"] = np.asarray(m.keyframes, np.float32)
        for name, d in self.directions.items():
            arrays[f"direction_{name}"] = np.asarray(d, np.float32)
        for i, h in enumerate(self.history):
            arrays[f"history_{i}"] = np.asarray(h, np.float32)
        npz = io.BytesIO()
        np.savez_compressed(npz, **arrays)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("session.json", json.dumps(meta, indent=2))
            z.writestr("arrays.npz", npz.getvalue())
        return out.getvalue()

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        with atomic_write(path) as f:
            f.write(self.to_bytes())
        return path

    # -- reading ------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, source: str = "session") -> "Session":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                meta = json.loads(z.read("session.json"))
                with np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False) as a:
                    arrays = {k: a[k] for k in a.files}
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError, OSError) as e:
            raise UserError(f"{source}: not a readable latent-explorer session ({e})") from None
        if meta.get("format") != FORMAT:
            raise UserError(f"{source}: not a latent-explorer session file")
        if int(meta.get("version", 0)) > VERSION:
            raise UserError(f"{source}: made by a newer latent-explorer (format {meta['version']}); update the app")
        s = cls(model_spec=meta.get("model_spec", "digits"), model_hash=meta.get("model_hash", ""),
                images_dir=meta.get("images_dir"), map_settings=meta.get("map_settings", {}),
                current_latent=arrays.get("current_latent"), selected_index=meta.get("selected_index"),
                extra=meta.get("extra", {}))
        s.bookmarks = [Bookmark(b["name"], arrays[f"bookmark_{i}"]) for i, b in enumerate(meta.get("bookmarks", []))]
        s.morphs = [Morph(m["name"], arrays[f"morph_{i}"], m.get("method", "slerp"), m.get("frames", 16))
                    for i, m in enumerate(meta.get("morphs", []))]
        s.directions = {n: arrays[f"direction_{n}"] for n in meta.get("directions", [])}
        s.history = [arrays[f"history_{i}"] for i in range(int(meta.get("history", 0)))]
        return s

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Session":
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
        return cls.from_bytes(data, str(path))

    def check_model(self, spec: str, weights_hash: str) -> list[str]:
        """Warnings when the session's model is missing or has changed since it was saved."""
        notes = []
        if spec != self.model_spec:
            notes.append(f"this session was made with model {self.model_spec!r}, not {spec!r}")
        elif self.model_hash and weights_hash and weights_hash != self.model_hash:
            notes.append(f"model {spec!r} has changed since this session was saved "
                         f"(weights {weights_hash} ≠ {self.model_hash}); latents may decode differently")
        if self.images_dir and not Path(self.images_dir).is_dir():
            notes.append(f"image folder {self.images_dir} is missing")
        return notes


def data_dir() -> Path:
    from platformdirs import user_data_dir

    d = Path(os.environ.get("LATENT_EXPLORER_DATA") or user_data_dir("latent-explorer", appauthor=False))
    d.mkdir(parents=True, exist_ok=True)
    return d


class Autosave:
    """The autosave file and the 'running' marker that tells a crash from a clean exit."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else data_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"autosave{SUFFIX}"
        self.marker = self.folder / "running"

    def recoverable(self) -> bool:
        """True when the last run left its marker (it crashed) and an autosave exists."""
        return self.marker.exists() and self.path.exists()

    def start(self) -> None:
        self.marker.write_text(str(os.getpid()))

    def save(self, session: Session) -> None:
        session.save(self.path)

    def load(self) -> Session:
        return Session.load(self.path)

    def clean_exit(self) -> None:
        for p in (self.marker,):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def discard(self) -> None:
        for p in (self.path, self.marker):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
