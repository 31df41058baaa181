"""Two writers, one folder (issue 22): breed, encode to a collection and train (the command and the app's
Train window, both through core.train) hold the folder's writer lock, so a second writer is refused in one
line (CLI exit 2) instead of both reporting success while one's work is lost."""
from __future__ import annotations

import multiprocessing as mp

import pytest
from PIL import Image

from latent_explorer.cli import main
from latent_explorer.core.errors import UserError
from latent_explorer.core.folder_lock import folder_lock


@pytest.fixture(scope="module")
def parents(tmp_path_factory):
    from latent_explorer.core.data.datasets import load_mnist_5k

    d = tmp_path_factory.mktemp("parents")
    te = load_mnist_5k("test")
    files = []
    for i in (0, 1):
        p = d / f"p{i}.png"
        Image.fromarray(te.images[i, ..., 0]).save(p)
        files.append(str(p))
    return files


def _hold(folder, ready, release):
    with folder_lock(folder):
        ready.set()
        release.wait(30)


@pytest.fixture
def held(tmp_path):
    """The folder ``tmp_path / "out"`` locked by another process (a second latent-explorer)."""
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(str(tmp_path / "out"), ready, release))
    p.start()
    assert ready.wait(30)
    yield tmp_path / "out"
    release.set()
    p.join(30)


def test_a_second_breed_into_the_same_folder_is_refused(parents, held, capsys):
    assert main(["breed", "--model", "digits", *parents, "--children", "2", "--out", str(held)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "another latent-explorer is writing" in err and str(held) in err
    assert not (held / "tree.json").exists()


def test_a_second_encode_into_the_same_collection_is_refused(parents, held, capsys):
    folder = str(__import__("pathlib").Path(parents[0]).parent)
    assert main(["encode", "--model", "digits", "--images", folder, "--out", str(held)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "another latent-explorer is writing" in err
    assert not (held / "manifest.json").exists()


def test_a_second_train_into_the_same_folder_is_refused(held):
    from latent_explorer.core.train import TrainOptions, train

    with pytest.raises(UserError, match="another latent-explorer is writing a model"):
        train(TrainOptions(data="mnist-5k", out=str(held), latent_dim=2, steps=1, limit=64, batch_size=32))
    assert not (held / "model.safetensors").exists()


def test_the_lock_is_free_again_after_a_run_and_within_one_process(parents, tmp_path, capsys):
    out = tmp_path / "fam"
    assert main(["breed", "--model", "digits", *parents, "--children", "2", "--out", str(out)]) == 0
    with folder_lock(out):  # released at the end of the run
        with pytest.raises(UserError, match="another latent-explorer"):
            with folder_lock(out):  # a second writer in the same process is refused too
                pass
    assert main(["breed", "--model", "digits", "--pick", "1,2", "--out", str(out)]) == 0
