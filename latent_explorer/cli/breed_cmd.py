"""``latent-explorer breed``: breeding on the command line, reproducible and scriptable.

``breed --model SPEC A B [C …] --out DIR`` encodes 2 to 6 parent images (posterior means) and
breeds ``--children`` children with the app's own code (``core.latent.breeding.FamilyTree``:
child i of a brood has seed ``--seed`` + i, weights ~ Dirichlet(1, …, 1) from that seed, plus
``--mutation`` σ of noise). DIR then holds:

- ``child-g1-3.png`` for each child: its full decode, with the recipe the app's "Export child…"
  writes (the model, its hash, the latent and the whole lineage: ``replay`` makes it again);
- ``gen1.png``: a contact sheet, the brood's parents above and its children below, numbered;
- ``tree.json``: the whole family (``core.latent.breeding_file``), read back bit for bit.

``--generations G --pick 3,5`` breeds on G − 1 more times, each time from children 3 and 5 of
the brood before; ``breed --model SPEC --out DIR --pick 3,5`` (no images) continues the family in
DIR from its last brood. Seeds go on counting, so two runs equal one run of two generations.
tree.json keeps the working size (``--size``), which continuing uses unless another is given. Each
parent is encoded alone, so its latent (and every child) does not depend on the other parents given.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from ..core.errors import UserError
from . import common, paths

TREE_FILE = "tree.json"
MIN_TILE = 64   # px: the contact sheet's tiles are scaled up (nearest) to at least this


def child_file(label: str) -> str:
    """The file a node is written to, as the app names an exported child (``g2·3`` -> ``child-g2-3.png``)."""
    return f"child-{label.replace('·', '-')}.png"


def _read_tree(out: Path):
    from ..core.latent.breeding_file import MAX_BYTES, read_family

    index = out / TREE_FILE
    try:
        if index.stat().st_size > MAX_BYTES:
            raise ValueError("too large for a family tree")
        return read_family(index.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as e:
        raise UserError(f"--out {out}: {TREE_FILE} is not a family tree this version can continue ({e})") from None


def _check_pick(pick, brood_size: int, generation: int) -> list[int]:
    if len(set(pick)) < len(pick):
        raise UserError(f"--pick {','.join(map(str, pick))}: a child is named twice")
    if max(pick) > brood_size:
        raise UserError(f"--pick {max(pick)}: generation {generation} has {brood_size} children (1 to {brood_size})")
    return list(pick)


def _plan(a, out: Path):
    """(the tree to continue or None, its record or None, the parent image files) after every check that
    needs no model."""
    from ..core.latent.breeding import MAX_PARENTS

    has_tree = (out / TREE_FILE).exists()
    if a.parents:
        if not 2 <= len(a.parents) <= MAX_PARENTS:
            raise UserError(f"breed needs 2 to {MAX_PARENTS} parent images, got {len(a.parents)}")
        files = common.input_images(a.parents, least=2)
        if has_tree:
            raise UserError(f"--out {a.out} already holds a family ({TREE_FILE}): continue it with --pick K,… "
                            "and no parent images, or write to another folder")
        if a.pick and a.generations == 1:
            raise UserError("--pick chooses the children that breed on: give --generations 2 or more "
                            "(or no images, to continue the family in --out)")
        if a.generations > 1:
            if not a.pick:
                raise UserError(f"--generations {a.generations}: say which children breed on with --pick K,…")
            _check_pick(a.pick, a.children, 1)
        return None, None, files
    if not has_tree:
        raise UserError(f"breed needs 2 to {MAX_PARENTS} parent images, or --pick to continue the family in "
                        f"--out ({a.out} has no {TREE_FILE})")
    tree, rec = _read_tree(out)
    if not tree.children:
        raise UserError(f"--out {a.out}: its family has no last generation to pick children from")
    last = tree.nodes[tree.children[0]].generation
    if not a.pick:
        raise UserError(f"--out {a.out} holds a family: say which children of generation {last} breed on with "
                        f"--pick K,… (their numbers on gen{last}.png)")
    _check_pick(a.pick, len(tree.children), last)
    if a.generations > 1:
        _check_pick(a.pick, a.children, last + 1)
    return tree, rec, []


def size_text(size) -> str:
    """A working size as ``--size`` takes it: ``64`` or ``64x96``."""
    return str(size) if isinstance(size, int) else "x".join(map(str, size))


def _bred_with(rec: dict) -> str:
    """The model options a family was bred with, as far as tree.json says."""
    model, size = rec.get("model"), rec.get("size")
    words = f"--model {shlex.quote(model)}" if model else "the model it was bred with"
    if size is not None:
        return f"{words} --size {size_text(size)}"
    return words + (" and the --size it was bred at" if "size" not in rec and len(rec["shape"]) == 3 else "")


def _same_model(m, rec: dict, a) -> None:
    shape, want = tuple(rec["shape"]), tuple(m.latent_shape)
    if shape != want:
        at = f" at --size {size_text(a.size)}" if a.size is not None else ""
        raise UserError(f"--out {a.out}: its family has latents of shape {shape}, {a.model}{at} makes {want}: "
                        f"continue it with {_bred_with(rec)}")
    ours = m.weights_hash() if hasattr(m, "weights_hash") else None
    if ours and rec.get("model_hash") and rec["model_hash"] != ours:
        raise UserError(f"--out {a.out}: its family was bred with other weights ({rec.get('model')}, hash "
                        f"{rec['model_hash'][:12]}): continue it with that model")


def contact_sheet(rows, captions, titles, min_tile: int = MIN_TILE, pad: int = 4):
    """uint8 image: rows of equal tiles (scaled up to ``min_tile`` px, nearest), a caption under each
    tile and a title left of each row."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from ..core.export import label_rows

    h, w, c = rows[0][0].shape
    k = max(1, -(-min_tile // max(h, w)))
    h, w, cap = h * k, w * k, 14
    cols = max(len(r) for r in rows)
    sheet = Image.new("L" if c == 1 else "RGB", (pad + cols * (w + pad), pad + len(rows) * (h + cap + pad)),
                      255 if c == 1 else (255, 255, 255))
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for r, (row, caps) in enumerate(zip(rows, captions)):
        y = pad + r * (h + cap + pad)
        for q, (img, text) in enumerate(zip(row, caps)):
            x = pad + q * (w + pad)
            big = np.asarray(img).repeat(k, 0).repeat(k, 1)
            sheet.paste(Image.fromarray(big[..., 0] if c == 1 else big), (x, y))
            while len(text) > 1 and draw.textlength(text, font=font) > w:
                text = text[:-2] + "…" if len(text) > 2 else text[:1]
            draw.text((x + (w - draw.textlength(text, font=font)) / 2, y + h + 1), text, fill=0, font=font)
    grid = np.asarray(sheet, np.uint8)
    return label_rows(grid if c != 1 else grid[..., None], titles, len(rows), pad=pad)


def _breed(a, tree, files, m):
    """Breed the generations asked for: (the tree, [(parents, children)] per brood, {root id: its file})."""
    from ..core.latent.breeding import FamilyTree

    sources = {}
    if tree is None:
        # one at a time: an image's latent differs in its last bits with the batch it is encoded in
        mean = [common.encode_files(m, [f])[1][0] for f in files]
        tree = FamilyTree()
        ids = [tree.add_root(z, Path(f).name) for z, f in zip(mean, files)]
        if len(set(ids)) < 2:
            raise UserError("the parent images all encode to the same latent: give 2 to 6 different images")
        for k, i in enumerate(ids):
            if ids.index(i) != k:
                print(f"note: {files[k]} encodes to the same latent as {files[ids.index(i)]}: one parent")
            sources.setdefault(i, str(files[k]))
        tree.set_parents(ids)
        seed = 0 if a.seed is None else a.seed
    else:
        seed = a.seed if a.seed is not None else 1 + max(n.seed for n in tree.nodes.values())
    broods = []
    for g in range(a.generations):
        if g > 0 or not files:
            tree.set_parents([tree.children[k - 1] for k in a.pick])
        try:
            kids = tree.breed(a.children, a.mutation, seed)
        except ValueError as e:
            raise UserError(str(e)) from None
        broods.append((list(tree.parents), kids))
        seed += a.children
    return tree, broods, sources


def _refuse_overwrite(a, out: Path, rec: dict, tree, broods) -> None:
    """Continuing a family never writes over a file of it (a tree.json edited by hand could number a
    generation again)."""
    names = [n for _, kids in broods for n in [child_file(tree.nodes[i].label) for i in kids]
             + [f"gen{tree.nodes[kids[0]].generation}.png"]]
    held = {n.get("file") for n in rec["nodes"]} | {g["sheet"] for g in rec.get("generations", [])}
    taken = [n for n in names if n in held or (out / n).exists()]
    if taken or len(set(names)) < len(names):
        raise UserError(f"--out {a.out}: breeding on would write over {taken[0] if taken else 'its own files'}, "
                        f"which the family already holds (was {TREE_FILE} edited by hand?)")


def _again(a, tree, last) -> str:
    """The command line that breeds on from the family just written."""
    argv = ["latent-explorer", "breed", "--model", a.model]
    argv += ["--size", size_text(a.size)] if a.size is not None else []
    argv += ["--config", a.config] if a.config else []
    argv += ["--allow-pickle"] if a.allow_pickle else []
    argv += ["--precision", a.precision] if a.precision != "fp32" else []
    argv += ["--children", str(a.children), "--mutation", f"{a.mutation:g}", "--out", a.out]
    return (f"{shlex.join(argv)} --pick K,… (children 1 to {len(last)} of gen "
            f"{tree.nodes[last[0]].generation})")


def cmd_breed(a) -> int:
    """Breed into ``--out`` holding its writer lock from reading its tree.json to writing the new one:
    a second ``breed`` into the same folder is refused in one line (two would each report their children
    and one family would be lost)."""
    from ..core.folder_lock import LOCK_NAME, folder_lock

    out = paths.output_folder("--out", a.out)
    created = not out.exists()
    with folder_lock(out, "a family"):
        try:
            return _breed_locked(a, out)
        except BaseException:
            if created and [p.name for p in out.iterdir()] == [LOCK_NAME]:
                (out / LOCK_NAME).unlink()  # a run refused before it wrote anything leaves no folder behind
                out.rmdir()
            raise


def _breed_locked(a, out: Path) -> int:
    from ..core.export import recipe_with, resize_image, save_png
    from ..core.latent.breeding import breeding_recipe, describe
    from ..core.latent.breeding_file import family_json
    from ..core.paths import atomic_write_text

    tree, rec, files = _plan(a, out)
    settings = common.export_settings(a)
    if rec is not None and a.size is None and rec.get("size") is not None:
        a.size = rec["size"] if isinstance(rec["size"], int) else tuple(rec["size"])  # the family's working size
    m = common.load(a)
    if rec is not None:
        _same_model(m, rec, a)
    tree, broods, sources = _breed(a, tree, files, m)
    if rec is not None:
        _refuse_overwrite(a, out, rec, tree, broods)
    out = paths.output_folder("--out", a.out, create=True)
    extra = {n["id"]: {k: n[k] for k in ("file", "source") if isinstance(n.get(k), str)}
             for n in (rec or {}).get("nodes", [])}
    extra.update({i: {"source": f} for i, f in sources.items()})
    generations = list((rec or {}).get("generations", []))
    decoded = {}
    for parents, kids in broods:
        decoded = {i: x for i, x in decoded.items() if i in parents}  # the generations before: let them go
        for i in parents + kids:
            if i not in decoded:
                decoded[i] = m.decode(tree.nodes[i].latent[None])[0]
        for i in kids:
            recipe = common.recipe(m, **breeding_recipe(tree, i), method=describe(tree, i))
            name = child_file(tree.nodes[i].label)
            save_png(out / name, resize_image(decoded[i], settings), recipe_with(recipe, settings))
            extra[i] = {"file": name}
        g = tree.nodes[kids[0]].generation
        sheet = contact_sheet([[decoded[i] for i in parents], [decoded[i] for i in kids]],
                              [[tree.nodes[i].label.replace("·", "-") for i in parents],
                               [f"#{k + 1}" for k in range(len(kids))]], ["parents", f"gen {g}"])
        save_png(out / f"gen{g}.png", sheet)
        n = tree.nodes[kids[0]]
        generations.append({"generation": g, "parents": parents, "children": kids,
                            "seeds": [n.seed, n.seed + len(kids) - 1], "mutation": n.mutation, "sheet": f"gen{g}.png"})
        names = " × ".join(tree.nodes[i].label for i in parents)
        print(f"gen {g}: {len(kids)} children of {names} · mutation {n.mutation:.2f} σ · seeds "
              f"{n.seed}…{n.seed + len(kids) - 1} → {out / f'gen{g}.png'}")
    model_hash = m.weights_hash() if hasattr(m, "weights_hash") else None
    size = list(a.size) if isinstance(a.size, tuple) else a.size
    atomic_write_text(out / TREE_FILE, family_json(tree, extra, model=m.spec or m.name, model_hash=model_hash,
                                                   size=size, generations=generations))
    print(f"wrote {sum(len(k) for _, k in broods)} children and {out / TREE_FILE}; breed on with: "
          f"{_again(a, tree, broods[-1][1])}")
    return 0
