"""The training engine: a short run, resume, cancel, and a kill that leaves a loadable model."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import latent_explorer as lx
from latent_explorer.core.train import TrainCallbacks, TrainOptions, train


def test_one_epoch_on_a_tiny_subset(tmp_path):
    epochs = []
    res = train(TrainOptions(data="mnist-5k", out=str(tmp_path / "m"), latent_dim=3, epochs=1, limit=128,
                             batch_size=32, device="cpu"),
                TrainCallbacks(on_epoch=lambda r, vae: epochs.append(r)))
    assert res.epochs_done == 1 and len(epochs) == 1
    assert np.isfinite(epochs[0].train_loss) and epochs[0].test_neg_elbo is not None
    m = lx.load_model(str(tmp_path / "m"), device="cpu")
    assert m.latent_shape == (3,)
    state = json.loads((tmp_path / "m" / "training.json").read_text())
    assert state["epoch"] == 1


def test_training_is_reproducible_on_cpu(tmp_path):
    outs = []
    for k in range(2):
        train(TrainOptions(data="mnist-5k", out=str(tmp_path / f"m{k}"), latent_dim=2, epochs=1, limit=64,
                           batch_size=32, seed=7, device="cpu"))
        outs.append((tmp_path / f"m{k}" / "model.safetensors").read_bytes())
    assert outs[0] == outs[1]


def test_resume_continues_where_it_stopped(tmp_path):
    out = str(tmp_path / "m")
    opts = dict(data="mnist-5k", out=out, latent_dim=2, limit=64, batch_size=32, seed=1, device="cpu")
    train(TrainOptions(epochs=2, **opts))
    straight = (tmp_path / "m" / "model.safetensors").read_bytes()
    out2 = str(tmp_path / "m2")
    train(TrainOptions(**{**opts, "out": out2}, epochs=1))
    token = json.loads((tmp_path / "m2" / "training.json").read_text())["checkpoint"]["token"]
    said = []
    res = train(TrainOptions(**{**opts, "out": out2}, epochs=2, resume=True), TrainCallbacks(on_message=said.append))
    assert res.epochs_done == 2
    assert said == [f"resuming from epoch 1 of 2 (checkpoint {token})"]
    assert (tmp_path / "m2" / "model.safetensors").read_bytes() == straight


def test_resume_without_a_run_is_a_user_error(tmp_path):
    from latent_explorer.core.errors import UserError

    with pytest.raises(UserError, match="nothing to resume"):
        train(TrainOptions(data="mnist-5k", out=str(tmp_path / "none"), resume=True, device="cpu"))


def test_cancel_stops_between_batches(tmp_path):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 2

    res = train(TrainOptions(data="mnist-5k", out=str(tmp_path / "m"), latent_dim=2, epochs=3, limit=256,
                             batch_size=32, device="cpu"), TrainCallbacks(should_stop=stop))
    assert res.cancelled and res.epochs_done == 0


def test_kill_during_training_leaves_a_loadable_model(tmp_path):
    out = tmp_path / "m"
    proc = subprocess.Popen([sys.executable, "-m", "latent_explorer.cli", "train", "--data", "mnist-5k",
                             "--out", str(out), "--latent-dim", "2", "--epochs", "200", "--limit", "256",
                             "--batch-size", "32", "--device", "cpu"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out / "training.json").exists():
            time.sleep(0.05)
        # kill at an arbitrary moment, most likely mid-write of some epoch's checkpoint
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    m = lx.load_model(str(out), device="cpu")
    assert m.decode(np.zeros((1, 2), np.float32)).shape == (1, 28, 28, 1)
    # and it resumes from one consistent epoch (a committed save is rolled forward first)
    from latent_explorer.core import checkpoint

    checkpoint.recover(out)
    (stamp,) = set(checkpoint.read_stamps(out).values())
    said = []
    res = train(TrainOptions(data="mnist-5k", out=str(out), epochs=stamp.epoch + 1, resume=True, device="cpu"),
                TrainCallbacks(on_message=said.append))
    assert said == [f"resuming from epoch {stamp.epoch} of {stamp.epoch + 1} (checkpoint {stamp.token})"]
    assert res.epochs_done == stamp.epoch + 1


def test_train_on_a_folder_of_images_reports_bad_files(tmp_path):
    from PIL import Image

    from latent_explorer.core.data import shapes

    d = tmp_path / "pics"
    d.mkdir()
    imgs, _ = shapes.generate(24, seed=3)
    for i, im in enumerate(imgs):
        Image.fromarray(im).save(d / f"{i:02d}.png")
    (d / "bad.jpg").write_bytes(b"\xff\xd8 garbage")
    messages = []
    res = train(TrainOptions(data=str(d), out=str(tmp_path / "m"), latent_dim=3, epochs=1, image_size=32,
                             batch_size=8, device="cpu"), TrainCallbacks(on_message=messages.append))
    assert res.epochs_done == 1 and res.history[0].test_neg_elbo is not None  # every 10th image held out
    assert any("bad.jpg" in m for m in messages)
    m = lx.load_model(str(tmp_path / "m"), device="cpu")
    assert m.image_size == (32, 32) and m.channels == 3


def test_resume_records_the_whole_recipe(tmp_path):
    out = str(tmp_path / "m")
    opts = dict(data="mnist-5k", out=out, latent_dim=2, limit=32, batch_size=32, device="cpu")
    train(TrainOptions(epochs=1, command="latent-explorer train A", **opts))
    train(TrainOptions(epochs=2, resume=True, command="latent-explorer train B --resume", **opts))
    state = json.loads((tmp_path / "m" / "training.json").read_text())
    assert state["options"]["command"] == "latent-explorer train A && latent-explorer train B --resume"
    assert state["epoch"] == 2


def test_a_run_that_blows_up_keeps_the_last_good_epoch(tmp_path, monkeypatch):
    import latent_explorer.core.train as train_mod
    from latent_explorer.core.errors import UserError

    real, calls = train_mod.evaluate_loss, []

    def exploding(vae, x, device):  # epoch 2's test loss as a too-high learning rate leaves it
        ev = real(vae, x, device)
        calls.append(1)
        return dict(ev, neg_elbo=ev["neg_elbo"] * 50) if len(calls) == 2 else ev

    monkeypatch.setattr(train_mod, "evaluate_loss", exploding)
    out = tmp_path / "m"
    with pytest.raises(UserError, match=r"diverged at epoch 2 .*epoch 1 is kept.*smaller --lr"):
        train(TrainOptions(data="mnist-5k", out=str(out), latent_dim=2, epochs=3, limit=64, batch_size=32,
                           device="cpu"))
    state = json.loads((out / "training.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert lx.load_model(str(out), device="cpu").latent_shape == (2,)  # still the good model


def test_a_non_finite_loss_saves_nothing(tmp_path):
    from latent_explorer.core.errors import UserError

    out = tmp_path / "m"
    with pytest.raises(UserError, match="diverged at epoch 1 .*nothing was saved"):
        train(TrainOptions(data="mnist-5k", out=str(out), latent_dim=2, epochs=1, limit=64, batch_size=32,
                           lr=1e30, device="cpu"))
    assert not (out / "model.safetensors").exists()
