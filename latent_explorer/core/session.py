"""Sessions: everything a user made, saved as one ``.lexplore`` file (no pickle, ever).

A ``.lexplore`` file is a zip holding ``session.json`` (model spec and weights hash, image
folder, map settings, bookmarks, morphs, slider state, history, custom directions) and
``arrays.npz`` (the latents). Saves are atomic: a temporary file in the same folder, fsync,
then ``os.replace``.

Reading trusts nothing: zip members' sizes and ratios are checked before anything is unpacked,
``session.json`` against the schema, every array from its ``.npy`` header up (no objects; finite
floats). Every problem is a one-line ``UserError`` that names the file.

Autosave and crash recovery (``Autosave``) live in ``autosave.py``.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError
from .numbers import check_latent
from .paths import atomic_write

FORMAT = "latent-explorer-session"
VERSION = 1
SUFFIX = ".lexplore"
#: what a session file may unpack to (module constants, so tests can lower them)
MAX_FILE_BYTES = 1 << 30           # the .lexplore file itself
MAX_JSON_BYTES = 16 << 20          # session.json
MAX_ARRAY_BYTES = 512 << 20        # arrays.npz, each array in it, and all of them together
MAX_RATIO, RATIO_FLOOR = 200, 1 << 20  # unpacked / packed, for members over RATIO_FLOOR bytes
MAX_ITEMS = 100_000                # bookmarks, morphs, directions, history entries
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, OSError,
                ValueError, KeyError, IndexError, OverflowError, MemoryError)


def _err(source: str, msg: str) -> UserError:
    return UserError(f"{source}: {msg}".replace("\r", " ").replace("\n", " "))


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def _json_type(v) -> str:
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(v), type(v).__name__)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v) -> bool:
    return isinstance(v, str)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n < 1 << 30 else f"{n / (1 << 30):.1f} GiB"


def _check_member(info: zipfile.ZipInfo, cap: int, source: str, label: str) -> None:
    """Refuse a zip member from its header alone: too big unpacked, or a zip-bomb ratio."""
    if info.file_size > cap:
        raise _err(source, f"{label} would unpack to {_mib(info.file_size)}, over the {_mib(cap)} limit; refused")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise _err(source, f"{label} is compressed {info.file_size // max(info.compress_size, 1)}:1, "
                           f"like a zip bomb; refused")


def _read_member(z: zipfile.ZipFile, name: str, cap: int, source: str, label: str) -> bytes:
    if name not in z.NameToInfo:
        raise _err(source, f"{label} is missing")
    _check_member(z.NameToInfo[name], cap, source, label)
    with z.open(name) as f:
        data = f.read(cap + 1)  # never more than the cap, whatever the header said
    if len(data) > cap:
        raise _err(source, f"{label} unpacks to more than the {_mib(cap)} limit; refused")
    return data


class _Arrays:
    """arrays.npz, read member by member from each ``.npy`` header: bounded and pickle-free."""

    def __init__(self, data: bytes, source: str):
        self.source, self.zip = source, zipfile.ZipFile(io.BytesIO(data))
        for info in self.zip.infolist():
            _check_member(info, MAX_ARRAY_BYTES, source, f"arrays.npz member {info.filename}")
        total = sum(i.file_size for i in self.zip.infolist())
        if total > MAX_ARRAY_BYTES:
            raise _err(source, f"arrays.npz would unpack to {_mib(total)} in all, over the "
                               f"{_mib(MAX_ARRAY_BYTES)} limit; refused")

    def has(self, key: str) -> bool:
        return f"{key}.npy" in self.zip.NameToInfo

    def get(self, key: str, min_ndim: int = 1) -> np.ndarray:
        """The float32 array ``key``: floats, ``min_ndim`` to 5 dimensions, non-empty, finite."""
        src, label = self.source, f"arrays.npz member {key}"
        if not self.has(key):
            raise _err(src, f"arrays.npz has no {key}, which session.json lists; the file is damaged")
        raw = _read_member(self.zip, f"{key}.npy", MAX_ARRAY_BYTES, src, label)
        f = io.BytesIO(raw)
        try:
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = {(1, 0): np.lib.format.read_array_header_1_0,
                                     (2, 0): np.lib.format.read_array_header_2_0}[version](f)
        except _READ_ERRORS as e:
            raise _err(src, f"{label} is not a readable array ({_first_line(e)})") from None
        if dtype.hasobject:
            raise _err(src, f"{label} holds Python objects (pickled data), which are never loaded; refused")
        if dtype.kind != "f":
            raise _err(src, f"{label} has dtype {dtype}, expected floating-point numbers")
        if not min_ndim <= len(shape) <= 5 or 0 in shape:
            raise _err(src, f"{label} has shape {tuple(shape)}, expected a non-empty array of "
                            f"{min_ndim} to 5 dimensions")
        count = math.prod(shape)
        if count * dtype.itemsize != len(raw) - f.tell():
            raise _err(src, f"{label} is truncated: its header promises {tuple(shape)} {dtype}")
        a = np.frombuffer(raw, dtype, count, offset=f.tell())
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes inf: refused below
            a = (a.reshape(shape[::-1]).T if fortran else a.reshape(shape)).astype(np.float32)
        try:  # every array is a latent (or a stack of them): checked as the float32 it is used as
            check_latent(a, label)
        except ValueError as e:
            raise _err(src, f"{e}; the file is damaged") from None
        return a


_LIST = (lambda v: isinstance(v, list) and len(v) <= MAX_ITEMS, [], f"a list of at most {MAX_ITEMS}")
#: session.json's fields: key -> (check, default, what is expected)
_FIELDS = {
    "model_spec": (_str, "digits", "a string"),
    "model_hash": (_str, "", "a string"),
    "images_dir": (lambda v: v is None or _str(v), None, "a string or null"),
    "map_settings": (lambda v: isinstance(v, dict), {}, "an object"),
    "extra": (lambda v: isinstance(v, dict), {}, "an object"),
    "selected_index": (lambda v: v is None or (_is_int(v) and v >= 0), None, "a whole number ≥ 0 or null"),
    "history": (lambda v: _is_int(v) and 0 <= v <= MAX_ITEMS, 0, f"a whole number from 0 to {MAX_ITEMS}"),
    "bookmarks": _LIST, "morphs": _LIST,
    "directions": (lambda v: _LIST[0](v) and all(map(_str, v)), [], "a list of names (strings)"),
    "family": (lambda v: isinstance(v, dict), {}, "an object"),   # breeding's family tree
}


def _check_meta(meta, source: str) -> dict:
    """session.json checked against the schema; returns the fields with defaults filled in."""
    if not isinstance(meta, dict):
        raise _err(source, f"session.json holds {_json_type(meta)}, not an object: not a latent-explorer session")
    if meta.get("format") != FORMAT:
        raise _err(source, "not a latent-explorer session file")
    version = meta.get("version", 0)
    if not _is_int(version):
        raise _err(source, f"session.json 'version' is {_json_type(version)}, expected a whole number")
    if version > VERSION:
        raise _err(source, f"made by a newer latent-explorer (format {version}); update the app")
    out = {}
    for key, (ok, default, expected) in _FIELDS.items():
        out[key] = v = meta.get(key, default)
        if not ok(v):
            raise _err(source, f"session.json {key!r} is {_json_type(v)}, expected {expected}")
    for kind, items in (("bookmark", out["bookmarks"]), ("morph", out["morphs"])):
        for i, b in enumerate(items):
            if not isinstance(b, dict) or not _str(b.get("name")):
                raise _err(source, f"session.json {kind} {i} is not an object with a string \"name\"")
    out["bookmarks"] = [b["name"] for b in out["bookmarks"]]
    for i, m in enumerate(out["morphs"]):
        method, frames = m.get("method", "slerp"), m.get("frames", 16)
        if method not in ("slerp", "lerp") or not (_is_int(frames) and 1 <= frames <= MAX_ITEMS):
            raise _err(source, f"session.json morph {i}: method {method!r} / frames {frames!r} is not "
                               f"slerp or lerp / a whole number from 1 to {MAX_ITEMS}")
        out["morphs"][i] = (m["name"], method, frames)
    return out


def _family(family: dict, a: _Arrays) -> tuple[dict, np.ndarray | None, str]:
    """The family tree and its latents, checked node by node (``FamilyTree.from_dict``). A damaged tree
    is left out with a note (the rest of the session still opens)."""
    from .latent.breeding import FamilyTree

    if not family:
        return {}, None, ""
    try:
        lat = a.get("family_latents", 2) if a.has("family_latents") else None
        FamilyTree.from_dict(family, lat)
    except (ValueError, UserError) as e:
        return {}, None, f"the family tree was damaged and was left out ({_first_line(e)})"
    return family, lat, ""


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
    #: breeding's family tree: ``FamilyTree.to_dict()`` (its nodes) and the nodes' latents, N×*shape
    family: dict = field(default_factory=dict)
    family_latents: np.ndarray | None = None
    #: what was left out when the file was read (not saved): said when the session is opened
    read_notes: list = field(default_factory=list)

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
        if self.family:
            meta["family"] = self.family
            if self.family_latents is not None:
                arrays["family_latents"] = np.asarray(self.family_latents, np.float32)
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
        """A session from the bytes of a ``.lexplore`` file, or a one-line ``UserError``."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                text = _read_member(z, "session.json", MAX_JSON_BYTES, source, "session.json")
                try:
                    meta = json.loads(text)
                except (ValueError, RecursionError) as e:
                    raise _err(source, f"session.json is not valid JSON ({_first_line(e)})") from None
                m = _check_meta(meta, source)
                a = _Arrays(_read_member(z, "arrays.npz", MAX_ARRAY_BYTES, source, "arrays.npz"), source)
                family, family_latents, family_note = _family(m["family"], a)
                return cls(
                    model_spec=m["model_spec"], model_hash=m["model_hash"], images_dir=m["images_dir"],
                    map_settings=m["map_settings"], selected_index=m["selected_index"], extra=m["extra"],
                    current_latent=a.get("current_latent") if a.has("current_latent") else None,
                    bookmarks=[Bookmark(n, a.get(f"bookmark_{i}")) for i, n in enumerate(m["bookmarks"])],
                    morphs=[Morph(n, a.get(f"morph_{i}", 2), method, frames)
                            for i, (n, method, frames) in enumerate(m["morphs"])],
                    directions={n: a.get(f"direction_{n}") for n in m["directions"]},
                    history=[a.get(f"history_{i}") for i in range(m["history"])], family=family,
                    family_latents=family_latents, read_notes=[family_note] if family_note else [])
        except UserError:
            raise
        except _READ_ERRORS as e:
            raise _err(source, f"not a readable latent-explorer session ({_first_line(e)})") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Session":
        path = Path(path)
        try:
            if (size := path.stat().st_size) > MAX_FILE_BYTES:
                raise _err(str(path), f"{_mib(size)} is more than a session file can be; refused")
            data = path.read_bytes()
        except OSError as e:
            raise _err(str(path), f"cannot read ({e.strerror or e})") from None
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
