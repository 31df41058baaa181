"""A family tree as one JSON file (the ``tree.json`` that ``latent-explorer breed`` writes and continues).

The file holds the roots' latents as exact decimals and every child's breeding step (parents,
weights, seed, mutation), as a lineage does, plus whatever the writer adds (the model, the files
written). Reading it makes every child again with ``child_latent``, the code that bred it, and
checks each child's weights against its seed: the tree read is the tree written, bit for bit, and
a file edited by hand is refused in one line rather than bred on. Pure Python and numpy.
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..numbers import latent_array
from .breeding import FamilyTree, _finite, _int, child_latent, exact_floats

FORMAT = "latent-explorer family tree"
VERSION = 1
MAX_BYTES = 64 * 2 ** 20        # a tree of 5,000 nodes is a few MB; anything far larger is not one of ours
MAX_VALUES = 2 ** 22            # numbers in one latent (a 4×512×512 latent would be 2²⁰)
MAX_TEXT = 4096                 # characters in a name, a hash or a file name
MAX_SIZE = 8192                 # px: the working size's sides (the CLI's --size)


def family_record(tree: FamilyTree, node_extra: dict | None = None, **extra) -> dict:
    """The tree as a JSON-able dict: ``extra`` fields first, then the latent shape, the nodes
    (``FamilyTree.to_dict``'s description, each node with the fields ``node_extra[id]`` adds, such as
    the file it was written to), and last the roots' exact latents."""
    if tree.shape is None:
        raise ValueError("an empty family tree has nothing to write")
    meta, _ = tree.to_dict()
    for n in meta["nodes"]:
        n.update((node_extra or {}).get(n["id"], {}))
    roots = {str(n.id): exact_floats(n.latent) for n in tree.nodes.values() if not n.parents}
    return {"format": FORMAT, "version": VERSION, **extra, "shape": list(tree.shape), **meta, "roots": roots}


def family_json(tree: FamilyTree, node_extra: dict | None = None, **extra) -> str:
    """``family_record`` as text to read: one line per field, per node and per root."""
    def block(v) -> str:
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            return "[\n" + ",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in v) + "\n ]"
        if isinstance(v, dict) and v:
            return "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(x)}" for k, x in v.items()) + "\n }"
        return json.dumps(v, ensure_ascii=False)

    rec = family_record(tree, node_extra, **extra)
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {block(v)}" for k, v in rec.items()) + "\n}\n"


def _shape(d: dict) -> tuple:
    shape = d.get("shape")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)
            or math.prod(shape) > MAX_VALUES):
        raise ValueError("its latent shape is not a short list of positive whole numbers")
    return tuple(shape)


def _root_latent(roots: dict, nid: int, shape: tuple) -> np.ndarray:
    values = roots.get(str(nid)) if isinstance(roots, dict) else None
    if (not isinstance(values, list) or len(values) != math.prod(shape)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
        raise ValueError(f"root {nid} has no latent of {math.prod(shape)} numbers")
    if not all(_finite(v) for v in values):
        raise ValueError(f"root {nid} has NaN or infinite values")
    # as the float32 it becomes: finite there and within a latent's range (a child of 3e38 is inf)
    return latent_array(values, f"root {nid}").reshape(shape)


def _text(v) -> bool:
    return isinstance(v, str) and len(v) <= MAX_TEXT


def _check_fields(d: dict, ids: set) -> None:
    """The writer's fields that the reader uses: ``model`` and ``model_hash`` (text or null), ``size``
    (null, pixels or [height, width]), each node's ``file`` and ``source`` (text) and ``generations``
    (one object per brood written: its number, parents, children, first and last seed, mutation, sheet)."""
    for key in ("model", "model_hash"):
        if d.get(key) is not None and not _text(d[key]):
            raise ValueError(f"its {key} is not a text or null")
    size = d.get("size")
    sides = [size] if _int(size) else size if isinstance(size, list) and len(size) == 2 else None
    if size is not None and not (sides and all(_int(v) and 1 <= v <= MAX_SIZE for v in sides)):
        raise ValueError(f"its size is not null, pixels or [height, width] (1 to {MAX_SIZE})")
    for n in d["nodes"]:
        bad = [k for k in ("file", "source") if k in n and not _text(n[k])]
        if bad:
            raise ValueError(f"node {n['id']}'s {bad[0]} is not a text")
    gens = d.get("generations", [])
    if not isinstance(gens, list):
        raise ValueError("its generations are not a list")
    for k, g in enumerate(gens):
        if not (isinstance(g, dict) and _int(g.get("generation")) and 1 <= g["generation"] <= len(ids)
                and all(isinstance(g.get(key), list) and all(_int(i) and i in ids for i in g[key])
                        for key in ("parents", "children"))
                and isinstance(g.get("seeds"), list) and len(g["seeds"]) == 2 and all(_int(v) for v in g["seeds"])
                and _finite(g.get("mutation")) and _text(g.get("sheet"))):
            raise ValueError(f"its generation record {k + 1} is malformed (generation, parents, children, seeds, "
                             f"mutation or sheet)")


def _check_brood(tree: FamilyTree) -> None:
    """The children to pick from are one whole brood of bred nodes (never roots, never a mix)."""
    if not tree.children:
        return
    kids = [tree.nodes[i] for i in tree.children]
    brood = [n.id for n in tree.nodes.values() if n.parents and n.brood == kids[0].brood]
    if any(not n.parents for n in kids) or tree.children != brood:
        raise ValueError("its children are not one brood of bred nodes")


def read_family(text: str) -> tuple[FamilyTree, dict]:
    """(the tree, the whole record with the writer's extra fields) from ``family_json``'s text;
    anything wrong is a one-line ``ValueError``."""
    from ..jsonio import loads_bounded

    d = loads_bounded(text, "the family tree", MAX_BYTES)   # (size and nesting checked before parsing)
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ValueError("not a family tree written by latent-explorer breed")
    if not _int(d.get("version")) or d["version"] != VERSION:
        raise ValueError(f"a family tree of version {d.get('version')!r}; this version reads {VERSION}")
    shape = _shape(d)
    nodes = d.get("nodes")
    # the structure first (ids, parents before children, weights summing to 1), on stand-in latents
    FamilyTree.from_dict(d, None if not isinstance(nodes, list) else np.zeros((len(nodes), 1), np.float32))
    if not nodes:
        raise ValueError("the family tree has no nodes")
    _check_fields(d, {n["id"] for n in nodes})
    made: dict[int, np.ndarray] = {}
    for n in nodes:
        if not n["parents"]:
            made[n["id"]] = _root_latent(d.get("roots"), n["id"], shape)
            continue
        z, w = child_latent([made[p] for p in n["parents"]], n["seed"], float(n["mutation"]))
        if not np.allclose(w, n["weights"], atol=1e-9):
            raise ValueError(f"node {n['id']}: its seed gives other weights than the file's")
        made[n["id"]] = z
    tree = FamilyTree.from_dict(d, np.stack([made[n["id"]] for n in nodes]))
    _check_brood(tree)
    return tree, d


__all__ = ["family_record", "family_json", "read_family", "FORMAT", "VERSION", "MAX_BYTES"]
