"""Training that works on small folders: the defaults, the kept best epoch, the warnings, the names.

The defaults for 20, 300 and 5,000 images (batch never more than the images, augmentation on
for a small RGB folder, a time budget by default); a step budget and a time budget honoured;
the best epoch by held-out −ELBO is what the folder holds when the held-out loss rises, with
training.json recording the best and the last epoch; the flat-reconstruction and overfitting
warnings fire (engine and command line); the default name carries β and the latent size and
never lands on another run's folder. The acceptance figure (30 photos, 5 minutes) is
bench/small_folder_training.py's.
"""
import json

import numpy as np
import pytest
import torch

import latent_explorer as lx
from latent_explorer.core import checkpoint, train_watch
from latent_explorer.core.data import augment as aug
from latent_explorer.core.train import EpochResult, TrainCallbacks, TrainOptions, train
from latent_explorer.core.train_plan import (DEFAULT_MINUTES, default_name, free_folder, holds_run, make_plan)


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """20 small colourful images (procedural shapes on coloured grounds), a folder of them."""
    from PIL import Image

    from latent_explorer.core.data import shapes

    d = tmp_path_factory.mktemp("photos")
    imgs, _ = shapes.generate(20, seed=5)
    rng = np.random.default_rng(0)
    for i, im in enumerate(imgs):
        ground = (rng.uniform(0.2, 1.0, 3) * 255).astype(np.uint8)
        im = np.where(im.sum(-1, keepdims=True) > 0, im, ground)
        Image.fromarray(im).resize((32, 32)).save(d / f"{i:02d}.png")
    return d


# ------------------------------------------------------------------ the defaults
@pytest.mark.parametrize("n,batch,kind,every", [(20, 20, "photo", 50), (300, 64, "photo", 13), (5000, 64, "off", 1)])
def test_defaults_for_a_folder_of_n_images(n, batch, kind, every):
    plan = make_plan(TrainOptions(data="/some/folder"), n, folder=True, grey=False)
    assert plan.batch_size == batch <= n and plan.augment == kind
    assert plan.seconds == DEFAULT_MINUTES * 60 and plan.epochs is None and plan.steps is None
    assert plan.eval_every == every and plan.steps_per_epoch == max(1, n // batch)
    assert "about 5 minutes" in plan.describe() and f"batch {batch}" in plan.describe()


def test_the_batch_never_exceeds_the_images_and_grey_folders_get_digit_augmentation():
    plan = make_plan(TrainOptions(data="/f", batch_size=128), 27, folder=True, grey=True)
    assert plan.batch_size == 27 and plan.notes == ["batch size 128 is more than the 27 training images: using 27"]
    assert plan.augment == "affine"
    # bundled data: off unless asked; --augment (on) and older runs' True mean the digits' kind there
    assert make_plan(TrainOptions(data="mnist-5k"), 4000, folder=False, grey=True).augment == "off"
    assert aug.resolve(True, folder=False, n_train=4000, grey=True) == "affine"
    assert aug.resolve("on", folder=True, n_train=9000, grey=False) == "photo"
    assert aug.resolve("off", folder=True, n_train=20, grey=False) == "off"
    # an explicit length in epochs is evaluated every epoch; several lengths: the first reached
    plan = make_plan(TrainOptions(data="/f", epochs=3, minutes=1), 20, folder=True, grey=False)
    assert plan.eval_every == 1 and plan.length_words() == "3 epochs or about 1 minute, whichever comes first"
    assert plan.done(3, 0, 0) and plan.done(1, 0, 60) and not plan.done(2, 0, 59)


def test_photo_augmentation_keeps_shape_range_and_is_seeded():
    x = torch.rand(6, 3, 16, 16)
    a = aug.photo_batch(x, torch.Generator().manual_seed(1))
    b = aug.photo_batch(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    assert not torch.allclose(a, x)


# ------------------------------------------------------------------ budgets
def test_a_small_rgb_folder_trains_with_augmentation_for_exactly_the_steps_asked(photos, tmp_path, monkeypatch):
    calls = []
    real = aug.photo_batch
    monkeypatch.setattr(aug, "photo_batch", lambda x, g: calls.append(len(x)) or real(x, g))
    plans = []
    res = train(TrainOptions(data=str(photos), out=str(tmp_path / "m"), steps=7, image_size=32, latent_dim=4,
                             device="cpu"), TrainCallbacks(on_plan=plans.append))
    (plan,) = plans
    assert plan.batch_size == 18 and plan.augment == "photo"  # 20 images, every 10th held out
    assert res.steps_done == 7 and calls == [18] * 7
    state = json.loads((tmp_path / "m" / "training.json").read_text())
    assert state["options"]["batch_size"] == 18 and state["options"]["augment"] == "photo"
    assert state["steps"] == 7 and state["finished"] is True


@pytest.fixture
def step_clock(monkeypatch):
    """Training's clock, advanced ``clock.step`` seconds by each training step, ``clock.evaluation``
    by each evaluation and by nothing else, so a time budget is tested without the wall clock."""
    import types

    from latent_explorer.core import train as train_mod

    clock = types.SimpleNamespace(now=0.0, step=0.1, evaluation=0.0)
    monkeypatch.setattr(train_mod, "time", types.SimpleNamespace(perf_counter=lambda: clock.now,
                                                                 time=lambda: clock.now))
    real_apply, real_stats = aug.apply, train_watch.recon_stats

    def step(*a, **k):
        clock.now += clock.step
        return real_apply(*a, **k)

    def evaluation(*a, **k):
        clock.now += clock.evaluation
        return real_stats(*a, **k)

    monkeypatch.setattr(aug, "apply", step)
    monkeypatch.setattr(train_watch, "recon_stats", evaluation)
    return clock


def test_a_time_budget_is_honoured(photos, tmp_path, step_clock):
    res = train(TrainOptions(data=str(photos), out=str(tmp_path / "m"), minutes=0.04, image_size=32, latent_dim=4,
                             device="cpu"))
    # 2.4 s of 0.1 s steps: the step that reaches the budget is the last one
    assert not res.cancelled and res.history and res.steps_done == 24
    assert res.seconds == pytest.approx(2.4)
    assert json.loads((tmp_path / "m" / "training.json").read_text())["finished"] is True


def test_a_budget_used_up_by_the_last_evaluation_still_ends_finished(photos, tmp_path, step_clock):
    """The epoch's end finds time left, its evaluation spends it: that epoch was the last, and
    training.json says the run finished (CI once read ``finished: false`` here)."""
    step_clock.evaluation = 30.0  # an evaluation that outlasts the whole 6 s budget
    res = train(TrainOptions(data=str(photos), out=str(tmp_path / "m"), minutes=0.1, image_size=32, latent_dim=4,
                             device="cpu"))
    assert not res.cancelled and len(res.history) == 1 and res.epochs_done == res.plan.eval_every
    assert res.steps_done < 60  # it stopped at the first evaluation, well inside the budget's 60 steps
    assert json.loads((tmp_path / "m" / "training.json").read_text())["finished"] is True


def test_training_20_images_with_the_defaults_beats_the_mean_image(photos, tmp_path, step_clock):
    """A smoke test of the figure: a few seconds with the defaults learn more than the mean image.
    7.2 s of 20 ms steps (360 steps; this CPU does about 350 in 7.2 s), whatever the machine's load.
    The step clock fixes the steps, so it runs on two torch threads (``one_thread`` restores the count
    after): the same 357 steps and kept epoch, train MSE 0.14 of the mean image's and held-out
    0.0202 against 0.0571 with one thread or two, in two thirds of the time."""
    torch.set_num_threads(2)
    step_clock.step = 0.02
    res = train(TrainOptions(data=str(photos), out=str(tmp_path / "m"), minutes=0.12, image_size=32, device="cpu"))
    kept = next(h for h in res.history if h.epoch == res.best_epoch)
    assert kept.train_mse < 0.7 * kept.train_mean_mse
    assert kept.test_mse < kept.test_mean_mse


# ------------------------------------------------------------------ the best epoch is kept
RISING = [300.0, 250.0, 200.0, 195.0, 190.0, 192.0, 198.0, 205.0, 212.0, 220.0, 228.0, 236.0]


@pytest.fixture
def rising_loss(monkeypatch):
    """The held-out −ELBO falls for five epochs, then rises: a run that starts overfitting."""
    import latent_explorer.core.train as train_mod

    real, calls = train_mod.evaluate_loss, []

    def fake(vae, x, device, **kw):
        ev = real(vae, x, device, **kw)
        if kw:  # evaluate's own call (the command line's metrics.json), not training's
            return ev
        calls.append(1)
        return dict(ev, neg_elbo=RISING[min(len(calls), len(RISING)) - 1])

    monkeypatch.setattr(train_mod, "evaluate_loss", fake)


def test_the_best_epoch_is_kept_when_the_held_out_loss_rises(tmp_path, rising_loss):
    out = tmp_path / "m"
    weights, warned = {}, []

    def on_epoch(res, vae):
        weights[res.epoch] = {k: v.detach().clone() for k, v in vae.state_dict().items()}

    res = train(TrainOptions(data="mnist-5k", out=str(out), latent_dim=2, epochs=12, limit=64, batch_size=32,
                             device="cpu"), TrainCallbacks(on_epoch=on_epoch, on_warning=warned.append))
    assert res.epochs_done == 12 and res.best_epoch == 5
    state = json.loads((out / "training.json").read_text())
    assert (state["epoch"], state["best_epoch"], state["last_epoch"], state["finished"]) == (5, 5, 12, True)
    assert [h["test_neg_elbo"] for h in state["history"]] == RISING
    stamps = set(checkpoint.read_stamps(out).values())  # one consistent checkpoint: epoch 5's
    assert len(stamps) == 1 and next(iter(stamps)).epoch == 5
    from safetensors.torch import load_file

    saved = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(saved[k], weights[5][k].float()) for k in saved)
    assert lx.load_model(str(out), device="cpu").latent_shape == (2,)
    (w,) = [w for w in warned if w.startswith("Overfitting")]  # 24 steps leave it flat too: said as well
    assert w.startswith("Overfitting: the held-out −ELBO has risen for 5 evaluations (best 190.0 nats at epoch 5;")
    assert "The model folder keeps epoch 5" in w
    # resume continues from the kept epoch and says so
    said = []
    train(TrainOptions(data="mnist-5k", out=str(out), epochs=6, resume=True, device="cpu"),
          TrainCallbacks(on_message=said.append))
    assert said[0].startswith("resuming from epoch 5 of 6 (checkpoint ")
    assert said[0].endswith("; the best epoch, kept while training went on to epoch 12")


def test_the_command_line_warns_and_says_which_epoch_it_kept(tmp_path, rising_loss, capsys):
    from latent_explorer.cli import main

    code = main(["train", "--data", "mnist-5k", "--out", str(tmp_path / "m"), "--latent-dim", "2", "--epochs", "12",
                 "--limit", "64", "--batch-size", "32", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "warning: Overfitting: the held-out −ELBO has risen for 5 evaluations" in err
    assert "(keeping epoch 5, the best on held-out images)" in out
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["epochs"] == 5 and metrics["last_epoch"] == 12 and metrics["final_epoch"]["epoch"] == 5


# ------------------------------------------------------------------ warnings
def test_flat_reconstructions_are_warned_in_words(photos, tmp_path):
    warned = []
    train(TrainOptions(data=str(photos), out=str(tmp_path / "m"), steps=1, image_size=32, latent_dim=4,
                       device="cpu"), TrainCallbacks(on_warning=warned.append))
    (w,) = warned
    assert w.startswith("Reconstructions are still flat: they vary ") and "train longer" in w


def test_the_warning_thresholds():
    def res(**k):
        base = dict(epoch=1, epochs=1, train_loss=1, train_recon=1, train_kl=0, test_neg_elbo=None, test_recon=None,
                    test_kl=None, seconds=1, beta=1)
        return EpochResult(**{**base, **k})

    assert train_watch.flat_warning(res(spread=0.9, train_mse=0.01, train_mean_mse=0.05)) is None
    assert "vary 20% as much" in train_watch.flat_warning(res(spread=0.2, train_mse=0.01, train_mean_mse=0.05))
    assert "0.90× that of the mean image" in train_watch.flat_warning(res(spread=0.5, train_mse=0.045,
                                                                          train_mean_mse=0.05))
    # a small held-out set's noise (±0.7 % here) is not a rise; a rise of the 5-evaluation average is
    noisy = [res(epoch=e, test_neg_elbo=v) for e, v in
             enumerate([8000, 7440, 7410, 7445, 7430, 7395, 7440, 7420, 7445, 7412, 7436, 7440, 7425], 1)]
    assert train_watch.rising_warning(noisy, 27) is None
    rising = [res(epoch=e, test_neg_elbo=v) for e, v in
              enumerate([300, 250, 200, 199, 198, 200, 201, 203, 204, 206, 208, 209], 1)]
    w = train_watch.rising_warning(rising, 10)
    assert "risen for 7 evaluations (best 198.0 nats at epoch 5; the average of the last 5 is 3.2% above" in w
    assert train_watch.rising_warning(rising[:9], 10) is None  # the best is only 4 evaluations old


# ------------------------------------------------------------------ names
def test_the_default_name_carries_beta_and_the_latent_size_and_never_takes_another_runs_folder(tmp_path):
    assert default_name("/data/My Photos/", 1.0, 16) == "My-Photos-b1-z16"
    assert default_name("mnist-5k", 0.5, 2) == "mnist-5k-b0.5-z2"
    assert free_folder(tmp_path, "pics-b1-z16") == tmp_path / "pics-b1-z16"
    (tmp_path / "pics-b1-z16").mkdir()  # an empty folder holds no run: it is used
    assert not holds_run(tmp_path / "pics-b1-z16")
    (tmp_path / "pics-b1-z16" / "model.safetensors").write_bytes(b"x")
    (tmp_path / "pics-b1-z16-2").mkdir()
    (tmp_path / "pics-b1-z16-2" / "training.json").write_text("{}")
    assert free_folder(tmp_path, "pics-b1-z16") == tmp_path / "pics-b1-z16-3"
    assert free_folder(tmp_path, "pics-b1-z16", reuse=lambda p: p.name.endswith("-2")) == tmp_path / "pics-b1-z16-2"


def test_the_command_line_picks_a_free_name_and_refuses_to_replace_a_run(photos, tmp_path, monkeypatch, capsys):
    from latent_explorer.cli import main

    monkeypatch.chdir(tmp_path)
    base = ["train", "--data", str(photos), "--image-size", "32", "--latent-dim", "3", "--steps", "2",
            "--device", "cpu"]
    assert main(base) == 0 and main(base) == 0
    assert holds_run(tmp_path / f"{photos.name}-b1-z3") and holds_run(tmp_path / f"{photos.name}-b1-z3-2")
    capsys.readouterr()
    assert main([*base, "--out", f"{photos.name}-b1-z3"]) == 2
    assert "is there already; add --resume to continue it, --overwrite to replace it" in capsys.readouterr().err
    assert main([*base, "--out", f"{photos.name}-b1-z3", "--overwrite"]) == 0
