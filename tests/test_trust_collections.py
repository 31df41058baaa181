"""Damage that reads as data (issue 22): a collection's shards carry a SHA-256 in the manifest that opening
and resuming verify, so bytes flipped inside a shard (its Parquet ending intact) are one line naming the
shard, and a re-run names it and encodes it again; a kill at any instant of the first shard (its temporary
file half written, or the shard written and no manifest yet) leaves a folder the re-run resumes."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pyarrow", reason="collections need pyarrow")

from latent_explorer.cli import main  # noqa: E402
from latent_explorer.core.errors import UserError  # noqa: E402

N = 10


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from latent_explorer.core.data.datasets import load_mnist_5k

    root = tmp_path_factory.mktemp("imgs")
    te = load_mnist_5k("test")
    for i in range(N):
        Image.fromarray(te.images[i * 3, ..., 0]).save(root / f"d{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def encoded(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("c") / "coll"
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(out), "--shard-size", "16"]) == 0
    return out


def flip_inside(path, offset=None):
    """Flip bytes in the middle of a shard's latents, leaving the Parquet header and footer whole."""
    data = bytearray(path.read_bytes())
    at = offset if offset is not None else 200
    for i in range(at, at + 4):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_the_manifest_keeps_each_shards_checksum(encoded):
    from latent_explorer.core.data.collection import file_digest

    man = json.loads((encoded / "manifest.json").read_text())
    assert man["version"] == 2
    assert man["shards"][0]["sha256"] == file_digest(encoded / "shard-00000.parquet")


def test_flipped_bytes_inside_a_shard_are_never_shown(encoded, folder, tmp_path, capsys):
    from latent_explorer.core.data.collection import Collection

    out = tmp_path / "c"
    shutil.copytree(encoded, out)
    _, good, _, _ = Collection(out).latents()
    flip_inside(out / "shard-00000.parquet")
    with pytest.raises(UserError, match="shard-00000.parquet: damaged") as e:
        Collection(out).latents()
    assert "\n" not in str(e.value)
    assert Collection(out).images()[1].max() == 0  # a thumbnail of a damaged shard: a blank tile
    # a re-run names the shard and encodes it again; then it reads back as it was
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(out), "--shard-size", "16"]) == 0
    err = capsys.readouterr().err
    assert "shard-00000.parquet: damaged" in err and "encoding it again" in err
    _, again, _, _ = Collection(out).latents()
    np.testing.assert_array_equal(again, good)


def test_a_kill_while_the_first_shards_temporary_is_written_resumes(encoded, folder, tmp_path, capsys):
    from latent_explorer.core.data.collection import Collection

    out = tmp_path / "c"
    out.mkdir()
    (out / ".shard-00000.parquet.k3x9_q.tmp").write_bytes(b"PAR1 half a shard")  # kill -9 mid-write
    (out / ".latent-explorer.lock").write_bytes(b"")                              # the dead writer's lock
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(out), "--shard-size", "16"]) == 0
    assert not list(out.glob(".shard-*.tmp"))  # the collection's own leftovers are cleaned
    assert len(Collection(out)) == N


def test_a_kill_after_the_shard_and_before_the_manifest_resumes(encoded, folder, tmp_path):
    from latent_explorer.core.data.collection import Collection

    out = tmp_path / "c"
    out.mkdir()
    shutil.copy(encoded / "shard-00000.parquet", out)  # written, but no manifest recorded its checksum
    (out / ".manifest.json.a1b2.tmp").write_text("{")
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(out), "--shard-size", "16"]) == 0
    assert len(Collection(out)) == N and not list(out.glob(".manifest.json.*"))


def test_a_folder_with_other_files_is_still_refused(folder, tmp_path, capsys):
    out = tmp_path / "c"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(out)]) == 2
    assert "holds other files and no collection" in capsys.readouterr().err


def test_a_shard_without_its_checksum_is_refused_on_open(encoded, tmp_path):
    from latent_explorer.core.data.collection import Collection

    out = tmp_path / "c"
    shutil.copytree(encoded, out)
    man = json.loads((out / "manifest.json").read_text())
    del man["shards"][0]["sha256"]
    (out / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(UserError, match="damaged"):
        Collection(out).latents()
