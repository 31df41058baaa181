"""Collections: encode a folder into Parquet shards, resume, read back lazily, map in the app, and the
Ray engine's shards equal the local engine's (on a local Ray with two CPUs)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pyarrow", reason="collections need pyarrow")

from gui_fixtures import close_windows, qt_leak_guard  # noqa: E402,F401
from latent_explorer.cli import main  # noqa: E402
from latent_explorer.core.data.collection import Collection, encode_collection  # noqa: E402

N_IMAGES = 21


@pytest.fixture(scope="module")
def digits():
    from latent_explorer.core.models.loading import load_model

    return load_model("digits", device="cpu")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from latent_explorer.core.data.datasets import load_dataset

    root = tmp_path_factory.mktemp("imgs")
    (root / "sub").mkdir()
    ds = load_dataset("mnist-5k", "all")
    for i in range(N_IMAGES):
        Image.fromarray(ds.images[i * 7][..., 0]).save(root / ("sub" if i % 4 == 0 else ".") / f"d{i:02d}.png")
    (root / "broken.png").write_bytes(b"not an image")
    return root


def _encode_directly(model, folder, rel):
    imgs = np.stack([np.asarray(Image.open(folder / p))[..., None] for p in rel])
    return model.encode(imgs)


def test_encode_streams_shards_and_reads_back(digits, folder, tmp_path):
    out = tmp_path / "coll"
    seen = []
    man = encode_collection(digits, folder, out, shard_size=8, progress=lambda d, t, r: seen.append((d, t, r)))
    assert man["complete"] and man["images"] == N_IMAGES and len(man["shards"]) == 3  # 22 files, 8 a shard
    assert seen[-1] == (3, 3, 0)
    c = Collection(out)
    paths, mean, logvar, kl = c.latents()
    paths = paths.to_pylist()
    assert len(c) == N_IMAGES and mean.shape == (N_IMAGES, 16) and logvar.shape == (N_IMAGES, 16)
    from latent_explorer.core.metrics import kl_per_dim_from_posteriors

    np.testing.assert_allclose(kl, kl_per_dim_from_posteriors(mean, logvar), rtol=1e-5)  # summed shard by shard
    assert "sub/d00.png" in paths and "broken.png" not in paths
    mu, lv = _encode_directly(digits, folder, paths)
    np.testing.assert_allclose(mean, mu, atol=1e-5)
    np.testing.assert_allclose(logvar, lv, atol=1e-5)
    images = c.images()
    assert images[5].shape == (28, 28, 1) and images[[0, 20]].shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(images[5][..., 0], np.asarray(Image.open(folder / paths[5])))
    assert [os.path.basename(p) for p, _ in c.skipped] == ["broken.png"]


def test_a_rerun_keeps_finished_shards_and_redoes_a_missing_one(digits, folder, tmp_path):
    out = tmp_path / "coll"
    encode_collection(digits, folder, out, shard_size=8)
    kept = (out / "shard-00000.parquet").stat().st_mtime_ns
    (out / "shard-00001.parquet").unlink()                       # killed before this shard was written
    (out / ".shard-00001.parquet.x.tmp").write_bytes(b"half")     # and a temporary left behind
    seen = []
    man = encode_collection(digits, folder, out, shard_size=8, progress=lambda d, t, r: seen.append(r))
    assert seen[-1] == 2 and man["images"] == N_IMAGES
    assert (out / "shard-00000.parquet").stat().st_mtime_ns == kept
    from latent_explorer.core.errors import UserError
    from latent_explorer.core.models.loading import load_model

    with pytest.raises(UserError, match="another model"):
        encode_collection(load_model("digits-2d", device="cpu"), folder, out, shard_size=8)


def test_a_rerun_redoes_a_shard_whose_files_changed_and_refuses_another_folder(digits, folder, tmp_path):
    import shutil

    src = tmp_path / "src"
    shutil.copytree(folder, src)
    out = tmp_path / "coll"
    encode_collection(digits, src, out, shard_size=8)
    before = Collection(out).latents()[1].copy()
    first = sorted(p.relative_to(src).as_posix() for p in src.rglob("d*.png"))[0]
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(src / first)   # one image changed in place
    os.utime(src / first, ns=(1, 1))                                      # (its time too, whatever the clock)
    seen = []
    encode_collection(digits, src, out, shard_size=8, progress=lambda d, t, r: seen.append(r))
    assert seen[-1] == 2  # the other two shards were kept; the changed file's shard was encoded again
    paths, after, _, _ = Collection(out).latents()
    k = paths.to_pylist().index(first)
    assert not np.allclose(after[k], before[k]) and np.allclose(np.delete(after, k, 0), np.delete(before, k, 0))
    other = tmp_path / "other"
    shutil.copytree(src, other)  # the same file names in another folder: never mixed into this collection
    from latent_explorer.core.errors import UserError

    with pytest.raises(UserError, match="holds the images of"):
        encode_collection(digits, other, out, shard_size=8)


def test_damaged_collections_and_partial_ones_are_said_in_one_line(digits, folder, tmp_path, capsys):
    from latent_explorer.app.jobs.collection_map import map_collection
    from latent_explorer.core.errors import UserError

    out = tmp_path / "coll"
    encode_collection(digits, folder, out, shard_size=8)
    good = json.loads((out / "manifest.json").read_text())
    for change in ({"image_size": None}, {"rows": "many"}, {"shards": [7]}, {"latent_shape": "x"}):
        broken = dict(good, **{k: v for k, v in change.items() if k != "rows"})
        if "rows" in change:
            broken["shards"] = [dict(good["shards"][0], rows="many")]
        (out / "manifest.json").write_text(json.dumps(broken))
        with pytest.raises(UserError, match="damaged manifest"):
            Collection(out)
        assert main(["gui", "--collection", str(out)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    (out / "manifest.json").write_text(json.dumps(good))
    (out / "shard-00001.parquet").write_bytes(b"garbage")
    with pytest.raises(UserError, match="damaged"):
        Collection(out).latents()
    images = Collection(out).images()
    assert images[10].max() == 0  # a thumbnail from a damaged shard is a blank tile, never a crash

    class Ctx:
        model, cancelled = digits, False
        checkpoint = staticmethod(lambda: None)
        progress = staticmethod(lambda *a: None)

    (out / "shard-00001.parquet").unlink()
    partial = dict(good, complete=False, shards=good["shards"][:1])
    (out / "manifest.json").write_text(json.dumps(partial))
    d = map_collection(Ctx(), out)
    assert len(d.mean) == good["shards"][0]["rows"] and "1 of 3 shards encoded: run encode again" in d.name


def test_npz_output_refuses_collection_options(capsys, folder, tmp_path):
    for extra in (["--engine", "ray"], ["--shard-size", "16"], ["--address", "h:1"]):
        assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(tmp_path / "z.npz"),
                     *extra]) == 2
        assert "apply to a collection" in capsys.readouterr().err


def test_cli_encode_to_a_collection_and_bad_collections(capsys, folder, tmp_path):
    out = tmp_path / "c"
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(out), "--shard-size", "16"]) == 0
    err = capsys.readouterr().err
    assert "broken.png: not an image" in err
    assert json.loads((out / "manifest.json").read_text())["images"] == N_IMAGES
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(out), "--address", "h:1"]) == 2
    assert "use it with --engine ray" in capsys.readouterr().err
    assert main(["encode", "--model", "digits", "--images", str(folder), "--out", str(folder / "sub")]) == 2
    assert "holds other files and no collection" in capsys.readouterr().err
    assert main(["gui", "--collection", str(folder)]) == 2
    assert "not a collection" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{nope")
    assert main(["gui", "--collection", str(tmp_path / "bad")]) == 2
    assert "damaged manifest" in capsys.readouterr().err


def test_the_app_maps_a_collection_without_encoding_and_hovers_lazily(qtbot, qt_leak_guard, digits, folder,
                                                                      tmp_path, monkeypatch):
    from latent_explorer.gui.app import launch
    from latent_explorer.gui.main_window import LaunchOptions

    out = tmp_path / "coll"
    encode_collection(digits, folder, out, shard_size=8)
    import latent_explorer.app.jobs.mapping as mapping

    monkeypatch.setattr(mapping, "read_images", lambda *a, **k: pytest.fail("a collection is not read as images"))
    _, win = launch(LaunchOptions(model="digits", device="cpu", demo=False, images=str(out)))
    try:
        qtbot.waitUntil(lambda: win.maps.data is not None, timeout=60000)
        d = win.maps.data
        assert len(d.mean) == N_IMAGES and d.name == "coll" and len(d.skipped) == 1
        assert win.maps.label(0).endswith(".png")
        assert d.images[3].shape == (28, 28, 1)
        win.maps.select(3)  # its reconstruction error is computed when selected
        qtbot.waitUntil(lambda: np.isfinite(d.recon_error[3]), timeout=20000)
    finally:
        close_windows([win])


@pytest.fixture(scope="module")  # (Ray's processes stop after this file, not at the end of the suite)
def local_ray():
    ray = pytest.importorskip("ray", reason="the Ray engine needs the optional extra 'cluster' (ray[data])")
    from latent_explorer.core.data.collection_ray import start_local_ray

    if not ray.is_initialized():
        start_local_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def test_ray_engine_writes_the_local_engines_shards(local_ray, digits, folder, tmp_path):
    from latent_explorer.core.data.collection_ray import encode_collection_ray

    encode_collection(digits, folder, tmp_path / "local", shard_size=8)
    man = encode_collection_ray(dict(spec="digits", device="cpu"), folder, tmp_path / "ray", shard_size=8)
    assert man["complete"] and man["images"] == N_IMAGES
    a, b = Collection(tmp_path / "local"), Collection(tmp_path / "ray")
    pa_, ma, la, _ = a.latents()
    pb, mb, lb, _ = b.latents()
    assert pa_.to_pylist() == pb.to_pylist()
    np.testing.assert_allclose(ma, mb, atol=1e-5)
    np.testing.assert_allclose(la, lb, atol=1e-5)
    assert [s["skipped"] for s in a.manifest["shards"]] == [s["skipped"] for s in b.manifest["shards"]]
    np.testing.assert_array_equal(a.images()[7], b.images()[7])
    # an address where no cluster answers: one line at once (Ray itself would retry for minutes)
    from latent_explorer.core.data.collection_ray import check_address
    from latent_explorer.core.errors import UserError

    with pytest.raises(UserError, match="no Ray cluster answers"):
        check_address("127.0.0.1:1")
    # a second run keeps every shard
    seen = []
    encode_collection_ray(dict(spec="digits", device="cpu"), folder, tmp_path / "ray", shard_size=8,
                          progress=lambda d, t, r: seen.append(r))
    assert seen == []  # nothing left to do


def test_a_large_models_collection_shows_and_scores_the_original_file(qtbot, qt_leak_guard, tmp_path):
    """photos-sd works at 128 px and a collection keeps 64 px thumbnails: the selected image's
    reconstruction is shown beside, and scored against, its own file, not the thumbnail scaled up."""
    from latent_explorer.core.data import photos
    from latent_explorer.core.data.images import load_files
    from latent_explorer.core.models.loading import load_model
    from latent_explorer.gui.app import launch
    from latent_explorer.gui.main_window import LaunchOptions

    src = tmp_path / "crops"
    src.mkdir()
    for k, im in enumerate(photos.crops("test", 4, 128, seed=5, augment=False)):
        Image.fromarray(im).save(src / f"c{k}.png")
    model = load_model("photos-sd", device="cpu")
    out = tmp_path / "coll"
    encode_collection(model, src, out, shard_size=16)
    _, win = launch(LaunchOptions(model="photos-sd", device="cpu", demo=False, images=str(out), autosave=False))
    try:
        qtbot.waitUntil(lambda: win.maps.data is not None and win.views.built, timeout=60000)
        d = win.maps.data
        win.maps.select(2)
        qtbot.waitUntil(lambda: np.isfinite(d.recon_error[2]), timeout=60000)
        own = load_files([d.paths[2]], (128, 128), 3).images[0]
        shown = win.views.recon.original.shown
        np.testing.assert_array_equal(shown, own)                      # the file itself
        assert not np.array_equal(own, d.images[2])                     # (the thumbnail scaled up differs)
        rec = win.worker._model.decode(d.mean[2][None])[0]
        want = float((((rec.astype(np.float32) - own.astype(np.float32)) / 255.0) ** 2).mean())
        assert d.recon_error[2] == pytest.approx(want, rel=1e-4)
    finally:
        close_windows([win])
