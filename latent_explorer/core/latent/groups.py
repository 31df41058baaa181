"""Groups of images for attribute directions: ``label:N``, ``factor:NAME=VALUE``, a folder, or files.

``parse_group`` reads the command line's GROUP text into a ``GroupSpec``; ``select`` picks a
labelled or factored dataset's rows for it (the app does the same on the map's images);
``group_images`` loads the images of any group (a dataset's rows, a folder, a list of files).
Large dataset groups are thinned evenly to ``MAX_GROUP`` images (every k-th row, never "the first
N"), so a direction from 60,000 shapes encodes in seconds. No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

MAX_GROUP = 2000


@dataclass(frozen=True)
class GroupSpec:
    kind: str                  # "label", "factor", "folder" or "files"
    value: object = None       # label: int; factor: (name, value text); folder: str; files: tuple
    text: str = ""             # as the user wrote it (kept in the recipe)

    def describe(self) -> str:
        if self.kind == "label":
            return f"label {self.value}"
        if self.kind == "factor":
            return f"{self.value[0]} = {self.value[1]}"
        if self.kind == "folder":
            return Path(self.value).name or str(self.value)
        return f"{len(self.value)} images"


def parse_group(values) -> GroupSpec:
    """A GROUP from its text: ``label:N``, ``factor:NAME=VALUE``, a folder, or image files."""
    values = [values] if isinstance(values, str) else list(values)
    if not values:
        raise UserError("a group needs label:N, factor:NAME=VALUE, a folder or image files")
    first = values[0]
    if len(values) == 1 and first.startswith("label:"):
        n = first[6:].strip()
        if not n.lstrip("-").isdigit() or len(n) > 9:
            raise UserError(f"{first!r}: write label:N with a whole number N, e.g. label:7")
        return GroupSpec("label", int(n), first)
    if len(values) == 1 and first.startswith("factor:"):
        name, eq, value = first[7:].partition("=")
        if not eq or not name.strip() or not value.strip():
            raise UserError(f"{first!r}: write factor:NAME=VALUE, e.g. factor:shape=square or factor:scale=5")
        return GroupSpec("factor", (name.strip(), value.strip()), first)
    if len(values) == 1 and Path(first).expanduser().is_dir():
        return GroupSpec("folder", str(Path(first).expanduser()), first)
    for v in values:
        p = Path(v).expanduser()
        if p.is_dir():
            raise UserError(f"{v}: give one folder on its own, or image files")
        if not p.is_file():
            raise UserError(f"{v}: no such file or folder (a group is label:N, factor:NAME=VALUE, "
                            "a folder or image files)")
    return GroupSpec("files", tuple(values), " ".join(values))


def factor_value(names: tuple, value_names: dict, factors: np.ndarray, name: str, value: str) -> tuple[int, int]:
    """(column, value) of ``NAME=VALUE`` among a dataset's factors; VALUE is a number or a value's name."""
    if name not in names:
        raise UserError(f"unknown factor {name!r}: this data has {', '.join(names) or 'no factors'}")
    col = names.index(name)
    known = value_names.get(name)
    if known and value in known:
        return col, list(known).index(value)
    if value.lstrip("-").isdigit() and len(value) < 10:
        v = int(value)
        present = np.unique(factors[:, col])
        if v in present:
            return col, v
        raise UserError(f"factor {name} has no value {v}: it takes {present.min()} to {present.max()}")
    hint = f" ({', '.join(known)})" if known else ""
    raise UserError(f"factor {name}: {value!r} is not one of its values{hint}")


def select(spec: GroupSpec, labels, factors, factor_names: tuple = (), value_names: dict | None = None,
           limit: int | None = MAX_GROUP) -> np.ndarray:
    """Row indices of a labelled/factored collection that belong to a label or factor group,
    thinned evenly to ``limit``."""
    if spec.kind == "label":
        if labels is None:
            raise UserError(f"{spec.text}: these images have no labels")
        rows = np.flatnonzero(np.asarray(labels) == spec.value)
    elif spec.kind == "factor":
        if factors is None:
            raise UserError(f"{spec.text}: these images have no known factors")
        col, v = factor_value(tuple(factor_names), value_names or {}, np.asarray(factors), *spec.value)
        rows = np.flatnonzero(np.asarray(factors)[:, col] == v)
    else:
        raise ValueError(f"select() takes label and factor groups, not {spec.kind}")
    if len(rows) == 0:
        raise UserError(f"{spec.text}: no images in this group")
    if limit and len(rows) > limit:
        rows = rows[np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    return rows


def group_images(spec: GroupSpec, data: str, size: tuple, channels: int, split: str = "train") -> np.ndarray:
    """uint8 N×H×W×C: the images of a group. Label and factor groups come from dataset ``data``
    (its ``split``); folders and files are loaded at the model's size."""
    from ..data.datasets import load_dataset
    from ..data.images import fit_to_size, load_image

    if spec.kind in ("label", "factor"):
        ds = load_dataset(data, split)
        rows = select(spec, ds.labels, ds.factors, ds.factor_names, ds.value_names)
        return fit_to_size(ds.images[rows], tuple(size), channels)
    if spec.kind == "folder":
        ds = load_dataset(spec.value, image_size=int(size[0]), channels=channels)
        return ds.images
    return np.stack([fit_to_size(load_image(p)[None], tuple(size), channels)[0] for p in spec.value])


__all__ = ["GroupSpec", "MAX_GROUP", "factor_value", "group_images", "parse_group", "select"]
