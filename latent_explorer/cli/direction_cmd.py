"""``latent-explorer direction`` and ``traverse --direction``: attribute directions on the command line.

``direction --model SPEC --from GROUP --to GROUP --out FILE.json`` encodes both groups (posterior
means), takes the direction between them (``core.latent.attributes``) and writes it as a small
JSON with its recipe. GROUP is ``label:N`` or ``factor:NAME=VALUE`` (rows of ``--data``, by
default the model's own dataset, training split), a folder, or image files.

``traverse --direction FILE.json`` walks one image (or a prior sample) along a saved direction:
a one-row grid of ``z + s·v`` for ``--steps`` strengths from −range to +range (default ±1.5:
strength 1 is one whole group-to-group step).
"""
from __future__ import annotations

from pathlib import Path

from ..core.errors import UserError
from . import common, paths

DIRECTION_RANGE = 1.5


def _group(model, values, data: str, option: str):
    from ..core.latent.groups import group_images, parse_group

    spec = parse_group(values)
    if spec.kind in ("label", "factor"):
        paths.dataset("--data", data)
    try:
        images = group_images(spec, data, model.image_size, model.channels)
    except UserError as e:
        raise UserError(f"{option}: {e}") from None
    mean, _ = model.encode(images)
    return spec, mean


def cmd_direction(a) -> int:
    import json

    from ..core.export import atomic_write_text
    from ..core.latent.attributes import direction_between

    out = paths.output_file("--out", a.out, (".json",))
    m = common.load(a)
    data = a.data or (getattr(m, "metrics", None) or {}).get("data") or "mnist-5k"
    spec_a, za = _group(m, a.from_, data, "--from")
    spec_b, zb = _group(m, a.to, data, "--to")
    name = a.name or f"{spec_a.describe()} → {spec_b.describe()}"
    recipe = {"model": m.spec or m.name, "from": spec_a.text, "to": spec_b.text}
    if spec_a.kind in ("label", "factor") or spec_b.kind in ("label", "factor"):
        recipe["data"] = data
    if hasattr(m, "weights_hash"):
        recipe["model_hash"] = m.weights_hash()
    try:
        d = direction_between(za, zb, a.method, name, recipe)
    except ValueError as e:
        raise UserError(str(e)) from None
    atomic_write_text(out, d.to_json())
    print(f"wrote {out}: {d.name!r} ({a.method}, {len(za)} → {len(zb)} images, length {d.norm:.3f})")
    if a.json:
        print(json.dumps({"out": str(out), "name": d.name, "norm": d.norm, "n_from": len(za), "n_to": len(zb)}))
    return 0


def read_direction(path: str, latent_shape: tuple):
    from ..core.latent.attributes import MAX_JSON_BYTES, Direction

    p = paths.input_file("--direction", path)
    if p.stat().st_size > MAX_JSON_BYTES:
        raise UserError(f"--direction {path}: too large for a direction file")
    try:
        return Direction.from_json(Path(p).read_text(encoding="utf-8"), latent_shape)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"--direction {path}: {e}") from None


def traverse_direction(a, m, base, settings):
    """The one-row grid of ``base + s·v`` and its recipe (for ``cmd_traverse``)."""
    import numpy as np

    from ..core.export import label_rows, make_grid, recipe_with
    from ..core.latent.attributes import walk

    d = read_direction(a.direction, tuple(m.latent_shape))
    note = d.provenance_note(m.weights_hash() if hasattr(m, "weights_hash") else None, m.spec or m.name)
    if note:
        import sys

        print(f"warning: {a.direction}: {note}", file=sys.stderr)
    r = DIRECTION_RANGE if a.range_ is None else a.range_
    strengths = np.linspace(-r, r, a.steps) if a.steps > 1 else np.array([r])
    imgs = m.decode(walk(base, d, strengths))
    grid = make_grid(imgs[None], settings=settings)
    label = f"{d.name}: s = {strengths[0]:g} to {strengths[-1]:g}".replace("→", "->")
    grid = label_rows(grid, [label], 1)
    recipe = common.recipe(m, kind="traverse-direction", base=base, strengths=[float(s) for s in strengths],
                     direction=d.to_dict(), source=a.image, seed=None if a.image else a.seed)
    return grid, recipe_with(recipe, settings)
