"""Breeding: how long a brood takes to make and to replay, and how big a child's lineage recipe gets.

Pure numpy (``core.latent.breeding``), no model: for a vector latent (16) and a Stable Diffusion-sized
spatial latent (4×32×32), breeds ``--generations`` generations of 8 children (each from two children
of the one before, mutation 0.2 σ), then times one brood, the replay of the last child's lineage
(checked bit for bit) and the lineage's JSON size. Decoding the thumbnails is the model's own cost
(see preview_latency.py).

Prints one JSON object as its last line: per shape, brood_ms (8 children), replay_ms, lineage_kib,
nodes, bit_exact. ``--smoke``: one generation; ``--save``: bench/results/breeding.json (bench/_results.py).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import _results
from latent_explorer.core.latent.breeding import FamilyTree, replay

KEYS = ("generations", "vector_16", "spatial_4x32x32")


def run(shape: tuple, generations: int) -> dict:
    rng = np.random.default_rng(0)
    tree = FamilyTree()
    tree.set_parents([tree.add_root(rng.standard_normal(shape), f"r{i}") for i in range(3)])
    times = []
    for g in range(generations):
        t0 = time.perf_counter()
        kids = tree.breed(8, 0.2, seed=100 * g)
        times.append(time.perf_counter() - t0)
        tree.set_parents(kids[:2])
    last = kids[-1]
    text = json.dumps(tree.lineage(last))
    t0 = time.perf_counter()
    z = replay(json.loads(text))
    replay_s = time.perf_counter() - t0
    return {"brood_ms": round(1000 * float(np.median(times)), 3), "replay_ms": round(1000 * replay_s, 3),
            "lineage_kib": round(len(text) / 1024, 1), "nodes": len(tree),
            "bit_exact": bool(np.array_equal(z, tree.nodes[last].latent))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=5)
    _results.add_options(ap)
    a = ap.parse_args()
    run_ = _results.start("breeding", a)
    if a.smoke:
        a.generations = 1
    out = {"generations": a.generations}
    for name, shape in (("vector_16", (16,)), ("spatial_4x32x32", (4, 32, 32))):
        out[name] = run(shape, a.generations)
    run_.emit(out)


if __name__ == "__main__":
    main()
