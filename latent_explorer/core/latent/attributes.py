"""Attribute directions: the latent direction from one group of images to another.

Two groups of latents (posterior means) give a direction ``v``; adding ``s·v`` to any latent moves
its image towards the second group's attribute ("0 → 1", "small → large", "smile"). Two ways to get
``v``:

- ``"mean"``: the difference of the groups' mean latents, ``mean(B) − mean(A)`` (plat's attribute
  vectors). Strength 1 takes the first group's mean exactly onto the second's.
- ``"classifier"``: the unit normal ``n`` of a linear classifier (logistic regression) separating
  the groups, scaled so that strength 1 crosses the same distance along ``n`` as the group means
  are apart (``n · (mean(B) − mean(A))``). Sharper when the groups overlap or differ in more than
  one attribute, because it keeps only what tells them apart.

Works on vector and spatial (C×h×w) latents alike (flattened). ``Direction.to_json`` writes a small
JSON with the vector and its recipe (the groups, their sizes, the method, the model and its hash);
``Direction.from_json`` reads it back with its bounds checked. Pure numpy (scikit-learn for the
classifier); no Qt.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..numbers import latent_array

METHODS = ("mean", "classifier")
METHOD_NAMES = {"mean": "difference of means", "classifier": "linear classifier normal"}
MAX_NAME = 80
MAX_JSON_BYTES = 16 * 2**20
STRENGTH_LIMIT = 4.0      # a direction slider runs from −4 to 4 (1 = one whole group-to-group step)


@dataclass
class Direction:
    """A named direction in latent space and how it was made."""

    name: str
    vector: np.ndarray                 # float32, the latent's shape
    method: str = "mean"
    recipe: dict = field(default_factory=dict)   # groups ("from", "to"), their sizes, model, hash…

    @property
    def latent_shape(self) -> tuple:
        return tuple(self.vector.shape)

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.vector))

    def to_dict(self) -> dict:
        return {"kind": "direction", "name": self.name, "method": self.method,
                "latent_shape": list(self.latent_shape),
                "vector": [float(x) for x in self.vector.reshape(-1)], "recipe": dict(self.recipe)}

    def to_json(self) -> str:
        """Readable JSON: one field per line, the vector on one line of its own (last)."""
        body = self.to_dict()
        vector = body.pop("vector")
        head = json.dumps(body, indent=1, default=_plain, ensure_ascii=False)
        return f'{head[:-2]},\n "vector": {json.dumps(vector)}\n}}\n'

    def provenance_note(self, weights_hash: str | None, spec: str | None = None) -> str:
        """A warning when this direction was made on other weights than ``weights_hash`` (its recipe
        keeps the hash of the weights it was made on), else ""; a direction from a file without a hash
        is taken as it is."""
        made_on = self.recipe.get("model_hash") if isinstance(self.recipe, dict) else None
        if not isinstance(made_on, str) or not made_on or not weights_hash or made_on == weights_hash:
            return ""
        model = self.recipe.get("model")
        return (f"direction {self.name!r} was made on other weights ({model + ', ' if isinstance(model, str) else ''}"
                f"hash {made_on[:12]}) than {spec or 'this model'}'s ({weights_hash[:12]}): it may not mean the same "
                "here")

    @classmethod
    def from_dict(cls, d: dict, latent_shape: tuple | None = None) -> Direction:
        """A direction from its dict (a JSON file, a session), with every field checked: ``ValueError``
        with one line otherwise. ``latent_shape`` (a model's) must match when given."""
        if not isinstance(d, dict) or d.get("kind", "direction") != "direction":
            raise ValueError("not a direction (expected a JSON object with \"kind\": \"direction\")")
        name = d.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise ValueError(f"a direction's name must be text of 1 to {MAX_NAME} characters")
        method = d.get("method", "mean")
        if method not in METHODS:
            raise ValueError(f"unknown direction method {method!r} (use {' or '.join(METHODS)})")
        shape = d.get("latent_shape")
        if (not isinstance(shape, list) or not 1 <= len(shape) <= 3
                or not all(isinstance(n, int) and 0 < n <= 2**20 for n in shape)):
            raise ValueError("a direction's latent_shape must be a list of 1 to 3 positive whole numbers")
        values = d.get("vector")
        if not isinstance(values, list) or len(values) != math.prod(shape):
            raise ValueError(f"a direction's vector must hold {math.prod(shape)} numbers for shape {tuple(shape)}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError("a direction's vector must hold numbers only")
        # checked as the float32 it becomes: 1e300 or 4e38 would be inf there, 3e38 inf once walked
        vec = latent_array(values, "a direction's vector")
        if latent_shape is not None and tuple(shape) != tuple(latent_shape):
            raise ValueError(f"direction {name!r} is for latents of shape {tuple(shape)}, "
                             f"this model's are {tuple(latent_shape)}")
        recipe = d.get("recipe", {})
        if not isinstance(recipe, dict):
            raise ValueError("a direction's recipe must be a JSON object")
        return cls(name.strip(), vec.reshape(shape), method, recipe)

    @classmethod
    def from_json(cls, text: str, latent_shape: tuple | None = None) -> Direction:
        from ..jsonio import loads_bounded

        try:  # (bounded: size and nesting checked before parsing)
            d = loads_bounded(text, "the direction file", MAX_JSON_BYTES)
        except ValueError as e:
            raise ValueError(f"not a direction file: {e}") from None
        return cls.from_dict(d, latent_shape)


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON")


def _groups(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim < 2 or b.ndim < 2 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"the two groups' latents differ in shape: {a.shape[1:]} and {b.shape[1:]}")
    if len(a) == 0 or len(b) == 0:
        raise ValueError("each group needs at least one image "
                         f"(from: {len(a)}, to: {len(b)})")
    return a.reshape(len(a), -1), b.reshape(len(b), -1)


def direction_between(a, b, method: str = "mean", name: str = "", recipe: dict | None = None) -> Direction:
    """The direction from group ``a`` to group ``b`` (each N×*latent_shape posterior means)."""
    if method not in METHODS:
        raise ValueError(f"unknown direction method {method!r} (use {' or '.join(METHODS)})")
    shape = np.asarray(a).shape[1:]
    fa, fb = _groups(a, b)
    delta = fb.mean(0) - fa.mean(0)
    if method == "mean":
        vec = delta
    else:
        if len(fa) < 2 or len(fb) < 2:
            raise ValueError("a linear classifier needs at least two images in each group "
                             f"(from: {len(fa)}, to: {len(fb)}); use the difference of means")
        vec = _classifier_direction(fa, fb, delta)
    if not np.all(np.isfinite(vec)) or not np.any(vec):
        raise ValueError("the two groups have the same mean latent: there is no direction between them")
    info = {"method": method, "n_from": len(fa), "n_to": len(fb)}
    info.update(recipe or {})
    return Direction(name.strip()[:MAX_NAME] or "direction", vec.astype(np.float32).reshape(shape), method, info)


def _classifier_direction(fa: np.ndarray, fb: np.ndarray, delta: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([fa, fb])
    y = np.r_[np.zeros(len(fa)), np.ones(len(fb))]
    mu, sd = x.mean(0), x.std(0) + 1e-6   # standardised, so C means the same for every model
    clf = LogisticRegression(C=1.0, max_iter=500, class_weight="balanced").fit((x - mu) / sd, y)
    w = clf.coef_[0] / sd                  # back in latent units
    n = w / (np.linalg.norm(w) or 1.0)
    return n * float(n @ delta)


def apply_directions(z, directions, strengths) -> np.ndarray:
    """``z + Σ sᵢ·vᵢ`` (float32, z's shape): several directions at once. ``z`` is one latent or a
    batch of them (N×*latent_shape)."""
    out = np.array(z, np.float32, copy=True)
    for d, s in zip(directions, strengths):
        if out.shape[out.ndim - len(d.latent_shape):] != d.latent_shape:
            raise ValueError(f"direction {d.name!r} has shape {d.latent_shape}, the latent {out.shape}")
        if s:
            out += np.float32(s) * d.vector
    return out


def walk(z, direction: Direction, strengths) -> np.ndarray:
    """float32 len(strengths)×*shape: ``z + s·v`` for each strength (a traversal along one direction)."""
    s = np.asarray(list(strengths), np.float32).reshape(-1, *([1] * np.ndim(z)))
    return (np.asarray(z, np.float32)[None] + s * direction.vector[None]).astype(np.float32)


__all__ = ["Direction", "METHODS", "METHOD_NAMES", "STRENGTH_LIMIT", "apply_directions", "direction_between", "walk"]
