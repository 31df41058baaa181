"""``latent-explorer encode --out FOLDER``: a collection (Parquet shards + manifest), local or on Ray.

The folder is streamed a shard at a time (``core.data.collection``); a re-run keeps finished
shards. ``--engine ray`` runs the same job on Ray Data (``core.data.collection_ray``), on a local
Ray or, with ``--address``, on an existing cluster. Skipped files are listed on stderr.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..core.data.collection import own_files_only
from ..core.errors import UserError
from . import common, paths


def collection_out(value: str) -> Path:
    """``--out`` naming a collection folder: no file extension (an existing folder is fine)."""
    out = Path(value).expanduser()
    if out.suffix and not out.is_dir():
        raise UserError(f"--out {value}: give a .npz file, or a folder (a name without an extension) for a "
                        "collection")
    if out.is_dir() and not (out / "manifest.json").exists() and not own_files_only(out):
        raise UserError(f"--out {value}: this folder holds other files and no collection; give a new or empty folder")
    return paths.output_folder("--out", value)


def cmd_encode_collection(a) -> int:
    from ..core.data import collection as col

    out = collection_out(a.out)
    folder = paths.input_folder("--images", a.images)
    if a.address and a.engine != "ray":
        raise UserError("--address joins a Ray cluster: use it with --engine ray")
    if a.address:
        from ..core.data.collection_ray import check_address

        check_address(a.address)  # before anything loads: not a Ray service is one line in seconds
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UserError("collections need pyarrow: pip install pyarrow") from None
    from tqdm import tqdm

    bar = None

    def progress(done, total, reused):
        nonlocal bar
        bar = bar or tqdm(desc="shards", unit="shard", leave=False, total=total)
        bar.set_postfix_str(f"{reused} kept from before" if reused else "")
        bar.update(done - bar.n)

    def note(line):  # a damaged shard: named, and encoded again
        print(f"latent-explorer encode: {line}", file=sys.stderr)

    t0 = time.perf_counter()
    if a.engine == "ray":
        from ..core.data.collection_ray import encode_collection_ray

        load = dict(spec=a.model, device=a.device, precision=a.precision, allow_pickle=a.allow_pickle,
                    **{k: v for k, v in (("size", a.size), ("config", a.config)) if v is not None})
        man = encode_collection_ray(load, folder, out, a.shard_size, a.address, progress=progress, note=note)
    else:
        man = col.encode_collection(common.load(a), folder, out, a.shard_size, progress=progress, note=note)
    if bar is not None:
        bar.close()
    skipped = [(p, why) for s in man["shards"] for p, why in s["skipped"]]
    for p, why in skipped:
        print(f"skipped {folder / p}: {why}", file=sys.stderr)
    if man["images"] == 0:
        raise UserError(f"{folder}: no image could be encoded ({len(skipped)} skipped)")
    secs = time.perf_counter() - t0
    print(f"encoded {man['images']:,} images into {len(man['shards'])} shard(s) in {out} ({len(skipped)} skipped, "
          f"{secs:.1f} s, engine {a.engine})")
    return 0
