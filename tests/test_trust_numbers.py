"""Numbers that overflow later (issue 22): every latent-like array read from a file is checked as the float32
it becomes and within a latent's range, so 1e300, 4e38 (inf once float32) and 3e38 (inf once walked) are one
line naming the file, never a grid of garbage. Readers: direction files (CLI and the session's directions),
session arrays (bookmarks, history, …), family trees (tree.json and replayed lineages), a collection's
Parquet latents and log-variances."""
from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

from latent_explorer.cli import main
from latent_explorer.core.errors import UserError

HUGE = [1e300, 4e38, 3e38, -2e5]   # beyond float64→float32, beyond float32's max, near it, merely absurd


def _direction(value, n=16) -> dict:
    return {"kind": "direction", "name": "d", "method": "mean", "latent_shape": [n],
            "vector": [value] + [0.1] * (n - 1), "recipe": {}}


@pytest.mark.parametrize("value", HUGE)
def test_a_direction_file_with_a_number_beyond_float32_or_a_latent_is_refused(value):
    from latent_explorer.core.latent.attributes import Direction

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "overflow encountered in cast" on the way
        with pytest.raises(ValueError, match="direction's vector") as e:
            Direction.from_json(json.dumps(_direction(value)))
    assert "\n" not in str(e.value)
    ok = Direction.from_json(json.dumps(_direction(2.5)))
    assert ok.vector.dtype == np.float32 and np.isfinite(ok.vector).all()


def test_traverse_along_a_4e38_direction_exits_2_and_writes_nothing(tmp_path, capsys):
    f = tmp_path / "d.json"
    f.write_text(json.dumps(_direction(4e38)))
    out = tmp_path / "walk.png"
    assert main(["traverse", "--model", "digits", "--direction", str(f), "--steps", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(f) in err and "Traceback" not in err
    assert not out.exists()


def _session_bytes(arrays: dict, meta_extra: dict | None = None) -> bytes:
    from latent_explorer.core.session import FORMAT

    meta = {"format": FORMAT, "version": 1, "bookmarks": [{"name": "b"}], **(meta_extra or {})}
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("session.json", json.dumps(meta))
        z.writestr("arrays.npz", npz.getvalue())
    return out.getvalue()


@pytest.mark.parametrize("dtype, value", [(np.float64, 1e300), (np.float64, 4e38), (np.float32, 3e38),
                                          (np.float32, 5e5)])
def test_a_session_bookmark_beyond_a_latent_is_refused_in_one_line(dtype, value):
    from latent_explorer.core.session import Session

    z = np.zeros(16, dtype)
    z[3] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserError, match="bookmark_0") as e:
            Session.from_bytes(_session_bytes({"bookmark_0": z}), "s.lexplore")
    assert "s.lexplore" in str(e.value) and "\n" not in str(e.value)
    good = Session.from_bytes(_session_bytes({"bookmark_0": np.full(16, 2.0, dtype)}), "s.lexplore")
    assert good.bookmarks[0].latent.dtype == np.float32


def test_a_session_direction_of_3e38_is_refused():
    from latent_explorer.core.session import Session

    v = np.zeros(16, np.float32)
    v[0] = 3e38
    data = _session_bytes({"bookmark_0": np.zeros(16, np.float32), "direction_0": v}, {"directions": ["0"]})
    with pytest.raises(UserError, match="direction_0"):
        Session.from_bytes(data, "s.lexplore")


def test_session_directions_read_through_the_same_check():
    from latent_explorer.app.session_io import session_directions
    from latent_explorer.core.session import Session

    s = Session(directions={"0": np.full(16, 1e30, np.float64)},
                extra={"attribute_directions": [{"key": "0", "name": "big"}]})
    dirs, notes = session_directions(s, (16,))
    assert dirs == [] and "left out" in notes[0]


@pytest.mark.parametrize("value", [4e38, 3e38])
def test_a_family_tree_root_beyond_a_latent_is_refused(value):
    from latent_explorer.core.latent.breeding import FamilyTree, replay
    from latent_explorer.core.latent.breeding_file import family_json, read_family

    tree = FamilyTree()
    a = tree.add_root(np.zeros(4, np.float32), "a")
    b = tree.add_root(np.ones(4, np.float32), "b")
    tree.set_parents([a, b])
    tree.breed(2, 0.1, 0)
    d = json.loads(family_json(tree, {}))
    d["roots"][str(a)][1] = value
    with pytest.raises(ValueError, match=f"root {a}"):
        read_family(json.dumps(d))
    lineage = {"shape": [4], "roots": {"0": {"latent": [value, 0, 0, 0]}}, "steps": [], "node": 0}
    if value > np.finfo(np.float32).max:  # a recipe's lineage replays any float32 bit for bit, never inf
        with pytest.raises(ValueError, match="root 0"):
            replay(lineage)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    from latent_explorer.core.data.collection import encode_collection
    from latent_explorer.core.data.datasets import load_mnist_5k
    from latent_explorer.core.models.loading import load_model

    pytest.importorskip("pyarrow")
    root = tmp_path_factory.mktemp("imgs")
    te = load_mnist_5k("test")
    for i in range(6):
        Image.fromarray(te.images[i, ..., 0]).save(root / f"d{i}.png")
    out = tmp_path_factory.mktemp("c") / "coll"
    encode_collection(load_model("digits", device="cpu"), root, out, shard_size=16)
    return out


def rewrite_shard(out, column: str, value: float, row: int = 2) -> None:
    """Change one value of a shard's column and record the shard's new checksum (as if it had been
    written so): only the number check can catch it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from latent_explorer.core.data.collection import file_digest

    path = out / "shard-00000.parquet"
    t = pq.read_table(path)
    a = t.column(column).combine_chunks()
    d = a.type.list_size
    flat = a.flatten().to_numpy().copy()
    flat[row * d] = value
    t = t.set_column(t.column_names.index(column), column,
                     pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), d))
    pq.write_table(t, path)
    man = json.loads((out / "manifest.json").read_text())
    man["shards"][0]["sha256"] = file_digest(path)
    (out / "manifest.json").write_text(json.dumps(man))


@pytest.mark.parametrize("column, value", [("mean", np.nan), ("mean", 3e38), ("logvar", np.inf),
                                           ("logvar", 1e4)])
def test_parquet_latents_read_back_are_checked(collection, tmp_path, column, value):
    import shutil

    from latent_explorer.core.data.collection import Collection

    out = tmp_path / "c"
    shutil.copytree(collection, out)
    Collection(out).latents()  # whole: fine
    rewrite_shard(out, column, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserError, match=f"shard-00000.parquet: column '{column}'") as e:
            Collection(out).latents()
    assert "\n" not in str(e.value)
