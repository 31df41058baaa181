"""``latent-explorer breed``: children bred from image files, as the app breeds them.

The command's children are the app's: the same ``FamilyTree`` code, seeds and parents give the
same latents bit for bit; each child's PNG recipe replays its lineage to its latent and its
pixels; two runs (a family, then ``--pick`` to continue it) write exactly what one run of two
generations writes; a family continued with another model, or a damaged tree.json, is refused
in one line (exit 2).
"""
import json
import shlex

import numpy as np
import pytest
from PIL import Image

from latent_explorer.cli import main
from latent_explorer.core.export import read_png_recipe
from latent_explorer.core.latent.breeding import FamilyTree, describe, replay
from latent_explorer.core.latent.breeding_file import read_family


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    from latent_explorer.core.data.datasets import load_mnist_5k

    d = tmp_path_factory.mktemp("parents")
    te = load_mnist_5k("test")
    paths = []
    for label in (3, 7, 1):
        p = d / f"digit{label}.png"
        Image.fromarray(te.images[te.labels == label][0, ..., 0]).save(p)
        paths.append(str(p))
    return paths


@pytest.fixture(scope="module")
def digits():
    from latent_explorer.core.models.loading import load_model

    return load_model("digits", device="cpu")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _read(folder):
    return read_family((folder / "tree.json").read_text(encoding="utf-8"))


def test_breed_writes_the_children_a_contact_sheet_and_the_tree_as_the_app_breeds_them(capsys, tmp_path,
                                                                                      digit_files, digits):
    from latent_explorer.cli.common import encode_files

    out = tmp_path / "family"
    code, text, err = run(capsys, "breed", "--model", "digits", *digit_files, "--children", "5", "--mutation", "0.3",
                          "--seed", "41", "--out", out)
    assert code == 0, err
    assert "gen 1: 5 children of digit3.png × digit7.png × digit1.png" in text
    assert sorted(p.name for p in out.iterdir() if p.name != ".latent-explorer.lock") == [f"child-g1-{k}.png" for k in range(1, 6)] + ["gen1.png",
                                                                                                   "tree.json"]
    tree, rec = _read(out)
    assert rec["model"] == "digits" and rec["model_hash"] == digits.weights_hash()
    # the app's code on the same parents (each encoded alone), seed and mutation: the same children, bit for bit
    mean = [encode_files(digits, [f])[1][0] for f in digit_files]
    app = FamilyTree()
    app.set_parents([app.add_root(z, f) for z, f in zip(mean, digit_files)])
    kids = app.breed(5, 0.3, 41)
    assert tree.children == kids and [tree.nodes[i].seed for i in kids] == list(range(41, 46))
    for i in kids:
        np.testing.assert_array_equal(tree.nodes[i].latent, app.nodes[i].latent)
        assert tree.nodes[i].weights == app.nodes[i].weights
    sheet = np.asarray(Image.open(out / "gen1.png"))
    assert sheet.shape[1] > 5 * 28 * 2  # tiles scaled up to be seen, five children side by side


def test_a_childs_recipe_replays_to_its_latent_and_pixels(capsys, tmp_path, digit_files, digits):
    out = tmp_path / "family"
    code, _, err = run(capsys, "breed", "--model", "digits", *digit_files[:2], "--children", "4", "--generations",
                       "2", "--pick", "1,4", "--out", out)
    assert code == 0, err
    tree, _ = _read(out)
    child = tree.children[2]
    assert tree.nodes[child].generation == 2 and tree.nodes[child].label == "g2·3"
    recipe = read_png_recipe(out / "child-g2-3.png")
    assert recipe["kind"] == "breeding" and recipe["model"] == "digits"
    assert recipe["model_hash"] == digits.weights_hash() and recipe["method"] == describe(tree, child)
    z = replay(recipe["lineage"])
    np.testing.assert_array_equal(z, tree.nodes[child].latent)
    assert {s["id"] for s in recipe["lineage"]["steps"]} == {tree.nodes[child].parents[0],
                                                            tree.nodes[child].parents[1], child}
    pixels = np.asarray(Image.open(out / "child-g2-3.png"))
    np.testing.assert_array_equal(pixels, digits.decode(z[None])[0, ..., 0])


def test_continuing_a_family_equals_one_run_of_two_generations(capsys, tmp_path, digit_files):
    one, two = tmp_path / "one", tmp_path / "two"
    common = ["--model", "digits", "--children", "3", "--mutation", "0.5"]
    assert run(capsys, "breed", *common, *digit_files, "--generations", "2", "--pick", "3,2", "--out", one)[0] == 0
    assert run(capsys, "breed", *common, *digit_files, "--out", two)[0] == 0
    code, text, err = run(capsys, "breed", *common, "--pick", "3,2", "--out", two)
    assert code == 0, err
    assert "gen 2: 3 children of g1·3 × g1·2" in text and "seeds 3…5" in text
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    for p in one.iterdir():
        assert p.read_bytes() == (two / p.name).read_bytes(), p.name


def test_a_family_continued_with_another_model_or_a_damaged_tree_is_refused(capsys, tmp_path, digit_files):
    out = tmp_path / "family"
    assert run(capsys, "breed", "--model", "digits", *digit_files[:2], "--children", "2", "--out", out)[0] == 0
    code, _, err = run(capsys, "breed", "--model", "shapes", "--pick", "1", "--out", out)
    assert code == 2 and "shape (16,), shapes makes (10,)" in err and "--model digits" in err
    index = out / "tree.json"
    good = index.read_text()
    index.write_text(good.replace(json.loads(good)["model_hash"], "0" * 16))
    code, _, err = run(capsys, "breed", "--model", "digits", "--pick", "1", "--out", out)
    assert code == 2 and "other weights" in err
    index.write_text(good.replace('"seed": 1,', '"seed": 2,'))  # a child's seed edited by hand
    code, _, err = run(capsys, "breed", "--model", "digits", "--pick", "1", "--out", out)
    assert code == 2 and "its seed gives other weights" in err and len(err.strip().splitlines()) == 1
    index.write_text(good)
    code, _, err = run(capsys, "breed", "--model", "digits", *digit_files[:2], "--out", out)
    assert code == 2 and "already holds a family" in err
    assert run(capsys, "breed", "--model", "digits", "--pick", "2", "--out", out)[0] == 0


def test_the_contact_sheet_is_white_between_its_tiles_in_colour_and_in_grey():
    from latent_explorer.cli.breed_cmd import contact_sheet

    for c in (1, 3):
        tiles = [[np.full((64, 64, c), 30, np.uint8)] * 2, [np.full((64, 64, c), 90, np.uint8)] * 5]
        sheet = contact_sheet(tiles, [["a.png", "b.png"], [f"#{k}" for k in range(1, 6)]], ["parents", "gen 1"])
        assert sheet.ndim == 3 and sheet.shape[2] == c and sheet.shape[0] >= 2 * 64
        assert (sheet[0] == 255).all() and (sheet[-1] == 255).all()  # the gutters: white, never a tint
        assert (sheet == 90).any() and (sheet == 30).any()


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_damaged_or_hand_edited_tree_is_refused_in_one_line_and_nothing_is_written_over(capsys, tmp_path,
                                                                                          digit_files):
    out = tmp_path / "family"
    assert run(capsys, "breed", "--model", "digits", *digit_files[:2], "--children", "2", "--generations", "2",
               "--pick", "1,2", "--out", out)[0] == 0
    index, before = out / "tree.json", _files(out)
    good = json.loads(index.read_text())
    gen1 = good["generations"][0]["children"]
    damaged = [("model_hash", 5), ("model", ["digits"]), ("generations", 7), ("generations", "ab"),
               ("generations", [5]), ("generations", [dict(good["generations"][0], seeds="0")]), ("size", "64"),
               ("size", [64]), ("nodes", [5] + good["nodes"][1:]), ("nodes", [dict(good["nodes"][0], source=3)]
                                                                    + good["nodes"][1:]),
               ("children", [0, 1]),  # the roots: bred on they would be "gen 1" again
               ("children", gen1[:1]),  # half a brood
               ("roots", {**good["roots"], "0": [1e39] + good["roots"]["0"][1:]}),  # beyond float32
               ("roots", {**good["roots"], "0": [10 ** 400] + good["roots"]["0"][1:]})]
    for key, value in damaged:
        index.write_text(json.dumps({**good, key: value}))
        code, _, err = run(capsys, "breed", "--model", "digits", "--pick", "1", "--out", out)
        assert code == 2 and len(err.strip().splitlines()) == 1, (key, value, err)
        assert "is not a family tree this version can continue" in err, (key, err)
    # a whole earlier brood is a tree the app could write, but breeding on would number gen 2 again
    index.write_text(json.dumps({**good, "children": gen1}))
    code, _, err = run(capsys, "breed", "--model", "digits", "--pick", "1", "--out", out)
    assert code == 2 and "would write over child-g2-1.png" in err and len(err.strip().splitlines()) == 1
    index.write_text(before["tree.json"].decode())
    assert _files(out) == before


def test_the_working_size_is_kept_and_the_closing_hint_is_a_whole_command(capsys, tmp_path):
    from PIL import Image

    files = []
    for k, colour in enumerate(((200, 40, 40), (30, 90, 220))):
        files.append(tmp_path / f"p{k}.png")
        Image.new("RGB", (64, 64), colour).save(files[-1])
    out = tmp_path / "family"
    code, text, err = run(capsys, "breed", "--model", "photos-sd", "--size", "64", *files, "--children", "2",
                          "--out", out)
    assert code == 0, err
    assert _read(out)[1]["size"] == 64 and _read(out)[0].shape == (4, 16, 16)
    again = text.split("breed on with: ")[1].split(" (children")[0]
    assert again.startswith("latent-explorer breed --model photos-sd --size 64 ") and again.endswith(" --pick K,…")
    code, text, err = run(capsys, *shlex.split(again.replace("K,…", "1,2"))[1:])  # the hint, as printed
    assert code == 0 and "gen 2: 2 children of g1·1 × g1·2" in text, err
    code, text, err = run(capsys, "breed", "--model", "photos-sd", "--pick", "2,1", "--out", out)  # its size
    assert code == 0 and "gen 3:" in text, err
    code, _, err = run(capsys, "breed", "--model", "photos-sd", "--size", "128", "--pick", "1", "--out", out)
    assert code == 2 and "photos-sd at --size 128 makes (4, 32, 32)" in err
    assert "continue it with --model photos-sd --size 64" in err


def test_parents_are_encoded_one_at_a_time_and_old_generations_decodes_are_let_go(capsys, tmp_path, digit_files,
                                                                                  monkeypatch):
    import gc
    import weakref

    from latent_explorer.cli import common

    batches, decodes, alive = [], [], []
    load = common.load

    def watched(a):
        m = load(a)
        encode, decode = m.encode, m.decode

        def enc(x):
            batches.append(len(x))
            return encode(x)

        def dec(z):
            gc.collect()
            alive.append(sum(r() is not None for r in decodes))
            out = decode(z)
            decodes.append(weakref.ref(out))
            return out

        m.encode, m.decode = enc, dec
        return m

    monkeypatch.setattr(common, "load", watched)
    code, _, err = run(capsys, "breed", "--model", "digits", *digit_files, "--children", "3", "--generations", "6",
                       "--pick", "1,3", "--out", tmp_path / "family")
    assert code == 0, err
    assert batches == [1, 1, 1]
    assert len(decodes) == 3 + 6 * 3 and max(alive) <= 3 + 3  # at most one brood and its parents at a time
    tree, _ = _read(tmp_path / "family")
    for i, f in enumerate(digit_files):  # each root is that image encoded alone
        np.testing.assert_array_equal(tree.nodes[i].latent, common.encode_files(load(_Args()), [f])[1][0])


class _Args:
    model, device, precision, allow_pickle, size, config = "digits", "cpu", "fp32", False, None, None
