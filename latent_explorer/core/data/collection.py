"""Collections: a folder of any size encoded once into Parquet shards, streamed and resumable.

``encode_collection(model, folder, out)`` lists the image files (paths only), cuts the sorted
list into shards of ``shard_size`` files and encodes one shard at a time (at most one shard's
images in memory), writing ``out/shard-00000.parquet``, … and ``out/manifest.json``. A row holds
the image's path relative to the folder, its posterior mean and log-variance (flattened), a
small PNG thumbnail and the model's hash. Each shard is written atomically and names its own
files, skipped files and model in its Parquet metadata, so a re-run (after Ctrl-C or a kill)
keeps every finished shard whose files are still the same and encodes only the rest.
A file that cannot be read is skipped with its reason, as a folder import does.

Trust: the manifest keeps each shard's SHA-256 (a file cannot hold its own), verified before a
shard is read (``Collection``) or kept (a re-run, which names a damaged shard and encodes it
again); the latents read back are checked as float32 (``core.numbers``). A writer holds the
folder's lock (``core.folder_lock``) and first removes the temporaries a killed write left
(``clean_leftovers``): a folder holding only a collection's own files is never "other files".

``Collection(out)`` reads one back: the latents (a column read per shard) and the thumbnails
lazily, a row group at a time, for the map's hover card. The Ray engine (``collection_ray.py``)
writes the same shards through ``encode_shard``. Needs pyarrow. No Qt.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from ..jsonio import read_bounded
from ..errors import UserError
from ..folder_lock import LOCK_NAME, folder_lock
from ..numbers import LATENT_LIMIT, LOGVAR_LIMIT, latent_array

FORMAT = "latent-explorer-collection"
VERSION = 2              # 2: each shard's SHA-256 in the manifest
SHARD_SIZE = 1024
ROW_GROUP = 128
THUMB_PX = 64
ENCODE_BATCH = 64


def list_files(folder: str | Path) -> list[str]:
    """Every image file under ``folder``, as sorted relative paths (strings, not images)."""
    from .images import iter_image_files

    folder = Path(folder)
    return [p.relative_to(folder).as_posix() for p in iter_image_files(folder)]


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.parquet"


def plan_shards(files: list[str], shard_size: int) -> list[tuple[int, list[str]]]:
    return [(k, files[i:i + shard_size]) for k, i in enumerate(range(0, len(files), shard_size))]


def model_hash(model) -> str:
    return model.weights_hash() if hasattr(model, "weights_hash") else str(model.spec or model.name)


def fingerprint(folder: str | Path, files: list[str]) -> str:
    """A shard's files as they are on disk (names, sizes, modification times): a re-run keeps a shard
    only when its files are still exactly these."""
    import hashlib
    import os

    h = hashlib.sha1()
    for f in files:
        try:
            st = os.stat(Path(folder) / f)
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            h.update(f"{f}\0missing\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _thumb_png(image: np.ndarray) -> bytes:
    from PIL import Image

    img = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    if max(img.size) > THUMB_PX:
        img.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def encode_shard(model, folder: str | Path, out: str | Path, k: int, files: list[str], hash_: str) -> dict:
    """Encode shard ``k`` (``files``, relative to ``folder``) and write it atomically; its manifest entry."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..paths import atomic_write
    from .images import load_files

    folder = Path(folder)
    res = load_files([folder / f for f in files], model.image_size, model.channels)
    kept = [Path(p).relative_to(folder).as_posix() for p in res.paths]
    skipped = [[Path(p).relative_to(folder).as_posix(), why] for p, why in res.skipped]
    means, logvars = [], []
    for i in range(0, len(res.images), ENCODE_BATCH):
        mu, lv = model.encode(res.images[i:i + ENCODE_BATCH])
        means.append(np.asarray(mu, np.float32).reshape(len(mu), -1))
        logvars.append(None if lv is None else np.asarray(lv, np.float32).reshape(len(lv), -1))
    d = int(np.prod(model.latent_shape))
    mean = np.concatenate(means) if means else np.zeros((0, d), np.float32)
    has_lv = bool(logvars) and logvars[0] is not None
    cols = {"path": pa.array(kept, pa.string()),
            "mean": pa.FixedSizeListArray.from_arrays(pa.array(mean.reshape(-1), pa.float32()), d)}
    if has_lv:
        cols["logvar"] = pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(logvars).reshape(-1)), d)
    cols["thumb"] = pa.array([_thumb_png(im) for im in res.images], pa.binary())
    cols["model_hash"] = pa.array([hash_] * len(kept), pa.string())
    entry = {"name": shard_name(k), "rows": len(kept), "files": len(files), "first": files[0], "last": files[-1],
             "model_hash": hash_, "skipped": skipped, "fingerprint": fingerprint(folder, files)}
    table = pa.table(cols).replace_schema_metadata({"latent-explorer": json.dumps(entry)})
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, row_group_size=ROW_GROUP)
    data = buf.getvalue()
    with atomic_write(Path(out) / shard_name(k)) as f:
        f.write(data)
    return {**entry, "sha256": digest(data)}  # (the manifest's copy: a file cannot hold its own checksum)


def digest(data) -> str:
    """The SHA-256 of a shard's bytes, which the manifest keeps and every read and resume verifies."""
    import hashlib

    return hashlib.sha256(memoryview(data)).hexdigest()


def file_digest(path: str | Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: the files a collection writes in its folder: the manifest, the shards, their temporaries (a kill
#: in the middle of a write leaves ``.shard-00000.parquet.XXXX.tmp``) and the writer's lock
_OWN = re.compile(r"manifest\.json|shard-\d{5}\.parquet|\.(manifest\.json|shard-\d{5}\.parquet)\.[^/]*\.tmp"
                  r"|" + re.escape(LOCK_NAME))
_LEFTOVER = re.compile(r"\.(manifest\.json|shard-\d{5}\.parquet)\.[^/]*\.tmp")


def own_files_only(out: str | Path) -> bool:
    """True when ``out`` holds nothing but what a collection writes (or is empty): an interrupted
    first run's leftovers are the collection's own, never "other files"."""
    return all(_OWN.fullmatch(p.name) for p in Path(out).iterdir())


def clean_leftovers(out: str | Path) -> list[str]:
    """Remove the temporaries an interrupted write left in ``out`` (hold the folder's lock)."""
    gone = []
    for p in Path(out).iterdir():
        if _LEFTOVER.fullmatch(p.name) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                gone.append(p.name)
    return gone


def finished_shard(out: str | Path, k: int, files: list[str], hash_: str, folder: str | Path,
                   checksum: str | None = None) -> dict | None:
    """Shard ``k``'s entry when it is on disk, whole (its bytes match ``checksum``, the manifest's), for
    these same files (unchanged since: the same sizes and modification times) and this model; else None."""
    return shard_state(out, k, files, hash_, folder, checksum)[0]


def shard_state(out: str | Path, k: int, files: list[str], hash_: str, folder: str | Path,
                checksum: str | None) -> tuple[dict | None, str]:
    """(the entry of shard ``k`` if it can be kept, else None; why it is damaged, or "")."""
    import pyarrow.parquet as pq

    path = Path(out) / shard_name(k)
    if not path.is_file():
        return None, ""
    if not checksum:  # written, but killed before the manifest recorded its checksum: redone
        return None, ""
    try:
        if file_digest(path) != checksum:
            return None, "damaged (its bytes do not match the manifest's checksum)"
        meta = pq.read_schema(path).metadata or {}
        entry = json.loads(meta.get(b"latent-explorer", b"{}"))
    except Exception as e:  # a damaged shard is encoded again
        return None, f"damaged ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})"
    same = (isinstance(entry, dict) and entry.get("files") == len(files) and entry.get("first") == files[0]
            and entry.get("last") == files[-1])
    if not same or entry.get("model_hash") != hash_:
        return None, ""
    if entry.get("fingerprint") != fingerprint(folder, files):
        return None, ""
    return {**entry, "sha256": checksum}, ""


def old_checksums(out: str | Path) -> dict[str, str]:
    """The shards' checksums in ``out``'s manifest (none when there is no readable one)."""
    try:
        m = read_bounded(Path(out) / "manifest.json")
        return {e["name"]: e["sha256"] for e in m.get("shards", []) if isinstance(e, dict)
                and isinstance(e.get("name"), str) and isinstance(e.get("sha256"), str)}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _manifest(model, folder, hash_: str, shard_size: int, n_files: int, entries: list[dict]) -> dict:
    return {"format": FORMAT, "version": VERSION, "model": str(model.spec or model.name), "model_hash": hash_,
            "latent_shape": list(model.latent_shape), "image_size": list(model.image_size),
            "channels": int(model.channels), "source": str(Path(folder).resolve()), "shard_size": shard_size,
            "files": n_files, "images": sum(e["rows"] for e in entries), "complete": len(entries) ==
            -(-n_files // shard_size), "shards": entries}


def write_manifest(out: str | Path, manifest: dict) -> None:
    from ..paths import atomic_write_text

    atomic_write_text(Path(out) / "manifest.json", json.dumps(manifest, indent=1))


def check_resumable(out: str | Path, hash_: str, folder: str | Path | None = None) -> None:
    """Refuse to mix models, or source folders, in one collection."""
    path = Path(out) / "manifest.json"
    if path.is_file():
        try:
            old = read_bounded(path)
        except (OSError, ValueError):
            return
        if not isinstance(old, dict):
            return
        if old.get("model_hash") not in (None, hash_):
            raise UserError(f"{out}: this collection was encoded with another model (hash {old.get('model_hash')}); "
                            "give a new --out folder")
        if folder is not None and old.get("source") not in (None, str(Path(folder).resolve())):
            raise UserError(f"{out}: this collection holds the images of {old.get('source')}, not "
                            f"{Path(folder).resolve()}; give a new --out folder")


def encode_collection(model, folder: str | Path, out: str | Path, shard_size: int = SHARD_SIZE,
                      progress: Callable[[int, int, int], None] | None = None,
                      note: Callable[[str], None] | None = None) -> dict:
    """Encode ``folder`` into the collection ``out`` (resuming); the manifest. ``progress(done, total,
    reused)`` counts shards; ``note(line)`` hears of each damaged shard that is redone. Holds ``out``'s
    writer lock: a second writer is refused (``UserError``)."""
    files = list_files(folder)
    if not files:
        raise UserError(f"{folder}: no image files in this folder")
    hash_ = model_hash(model)
    check_resumable(out, hash_, folder)
    with folder_lock(out, "a collection"):
        clean_leftovers(out)
        sums = old_checksums(out)
        entries, reused = [], 0
        plan = plan_shards(files, shard_size)
        for k, chunk in plan:
            entry, why = shard_state(out, k, chunk, hash_, folder, sums.get(shard_name(k)))
            if why and note:
                note(f"{Path(out) / shard_name(k)}: {why}; encoding it again")
            reused += entry is not None
            entries.append(entry or encode_shard(model, folder, out, k, chunk, hash_))
            write_manifest(out, _manifest(model, folder, hash_, shard_size, len(files), entries))
            if progress:
                progress(k + 1, len(plan), reused)
        return _manifest(model, folder, hash_, shard_size, len(files), entries)


class CollectionImages:
    """A collection's thumbnails as a lazy array of images (``images[i]``, ``images[[i, j]]``, ``len``):
    a row group is read on first use and a few are kept. Thumbnails smaller than the model's
    images (a large model) are scaled up to its size, so they stand in wherever an image is shown."""

    def __init__(self, collection: "Collection", keep: int = 16):
        self.c, self.keep = collection, keep
        self._cache: OrderedDict = OrderedDict()
        #: guards ``_cache`` (many sessions read thumbnails at once); never held while a group is read
        self._lock = threading.Lock()
        self.shape = (len(collection), *collection.image_size, collection.channels)

    def __len__(self) -> int:
        return self.shape[0]

    def _group(self, shard: int, group: int) -> list:
        key = (shard, group)
        with self._lock:
            rows = self._cache.get(key)
            if rows is not None:
                self._cache.move_to_end(key)
                return rows
        rows = self._read_group(shard, group)  # (two threads asking for one group may both read it)
        with self._lock:
            self._cache[key] = rows
            self._cache.move_to_end(key)
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return rows

    def _read_group(self, shard: int, group: int) -> list:
        import pyarrow.parquet as pq

        import pyarrow as pa

        try:
            self.c.verify(self.c.shards[shard])   # (once a shard: a damaged one shows blank tiles)
            pf = pq.ParquetFile(self.c.root / self.c.shards[shard]["name"])
            return pf.read_row_group(group, columns=["thumb"]).column("thumb").to_pylist()
        except (OSError, pa.ArrowException, UserError):  # missing or damaged since: blank tiles, never a crash
            return [None] * ROW_GROUP

    def _one(self, i: int) -> np.ndarray:
        from PIL import Image

        s = int(np.searchsorted(self.c.offsets, i, side="right") - 1)
        row = i - int(self.c.offsets[s])
        png = self._group(s, row // ROW_GROUP)[row % ROW_GROUP]
        h, w = self.shape[1:3]
        if png is None:
            return np.zeros((h, w, self.shape[3]), np.uint8)
        img = Image.open(io.BytesIO(png))
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BICUBIC)
        a = np.asarray(img, np.uint8)
        return a[..., None] if a.ndim == 2 else a

    def __getitem__(self, i):
        if np.ndim(i) == 0:
            i = int(i)
            if not -len(self) <= i < len(self):
                raise IndexError(i)
            return self._one(i % len(self))
        return np.stack([self._one(int(j)) for j in np.arange(len(self))[i]])


class Collection:
    """An encoded collection on disk (see the module's docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        path = self.root / "manifest.json"
        try:
            m = read_bounded(path)
        except FileNotFoundError:
            raise UserError(f"{root}: not a collection (no manifest.json; make one with latent-explorer encode "
                            "--images DIR --out FOLDER)") from None
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: damaged manifest ({e})") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("shards"), list):
            raise UserError(f"{path}: not a latent-explorer collection manifest")
        self.manifest = m
        try:
            self.shards = [s for s in m["shards"] if s.get("rows")]
            self.offsets = np.cumsum([0] + [int(s["rows"]) for s in self.shards])
            self.image_size = tuple(int(v) for v in m["image_size"])
            self.channels = int(m["channels"])
            self.latent_shape = tuple(int(v) for v in m["latent_shape"])
            for s in self.shards:
                if not isinstance(s["name"], str) or "/" in s["name"] or "\\" in s["name"]:
                    raise ValueError(f"bad shard name {s['name']!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UserError(f"{path}: damaged manifest ({type(e).__name__}: {e})") from None
        self.model_hash = m.get("model_hash")
        self.complete = bool(m.get("complete", True))
        self.version = m.get("version", 1) if isinstance(m.get("version", 1), int) else 1
        self._verified: set[str] = set()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(str(Path(self.manifest.get("source", ".")) / p), why)
                for s in self.manifest["shards"] for p, why in s.get("skipped", [])]

    def _read(self, s: dict, columns: list[str] | None = None):
        """One shard's table, or one line saying it is missing or damaged."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.root / s["name"]
        try:
            data = pa.BufferReader(self.verified_bytes(s))
            if columns is not None:
                names = pq.read_schema(data).names
                columns = [c for c in columns if c in names]
            t = pq.read_table(data, columns=columns)
        except (OSError, pa.ArrowException) as e:
            raise UserError(f"{path}: missing or damaged ({str(e).splitlines()[0][:120]}); "
                            "run latent-explorer encode again to redo it") from None
        if t.num_rows != int(s["rows"]):
            raise UserError(f"{path}: {t.num_rows} rows where the manifest says {s['rows']}; run encode again")
        return t

    def verified_bytes(self, s: dict) -> bytes:
        """Shard ``s``'s bytes, checked against the manifest's SHA-256 (a collection written before
        checksums, version 1, has none): a flipped byte is one line naming the shard, never data."""
        path = self.root / s["name"]
        data = path.read_bytes()
        want = s.get("sha256")
        if want is None and self.version < 2:
            self._verified.add(s["name"])
            return data
        if not isinstance(want, str) or digest(data) != want:
            raise UserError(f"{path}: damaged (its bytes do not match the manifest's checksum); "
                            "run latent-explorer encode again to redo it")
        self._verified.add(s["name"])
        return data

    def verify(self, s: dict) -> None:
        """Shard ``s`` checked once (``verified_bytes``) before any of it is shown."""
        if s["name"] not in self._verified:
            self.verified_bytes(s)

    def _column(self, t, name: str, s: dict, rows: int, d: int, limit: float = LATENT_LIMIT) -> np.ndarray:
        """Column ``name`` of a shard as float32 rows×d, each value finite and within ±``limit``."""
        import pyarrow as pa

        try:
            col = t.column(name).combine_chunks()
            if not pa.types.is_fixed_size_list(col.type) or col.type.list_size != d:
                raise ValueError(f"is {col.type}, not {d} numbers a row")
            values = latent_array(col.flatten().to_numpy(zero_copy_only=False), "it", limit)
        except (ValueError, pa.ArrowException) as e:
            raise UserError(f"{self.root / s['name']}: column {name!r} {str(e).removeprefix('it ')}; "
                            "run latent-explorer encode again to redo it") from None
        return values.reshape(rows, d)

    def latents(self, should_stop: Callable[[], None] | None = None):
        """(the relative paths as one Arrow string array, means N×latent_shape, log-variances or None, KL per
        dimension in nats or None), read shard by shard: the KL is summed as the shards come in, so no
        temporary as large as the latents is made for it."""
        import pyarrow as pa

        n, d = len(self), int(np.prod(self.latent_shape))
        mean = np.empty((n, d), np.float32)
        logvar, kl_sum, paths = None, None, []
        for s, start in zip(self.shards, self.offsets):
            if should_stop:
                should_stop()
            t = self._read(s, ["path", "mean", "logvar"])
            rows = t.num_rows
            paths.append(t.column("path").combine_chunks())
            mu = self._column(t, "mean", s, rows, d)
            mean[start:start + rows] = mu
            if "logvar" in t.column_names:
                lv = self._column(t, "logvar", s, rows, d, LOGVAR_LIMIT)
                logvar = np.empty((n, d), np.float32) if logvar is None else logvar
                logvar[start:start + rows] = lv
                lv64 = lv.astype(np.float64)  # exp in float64: a float32 exp(log σ²) overflows past 88
                part = (-0.5 * (1.0 + lv64 - mu.astype(np.float64) ** 2 - np.exp(lv64))).sum(0)
                kl_sum = part if kl_sum is None else kl_sum + part
        shape = (n, *self.latent_shape)
        kl = None if kl_sum is None else (kl_sum / max(n, 1)).astype(np.float32)
        paths = pa.concat_arrays(paths) if paths else pa.array([], pa.string())
        return paths, mean.reshape(shape), None if logvar is None else logvar.reshape(shape), kl

    def images(self) -> CollectionImages:
        return CollectionImages(self)
