"""Training checkpoints: stamped files, a save stopped after any single file operation, resume.

A save is stopped by a hook in ``core.checkpoint`` that raises (in process) or calls
``os._exit`` (a real process death) right after a chosen file operation. After each, the
folder must load, and resume must continue from one consistent epoch (and end bit for bit
where an uninterrupted run ends) or refuse in one line naming the files that disagree.
"""
import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import latent_explorer as lx
from latent_explorer.core import checkpoint
from latent_explorer.core.errors import UserError
from latent_explorer.core.train import TrainCallbacks, TrainOptions, train

OPTS = dict(data="mnist-5k", latent_dim=2, limit=64, batch_size=32, seed=1, device="cpu")
STEPS = ["mkdir", "stage model.safetensors", "stage optimizer.safetensors", "stage config.json",
         "stage training.json", "commit", "install model.safetensors", "install optimizer.safetensors",
         "install config.json", "install training.json", "done"]
RESUME = re.compile(r"^resuming from epoch (\d+) of (\d+) \(checkpoint ([0-9a-f]{12})\)$")


class Killed(BaseException):
    """Stands in for the process dying: no `except Exception` cleanup runs."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A folder after one epoch, and the weights an uninterrupted two-epoch run ends with."""
    root = tmp_path_factory.mktemp("ckpt")
    train(TrainOptions(out=str(root / "one"), epochs=1, **OPTS))
    steps = []
    checkpoint._after_step = steps.append
    try:
        train(TrainOptions(out=str(root / "two"), epochs=2, **OPTS))
    finally:
        checkpoint._after_step = None
    return {"one": root / "one", "two": (root / "two" / "model.safetensors").read_bytes(), "steps": steps}


@pytest.fixture
def no_hook():
    yield
    checkpoint._after_step = None


def leftovers(folder):
    # (the writer's lock, core/folder_lock.py, is the folder's own and stays)
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".latent-explorer.lock")


def test_a_save_is_the_documented_sequence_of_file_operations(runs):
    assert runs["steps"] == STEPS * 2  # one save per epoch


def test_every_file_carries_the_same_stamp(runs):
    stamps = checkpoint.read_stamps(runs["one"])
    assert set(stamps) == {"model.safetensors", "optimizer.safetensors", "config.json", "training.json"}
    (stamp,) = set(stamps.values())
    assert stamp.epoch == 1 and re.fullmatch(r"[0-9a-f]{12}", stamp.token)
    assert json.loads((runs["one"] / "training.json").read_text())["checkpoint"] == {"epoch": 1, "token": stamp.token}
    assert leftovers(runs["one"]) == []


@pytest.mark.parametrize("step", STEPS)
def test_a_save_stopped_after_any_file_operation_loads_and_resumes_consistently(runs, tmp_path, step, no_hook):
    out = tmp_path / "m"
    shutil.copytree(runs["one"], out)
    seen = []

    def hook(name):
        seen.append(name)
        lx.load_model(str(out), device="cpu")  # loadable at this instant, mid-save
        if name == step:
            raise Killed(name)

    checkpoint._after_step = hook
    with pytest.raises(Killed):
        train(TrainOptions(out=str(out), epochs=2, resume=True, **OPTS))
    checkpoint._after_step = None
    assert seen == STEPS[:STEPS.index(step) + 1]
    assert lx.load_model(str(out), device="cpu").latent_shape == (2,)

    messages = []
    res = train(TrainOptions(out=str(out), epochs=2, resume=True, **OPTS), TrainCallbacks(on_message=messages.append))
    resumed = [RESUME.match(m) for m in messages if m.startswith("resuming")]
    assert len(resumed) == 1 and resumed[0], messages
    committed = STEPS.index(step) >= STEPS.index("commit")
    assert int(resumed[0][1]) == (2 if committed else 1) and resumed[0][2] == "2"
    assert res.epochs_done == 2
    assert (out / "model.safetensors").read_bytes() == runs["two"]  # as if never interrupted
    assert leftovers(out) == []
    assert len(set(checkpoint.read_stamps(out).values())) == 1


@pytest.mark.parametrize("step", ["stage training.json", "install model.safetensors"])
def test_a_first_save_stopped_midway_is_recovered_or_refused_clearly(tmp_path, step, no_hook):
    out = tmp_path / "m"

    def hook(name):
        if name == step:
            raise Killed(name)

    checkpoint._after_step = hook
    with pytest.raises(Killed):
        train(TrainOptions(out=str(out), epochs=1, **OPTS))
    checkpoint._after_step = None
    messages = []
    if step.startswith("stage"):  # not committed: there is no checkpoint, and resume says so
        with pytest.raises(UserError, match="nothing to resume"):
            train(TrainOptions(out=str(out), epochs=1, resume=True, **OPTS), TrainCallbacks(on_message=messages.append))
        assert any("removed an unfinished checkpoint save" in m for m in messages)
    else:  # committed: rolled forward at the next start
        train(TrainOptions(out=str(out), epochs=1, resume=True, **OPTS), TrainCallbacks(on_message=messages.append))
        assert any("finished an interrupted checkpoint save" in m for m in messages)
        assert any(RESUME.match(m) and RESUME.match(m)[1] == "1" for m in messages), messages
        assert lx.load_model(str(out), device="cpu").latent_shape == (2,)
    assert leftovers(out) == []


def test_a_real_process_death_mid_install_is_rolled_forward_by_the_cli(runs, tmp_path, capsys):
    """os._exit right after model.safetensors was replaced: the state the old one-file-at-a-time
    save could leave for good (epoch-2 weights beside epoch-1 bookkeeping)."""
    from latent_explorer.cli import main

    out = tmp_path / "m"
    shutil.copytree(runs["one"], out)
    args = ["train", "--data", "mnist-5k", "--out", str(out), "--latent-dim", "2", "--limit", "64",
            "--batch-size", "32", "--seed", "1", "--device", "cpu", "--epochs", "2", "--resume"]
    script = textwrap.dedent(f"""
        import os
        from latent_explorer.core import checkpoint
        checkpoint._after_step = lambda s: os._exit(9) if s == "install model.safetensors" else None
        from latent_explorer.cli import main
        main({args!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr
    stamps = checkpoint.read_stamps(out)
    assert stamps["model.safetensors"].epoch == 2 and stamps["training.json"].epoch == 1
    assert lx.load_model(str(out), device="cpu").latent_shape == (2,)

    assert main([*args[:-3], "--epochs", "3", "--resume"]) == 0
    err = capsys.readouterr().err
    assert "finished an interrupted checkpoint save" in err
    line = next(x for x in err.splitlines() if x.startswith("resuming"))
    assert RESUME.match(line).groups()[:2] == ("2", "3")
    assert {s.epoch for s in checkpoint.read_stamps(out).values()} == {3} and leftovers(out) == []


def test_resume_refuses_files_from_different_checkpoints_in_one_line(runs, tmp_path):
    out, later = tmp_path / "m", tmp_path / "later"
    shutil.copytree(runs["one"], out)
    shutil.copytree(runs["one"], later)
    train(TrainOptions(out=str(later), epochs=2, resume=True, **OPTS))
    shutil.copy(later / "model.safetensors", out / "model.safetensors")  # what the old save could leave
    with pytest.raises(UserError) as e:
        train(TrainOptions(out=str(out), epochs=3, resume=True, **OPTS))
    msg = str(e.value)
    assert "\n" not in msg and "disagree" in msg and "without --resume" in msg
    assert re.search(r"model\.safetensors: epoch 2 \(checkpoint [0-9a-f]{12}\)", msg), msg
    assert re.search(r"optimizer\.safetensors, config\.json, training\.json: epoch 1 ", msg), msg


def test_resume_refuses_a_missing_optimizer_file(runs, tmp_path):
    out = tmp_path / "m"
    shutil.copytree(runs["one"], out)
    (out / "optimizer.safetensors").unlink()
    with pytest.raises(UserError, match=r"optimizer\.safetensors: missing"):
        train(TrainOptions(out=str(out), epochs=2, resume=True, **OPTS))


def test_an_unstamped_checkpoint_of_an_older_version_resumes_and_says_so(runs, tmp_path):
    from safetensors.torch import load_file, save_file

    out = tmp_path / "m"
    shutil.copytree(runs["one"], out)
    save_file(load_file(str(out / "model.safetensors")), str(out / "model.safetensors"), metadata={"format": "pt"})
    save_file(load_file(str(out / "optimizer.safetensors")), str(out / "optimizer.safetensors"))
    for name, key in (("config.json", "_checkpoint"), ("training.json", "checkpoint")):
        d = json.loads((out / name).read_text())
        del d[key]
        (out / name).write_text(json.dumps(d))
    messages = []
    train(TrainOptions(out=str(out), epochs=2, resume=True, **OPTS), TrainCallbacks(on_message=messages.append))
    assert "resuming from epoch 1 of 2 (an older checkpoint without stamps: not cross-checked)" in messages
    assert (out / "model.safetensors").read_bytes() == runs["two"]


def test_leftovers_of_a_killed_save_are_cleaned_at_the_next_start(tmp_path):
    out = tmp_path / "m"
    stale = out / ".checkpoint-e000003-0123456789ab.partial"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half a file")
    (out / ".model.safetensors.k2j3h4.tmp").write_bytes(b"an old atomic_write temporary")
    messages = []
    train(TrainOptions(out=str(out), epochs=1, **OPTS), TrainCallbacks(on_message=messages.append))
    assert leftovers(out) == []
    assert any("removed an unfinished checkpoint save" in m for m in messages)
    assert any("removed a temporary file" in m for m in messages)


def test_a_failing_write_keeps_the_previous_checkpoint_and_no_staging_folder(runs, tmp_path, no_hook):
    out = tmp_path / "m"
    shutil.copytree(runs["one"], out)
    before = checkpoint.read_stamps(out)

    def disk_full(name):
        if name == "stage config.json":
            raise OSError(28, "No space left on device")

    checkpoint._after_step = disk_full
    with pytest.raises(OSError, match="No space"):
        train(TrainOptions(out=str(out), epochs=2, resume=True, **OPTS))
    assert checkpoint.read_stamps(out) == before and leftovers(out) == []


def test_the_token_depends_on_the_content_only():
    import torch

    a = {"w": torch.zeros(3)}
    assert checkpoint.content_token(1, a) == checkpoint.content_token(1, {"w": torch.zeros(3)})
    assert checkpoint.content_token(1, a) != checkpoint.content_token(2, a)
    assert checkpoint.content_token(1, a) != checkpoint.content_token(1, {"w": torch.ones(3)})
