"""Images per second encoding a folder into a collection: the local engine and Ray-local, in one run.

Writes ``--images`` PNG files (mnist-5k digits, shifted copies beyond 5,000) to a temporary folder,
then encodes it with ``--model`` into two collections: the local engine (one process, torch's own
threads) and ``--engine ray`` on a local Ray started here (one model actor per CPU). The Ray
figure is given with and without Ray's start-up (started once, before its clock, and reported
apart). Both collections are checked to hold the same paths and latents. Prints one JSON object
as its last line. Needs the optional extra ``cluster`` (``ray[data]``) for the Ray half.
``--smoke``: 64 images in shards of 16, the local engine only (a local Ray takes 10-20 s to start
on two cores; tests/test_collection.py runs the Ray engine), unless ``--smoke-ray``; ``--save``:
bench/results/ (bench/_results.py).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import _results

KEYS = ("images", "shard_size", "model", "local_images_per_s", "local_s", "load_average")


def make_folder(root: Path, n: int) -> None:
    from PIL import Image

    from latent_explorer.core.data.datasets import load_dataset

    ds = load_dataset("mnist-5k", "all")
    for i in range(n):
        sub = root / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        img = np.roll(ds.images[i % len(ds.images)][..., 0], i // len(ds.images), axis=1)
        Image.fromarray(img).save(sub / f"d{i:06d}.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--shard-size", type=int, default=1024)
    ap.add_argument("--model", default="digits")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="CPUs the local Ray may use")
    ap.add_argument("--smoke-ray", action="store_true", help="with --smoke: the Ray half too (on one CPU)")
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("encode_throughput", a)
    if a.smoke:
        a.images, a.shard_size, a.cpus = 64, 16, 1

    from latent_explorer.core.data.collection import Collection, encode_collection
    from latent_explorer.core.models.loading import load_model

    with tempfile.TemporaryDirectory(prefix="lx-enc-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "images"
        folder.mkdir()
        t = time.perf_counter()
        make_folder(folder, a.images)
        print(f"wrote {a.images:,} PNGs in {time.perf_counter() - t:.1f} s", flush=True)
        model = load_model(a.model, device="cpu")
        t = time.perf_counter()
        encode_collection(model, folder, tmp / "local", a.shard_size)
        local_s = time.perf_counter() - t
        print(f"local: {a.images / local_s:.0f} images/s", flush=True)
        result = {"images": a.images, "shard_size": a.shard_size, "model": a.model,
                  "local_images_per_s": round(a.images / local_s, 1), "local_s": round(local_s, 2)}
        if a.smoke and not a.smoke_ray:
            result["ray"] = "skipped in --smoke (--smoke-ray runs it)"
        elif importlib.util.find_spec("ray") is None:
            result["ray"] = "not installed (pip install -e '.[cluster]')"
        else:
            import ray

            from latent_explorer.core.data.collection_ray import encode_collection_ray, start_local_ray

            t = time.perf_counter()
            start_local_ray(num_cpus=a.cpus)
            start_s = time.perf_counter() - t
            t = time.perf_counter()
            encode_collection_ray(dict(spec=a.model, device="cpu"), folder, tmp / "ray", a.shard_size)
            ray_s = time.perf_counter() - t
            ray.shutdown()
            pl, ml, _, _ = Collection(tmp / "local").latents()
            pr, mr, _, _ = Collection(tmp / "ray").latents()
            result.update(ray_local_images_per_s=round(a.images / ray_s, 1), ray_s=round(ray_s, 2),
                          ray_start_s=round(start_s, 2),
                          ray_with_start_images_per_s=round(a.images / (ray_s + start_s), 1), ray_cpus=a.cpus,
                          same_shards=bool(pl.equals(pr) and np.allclose(ml, mr, atol=1e-5)))
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    run.emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
