"""Every CLI command on the bundled models, and every user mistake exits 2 with one line."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from latent_explorer.cli import main
from latent_explorer.core.export import read_png_recipe


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    from latent_explorer.core.data.datasets import load_mnist_5k

    d = tmp_path_factory.mktemp("digits")
    te = load_mnist_5k("test")
    paths = []
    for label in (3, 8, 1):
        p = d / f"digit{label}.png"
        Image.fromarray(te.images[te.labels == label][0, ..., 0]).save(p)
        paths.append(str(p))
    return paths


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_option_of_every_command_says_what_it_does():
    import argparse

    from latent_explorer.cli.options import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    silent = [f"{name} {a.option_strings[0] if a.option_strings else a.dest}"
              for name, p in sub.choices.items() for a in p._actions if not a.help]
    assert len(sub.choices) >= 14 and silent == []


def test_models_lists_the_bundled_models(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    for name in ("digits", "digits-2d", "shapes"):
        assert name in out


def test_info_json(capsys):
    code, out, _ = run(capsys, "info", "--model", "digits", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["latent_shape"] == [16] and info["image_size"] == [28, 28]


def test_sample_writes_a_grid_with_recipe(capsys, tmp_path):
    code, _, _ = run(capsys, "sample", "--model", "digits", "-n", "9", "--seed", "4", "--out", str(tmp_path / "s.png"))
    assert code == 0
    img = np.asarray(Image.open(tmp_path / "s.png"))
    assert img.shape[0] > 28 * 3 and img.std() > 10
    r = read_png_recipe(tmp_path / "s.png")
    assert r["seed"] == 4 and r["model"] == "digits" and len(r["model_hash"]) == 16


def test_sample_traverse_and_reconstruct_scale_their_tiles(capsys, tmp_path, digit_files):
    code, _, _ = run(capsys, "sample", "--model", "digits", "-n", "4", "--scale", "3", "--out", str(tmp_path / "s.png"))
    assert code == 0
    assert np.asarray(Image.open(tmp_path / "s.png")).shape[:2] == (2 * 86 + 2, 2 * 86 + 2)  # 84 px tiles
    assert read_png_recipe(tmp_path / "s.png")["export"] == {"scale": 3, "size": None, "filter": "nearest"}
    code, _, _ = run(capsys, "traverse", "--model", "digits-2d", "--steps", "3", "--scale", "2", "--filter", "lanczos",
                     "--out", str(tmp_path / "t.png"))
    assert code == 0 and np.asarray(Image.open(tmp_path / "t.png")).shape[0] == 2 * 58 + 2
    code, _, _ = run(capsys, "reconstruct", "--model", "digits", digit_files[0], "--scale", "2",
                     "--out", str(tmp_path / "r"))
    assert code == 0
    assert np.asarray(Image.open(tmp_path / "r" / "digit3_recon.png")).shape[:2] == (58 + 2, 2 * 58 + 2)


def test_morph_through_three_images_and_back(capsys, tmp_path, digit_files):
    out = tmp_path / "m.mp4"
    code, text, _ = run(capsys, "morph", "--model", "digits", *digit_files, "--close", "--frames", "7", "--fps", "10",
                        "--out-size", "128", "--quality", "6", "--out", str(out))
    assert code == 0 and "7 frames of 128×128 at 10 fps" in text
    r = json.loads((tmp_path / "m.mp4.json").read_text())
    assert r["closed"] and len(r["keyframes"]) == 4 and r["export"]["quality"] == 6


def test_reconstruct(capsys, tmp_path, digit_files):
    code, _, _ = run(capsys, "reconstruct", "--model", "digits", *digit_files[:2], "--out", str(tmp_path / "r"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["digit3_recon.png", "digit8_recon.png"]


def test_traverse_has_one_row_per_dimension(capsys, tmp_path):
    code, _, _ = run(capsys, "traverse", "--model", "digits-2d", "--steps", "5", "--out", str(tmp_path / "t.png"))
    assert code == 0
    img = np.asarray(Image.open(tmp_path / "t.png"))
    assert img.shape[0] == 2 * 30 + 2  # two rows (one per dimension) of 28 px tiles and 2 px gutters
    assert img.shape[1] > 5 * 30 + 2   # five steps, with the rows' labels (z index, KL) on the left


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_morph(capsys, tmp_path, digit_files, suffix):
    out = tmp_path / f"m{suffix}"
    code, _, _ = run(capsys, "morph", "--model", "digits", *digit_files, "--frames", "7", "--out", str(out))
    assert code == 0 and out.stat().st_size > 0


def test_encode_folder(capsys, tmp_path, digit_files):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in digit_files:
        (folder / p.split("/")[-1]).write_bytes(open(p, "rb").read())
    (folder / "broken.png").write_bytes(b"not an image")
    code, out, err = run(capsys, "encode", "--model", "digits", "--images", str(folder), "--out", str(tmp_path / "z.npz"))
    assert code == 0
    assert "broken.png" in err and "not an image" in err
    with np.load(tmp_path / "z.npz", allow_pickle=False) as z:
        assert z["mean"].shape == (3, 16) and z["logvar"].shape == (3, 16)
        assert sorted(z["paths"].tolist()) == ["digit1.png", "digit3.png", "digit8.png"]


def test_encode_with_no_images_exits_2(capsys, tmp_path):
    (tmp_path / "e").mkdir()
    code, _, err = run(capsys, "encode", "--model", "digits", "--images", str(tmp_path / "e"), "--out", str(tmp_path / "z.npz"))
    assert code == 2 and "no image could be encoded" in err


def test_evaluate_json(capsys):
    code, out, _ = run(capsys, "evaluate", "--model", "digits-2d", "--json")
    assert code == 0
    r = json.loads(out.strip().splitlines()[-1])
    for k in ("neg_elbo_nats", "recon_nats", "kl_nats", "kl_per_dim", "active_dims"):
        assert k in r
    assert len(r["kl_per_dim"]) == 2
    assert r["neg_elbo_nats"] == pytest.approx(r["recon_nats"] + r["kl_nats"], rel=1e-6)


def test_explain_prints_the_elbo_split(capsys, digit_files):
    code, out, _ = run(capsys, "explain", "--model", "digits-2d", digit_files[0], "--json")
    assert code == 0
    r = json.loads(out)
    assert len(r["mean"]) == len(r["logvar"]) == len(r["kl_per_dim"]) == 2 and "grid" not in r
    assert r["neg_elbo_nats"] == pytest.approx(r["recon_nats"] + r["kl_nats"], rel=1e-9)
    code, out, _ = run(capsys, "explain", "--model", "digits-2d", digit_files[0])
    assert code == 0 and "reconstruction" in out and "KL" in out


def test_train_cli_one_epoch(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--data", "mnist-5k", "--out", str(tmp_path / "m"), "--latent-dim", "2",
                       "--epochs", "1", "--limit", "64", "--batch-size", "32")
    assert code == 0 and "saved" in out
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["command"].startswith("latent-explorer train --data mnist-5k")
    assert metrics["epochs"] == 1 and metrics["training_seconds"] > 0
    assert metrics["evaluate"]["neg_elbo_nats"] > 0 and len(metrics["evaluate"]["kl_per_dim"]) == 2


@pytest.mark.parametrize("argv,needle", [
    (["info", "--model", "nosuchmodel"], "unknown model 'nosuchmodel'"),
    (["sample", "--model", "digits", "-n", "zero", "--out", "x.png"], "'zero' is not a whole number"),
    (["sample", "--model", "digits", "--out", "x.jpg"], "expected a .png file"),
    (["sample", "--model", "digits", "--out", "/no/such/dir/x.png"], "does not exist"),
    (["reconstruct", "--model", "digits", "/no/such.png", "--out", "o"], "/no/such.png"),
    (["morph", "--model", "digits", "a.png", "--out", "x.gif"], "at least two images"),
    (["morph", "--model", "digits", "a.png", "a.png", "--fps", "61", "--out", "x.gif"], "'61' is out of range"),
    (["morph", "--model", "digits", "a.png", "b.png", "--scale", "2", "--out-size", "64", "--out", "x.gif"],
     "not allowed with argument"),
    (["morph", "--model", "digits", "a.png", "b.png", "--loop", "bounce", "--out", "x.gif"],
     "invalid choice: 'bounce'"),
    (["sample", "--model", "digits", "--scale", "17", "--out", "x.png"], "'17' is out of range: use 1 to 16"),
    (["traverse", "--model", "digits", "--filter", "cubic", "--out", "x.png"], "invalid choice: 'cubic'"),
    (["reconstruct", "--model", "digits", "a.png", "--scale", "0", "--out", "o"], "'0' is out of range"),
    (["train", "--data", "/no/such/folder", "--out", "o"], "unknown dataset '/no/such/folder'"),
    (["train", "--data", "mnist-5k", "--out", "o", "--beta", "-1"], "must be a finite number"),
    (["evaluate", "--model", "digits", "--data", "nothing-here"], "unknown dataset 'nothing-here'"),
    (["explain", "--model", "digits", "/no/such.png"], "/no/such.png: no such file"),
    (["explain", "--model", "digits", "x.png", "--samples", "0"], "'0' is out of range: use 1 to 256"),
])
def test_user_mistakes_exit_2_with_one_line(argv, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = subprocess.run([sys.executable, "-m", "latent_explorer.cli", *argv], capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr
    assert "Traceback" not in p.stderr
    assert len([ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith("usage:")]) == 1, p.stderr


def test_not_an_image_file_is_a_user_error(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_text("hello")
    code, _, err = run(capsys, "reconstruct", "--model", "digits", str(bad), str(bad), "--out", str(tmp_path / "o"))
    assert code == 2 and "not an image" in err
