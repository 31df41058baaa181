"""Breeding latents, with a family tree: children are random blends of their parents plus a small mutation.

A child of parents z₁ … z_k is ``Σ wᵢ·zᵢ + mutation·ε``: the weights ``w ~ Dirichlet(1, …, 1)``
(they sum to 1) and the noise ``ε ~ N(0, I)`` both come from one numpy Generator seeded with the
child's own ``seed``, so the seed, the parents and the mutation (in units of the prior's σ) make
the child again bit for bit. The arithmetic is elementwise: vector and spatial (C×h×w) latents alike.

``FamilyTree`` keeps every node (roots: latents picked by the user; children: what breeding made),
the parents chosen now, the children of the last breeding, and an undo / redo stack of breeding
steps. ``lineage(id)`` is the smallest recipe (the roots' latents and every ancestor's parents,
weights, seed and mutation) from which ``replay`` rebuilds that child's latent exactly. Pure numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_PARENTS = 6
MAX_CHILDREN = 16
MAX_MUTATION = 2.0
MAX_NODES = 5000
MAX_LABEL = 200
MAX_SEED = 2 ** 63 - 1


@dataclass
class Node:
    id: int
    latent: np.ndarray
    generation: int = 0
    parents: tuple = ()          # node ids; () for a root
    weights: tuple = ()          # one per parent, summing to 1
    seed: int = 0
    mutation: float = 0.0
    label: str = ""              # a root's source ("#12 (3)", a bookmark's name); a child's "g2·3"
    brood: int = -1              # a child's brood: the first id of the breeding that made it


def child_latent(parents, seed: int, mutation: float) -> tuple[np.ndarray, np.ndarray]:
    """(float32 latent, float64 weights): ``Σ wᵢ·zᵢ + mutation·ε``, weights then noise drawn from
    ``default_rng(seed)``. Every parent latent has one shape."""
    zs = np.stack([np.asarray(p, np.float32) for p in parents]).astype(np.float64)
    if not 1 <= len(zs) <= MAX_PARENTS:
        raise ValueError(f"breeding needs 1 to {MAX_PARENTS} parents, got {len(zs)}")
    if not (math.isfinite(mutation) and 0.0 <= mutation <= MAX_MUTATION):
        raise ValueError(f"mutation {mutation} is not between 0 and {MAX_MUTATION}")
    rng = np.random.default_rng(int(seed))
    w = rng.dirichlet(np.ones(len(zs))) if len(zs) > 1 else np.ones(1)
    z = np.tensordot(w, zs, axes=1)
    if mutation > 0:
        z = z + float(mutation) * rng.standard_normal(zs.shape[1:])
    return z.astype(np.float32), w


class FamilyTree:
    """The nodes of one breeding session, the parents chosen now, and undo / redo of breeding steps."""

    def __init__(self):
        self.nodes: dict[int, Node] = {}
        self.parents: list[int] = []    # chosen for the next breeding
        self.children: list[int] = []   # the last breeding's children (the grid)
        self._undo: list[tuple] = []
        self._redo: list[tuple] = []
        self._next_id = 0   # ids are never reused, not even after an undo (a picture cached by id stays true)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def shape(self) -> tuple | None:
        return next((tuple(n.latent.shape) for n in self.nodes.values()), None)

    def _new_id(self, n: int = 1) -> int:
        """The first of ``n`` fresh ids."""
        first = max(self._next_id, max(self.nodes, default=-1) + 1)
        if len(self.nodes) + n > MAX_NODES or first + n > 10 * MAX_NODES:
            raise ValueError(f"the family tree is full ({MAX_NODES} nodes at most): start a new one")
        self._next_id = first + n
        return first

    def _step(self, change: tuple) -> None:
        """Record a breeding step (``(what, before, after)``) for undo; a new step drops the redo ones."""
        self._undo.append(change)
        self._redo.clear()

    # ---- parents -----------------------------------------------------------------------
    def add_root(self, latent, label: str = "") -> int:
        """A latent picked by the user (a map point, a bookmark, the preview) as a root node; a latent
        already in the tree gives that node back."""
        z = np.array(latent, np.float32, copy=True)
        if not np.all(np.isfinite(z)):
            raise ValueError("a parent's latent has NaN or infinite values")
        if self.shape is not None and z.shape != self.shape:
            raise ValueError(f"this latent has shape {z.shape}, the family's is {self.shape}")
        same = self.find(z)
        if same is not None:
            return same
        nid = self._new_id()
        self._redo.clear()  # a redone breeding would reuse this id
        self.nodes[nid] = Node(nid, z, label=(label or f"root {nid}")[:MAX_LABEL])
        return nid

    def find(self, latent) -> int | None:
        z = np.asarray(latent, np.float32)
        return next((n.id for n in self.nodes.values() if n.latent.shape == z.shape
                     and np.array_equal(n.latent, z)), None)

    def set_parents(self, ids) -> None:
        """Choose the parents of the next breeding (an undoable step)."""
        ids = list(dict.fromkeys(int(i) for i in ids))
        if len(ids) > MAX_PARENTS:
            raise ValueError(f"at most {MAX_PARENTS} parents, got {len(ids)}")
        if missing := [i for i in ids if i not in self.nodes]:
            raise ValueError(f"no node {missing[0]} in the family tree")
        if ids != self.parents:
            self._step(("parents", (list(self.parents), list(self.children)), (ids, list(self.children))))
            self.parents = ids

    # ---- breeding ----------------------------------------------------------------------
    def breed(self, n_children: int, mutation: float, seed: int, parents=None) -> list[int]:
        """``n_children`` children of the chosen parents (or ``parents``); child i's seed is ``seed + i``."""
        ids = list(self.parents if parents is None else parents)
        if not ids:
            raise ValueError("choose at least one parent first")
        if not 1 <= int(n_children) <= MAX_CHILDREN:
            raise ValueError(f"1 to {MAX_CHILDREN} children, got {n_children}")
        if not 0 <= int(seed) <= MAX_SEED - MAX_CHILDREN:
            raise ValueError(f"seed {seed} is out of range")
        before = (list(self.parents), list(self.children))
        gen = 1 + max(self.nodes[i].generation for i in ids)
        zs, made = [self.nodes[i].latent for i in ids], []
        first = self._new_id(int(n_children))
        for k in range(int(n_children)):
            z, w = child_latent(zs, int(seed) + k, float(mutation))
            nid = first + k
            self.nodes[nid] = Node(nid, z, gen, tuple(ids), tuple(float(v) for v in w), int(seed) + k,
                                   float(mutation), f"g{gen}·{k + 1}", first)
            made.append(nid)
        self.parents, self.children = ids, made
        self._step(("breed", before, (ids, made), [self.nodes[i] for i in made]))
        return made

    # ---- undo / redo -------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> str | None:
        """Take back the last breeding step (a generation made, parents chosen); its name, or None."""
        return self._move(self._undo, self._redo, back=True)

    def redo(self) -> str | None:
        return self._move(self._redo, self._undo, back=False)

    def _move(self, source: list, target: list, back: bool) -> str | None:
        if not source:
            return None
        change = source.pop()
        target.append(change)
        if change[0] == "breed" and back:  # its children leave the tree
            for n in change[3]:
                del self.nodes[n.id]
        elif change[0] == "breed":  # and come back
            self.nodes.update((n.id, n) for n in change[3])
        self.parents, self.children = (list(v) for v in change[1 if back else 2])
        return change[0]

    def go_to(self, nid: int) -> None:
        """Back to node ``nid``: the grid shows its brood (its siblings) and the parents row its parents;
        a root is chosen as a parent. Not an undo step: nothing in the tree changes."""
        n = self.nodes[nid]
        if n.parents:
            self.parents = list(n.parents)
            self.children = [m.id for m in self.nodes.values() if m.brood == n.brood]
        elif nid not in self.parents and len(self.parents) < MAX_PARENTS:
            self.parents = self.parents + [nid]

    # ---- lineage -----------------------------------------------------------------------
    def ancestors(self, nid: int) -> list[int]:
        """``nid`` and all its ancestors, parents before children (ids ascending: parents are older)."""
        seen, todo = set(), [nid]
        while todo:
            i = todo.pop()
            if i not in seen:
                seen.add(i)
                todo.extend(self.nodes[i].parents)
        return sorted(seen)

    def lineage(self, nid: int) -> dict:
        """The recipe of node ``nid``: its roots' latents (exact, as lists of floats) and every
        ancestor's breeding step; ``replay`` makes the latent again bit for bit."""
        roots, steps = {}, []
        for i in self.ancestors(nid):
            n = self.nodes[i]
            if n.parents:
                steps.append({"id": i, "parents": list(n.parents), "weights": list(n.weights), "seed": n.seed,
                              "mutation": n.mutation, "generation": n.generation, "label": n.label})
            else:
                roots[str(i)] = {"label": n.label, "latent": exact_floats(n.latent)}
        return {"node": int(nid), "shape": list(self.nodes[nid].latent.shape), "roots": roots, "steps": steps}

    # ---- sessions ----------------------------------------------------------------------
    def to_dict(self) -> tuple[dict, np.ndarray | None]:
        """(JSON-able description, the nodes' latents N×*shape in its order) for a session file."""
        nodes = list(self.nodes.values())
        meta = {"nodes": [{"id": n.id, "generation": n.generation, "parents": list(n.parents),
                           "weights": list(n.weights), "seed": n.seed, "mutation": n.mutation, "label": n.label,
                           "brood": n.brood} for n in nodes],
                "parents": list(self.parents), "children": list(self.children)}
        return meta, (np.stack([n.latent for n in nodes]) if nodes else None)

    @classmethod
    def from_dict(cls, meta, latents) -> "FamilyTree":
        """A tree from ``to_dict``'s output, checked; anything wrong is a one-line ``ValueError``."""
        tree = cls()
        if not isinstance(meta, dict) or not isinstance(meta.get("nodes"), list):
            raise ValueError("the family tree is not an object with a list of nodes")
        nodes = meta["nodes"]
        if len(nodes) > MAX_NODES:
            raise ValueError(f"the family tree has {len(nodes)} nodes, more than {MAX_NODES}")
        lat = None if latents is None else np.asarray(latents, np.float32)
        if nodes and (lat is None or lat.ndim < 2 or len(lat) != len(nodes)):
            raise ValueError(f"the family tree has {len(nodes)} nodes but latents of shape "
                             f"{None if lat is None else lat.shape}")
        for k, d in enumerate(nodes):
            nid = _check_node(d, k, tree.nodes)  # before any field is read
            tree.nodes[nid] = n = Node(nid, lat[k].copy(), d["generation"], tuple(d["parents"]),
                                       tuple(map(float, d["weights"])), d["seed"], float(d["mutation"]), d["label"],
                                       d.get("brood", -1))
            if not np.all(np.isfinite(n.latent)):
                raise ValueError(f"family tree node {n.id} has NaN or infinite values")
        for key in ("parents", "children"):
            ids = meta.get(key, [])
            if not isinstance(ids, list) or not all(_int(i) and i in tree.nodes for i in ids):
                raise ValueError(f"the family tree's {key} are not a list of its node ids")
            setattr(tree, key, list(ids)[:MAX_PARENTS] if key == "parents" else list(ids))
        return tree


def exact_floats(z: np.ndarray) -> list[float]:
    """A float32 latent as the shortest decimals that read back (as float32) to the same bits."""
    return [float(str(v)) for v in np.asarray(z, np.float32).ravel()]


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v) -> bool:
    """A JSON number that is a finite float (a whole number too large for a float is not)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _check_node(d, k: int, earlier: dict) -> int:
    """Node ``k`` of a saved tree is well formed (its parents come before it); its id."""
    if not isinstance(d, dict):
        raise ValueError(f"family tree node {k} is not an object")
    nid, parents, weights = d.get("id"), d.get("parents"), d.get("weights")
    ok = (_int(nid) and 0 <= nid <= 10 * MAX_NODES and nid not in earlier and _int(d.get("generation"))
          and 0 <= d["generation"] <= MAX_NODES and _int(d.get("seed")) and 0 <= d["seed"] <= MAX_SEED
          and isinstance(d.get("label"), str) and len(d["label"]) <= MAX_LABEL
          and _int(d.get("brood", -1)) and d.get("brood", -1) >= -1
          and _finite(d.get("mutation")) and 0 <= d["mutation"] <= MAX_MUTATION
          and isinstance(parents, list) and isinstance(weights, list) and len(parents) == len(weights)
          and len(parents) <= MAX_PARENTS)
    if not ok:
        raise ValueError(f"family tree node {k} is malformed (id, generation, parents, weights, seed, "
                         f"mutation or label)")
    if any(not _int(p) or p not in earlier for p in parents):
        raise ValueError(f"family tree node {nid} names a parent that is not before it in the tree")
    if parents and not all(_finite(w) for w in weights):
        raise ValueError(f"family tree node {nid} has weights that are not numbers")
    if parents and abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"family tree node {nid}'s weights sum to {sum(weights):.4f}, not 1")
    return nid


def replay(lineage: dict) -> np.ndarray:
    """The latent a ``lineage`` recipe describes, made again from its roots and seeds (bit for bit)."""
    from ..numbers import latent_array

    try:
        shape = tuple(int(v) for v in lineage["shape"])
        made = {int(k): latent_array(r["latent"], f"root {k}", limit=math.inf).reshape(shape)  # (any float32, bit for bit)
                for k, r in lineage["roots"].items()}
        for s in sorted(lineage["steps"], key=lambda s: int(s["id"])):
            z, w = child_latent([made[int(p)] for p in s["parents"]], int(s["seed"]), float(s["mutation"]))
            if not np.allclose(w, s["weights"], atol=1e-9):
                raise ValueError(f"node {s['id']}: its seed gives other weights than the recipe's")
            made[int(s["id"])] = z
        return made[int(lineage["node"])]
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"not a breeding lineage ({type(e).__name__}: {e})") from None


def describe(tree: FamilyTree, nid: int) -> str:
    """Node ``nid`` in words: a root's label, or a child's formula (``g2·3 = 0.61·g1·2 + … + 0.20·ε (seed 7)``),
    the ``method`` of an exported child's recipe."""
    n = tree.nodes[nid]
    if not n.parents:
        return f"{n.label} (picked)"
    parts = " + ".join(f"{w:.2f}·{tree.nodes[p].label}" for p, w in zip(n.parents, n.weights) if p in tree.nodes)
    return f"{n.label} = {parts} + {n.mutation:.2f}·ε (seed {n.seed})"


def breeding_recipe(tree: FamilyTree, nid: int) -> dict:
    """The recipe fields of an exported child: ``kind``, its ``latent`` and its full ``lineage``."""
    return {"kind": "breeding", "latent": tree.nodes[nid].latent, "lineage": tree.lineage(nid)}


__all__ = ["Node", "FamilyTree", "child_latent", "replay", "describe", "breeding_recipe", "MAX_PARENTS", "MAX_CHILDREN",
           "MAX_MUTATION"]
