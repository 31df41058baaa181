"""Training checkpoints whose files agree with each other at every instant.

A checkpoint is four files in the model folder: ``model.safetensors``, ``optimizer.safetensors``,
``config.json`` and ``training.json``. Each carries the same stamp, the finished epoch and a
token (a hash of the weights, the optimizer moments and the epoch): the safetensors metadata
key ``checkpoint`` (the only key: safetensors writes several in a random order, and a run's
files should be byte-for-byte reproducible), ``"_checkpoint"`` in config.json (keys starting
with ``_`` are not ConvVAE arguments) and ``"checkpoint"`` in training.json, each holding
``{"epoch": N, "token": T}``.

``save`` is a small journal with roll-forward:

1. ``recover`` whatever an earlier, killed save left behind;
2. stage: write the four files into ``.checkpoint-e<epoch>-<token>.partial/`` inside the folder,
   fsync each file and the staging folder;
3. commit: rename the staging folder to ``….ready`` (one atomic rename) and fsync the folder;
4. install: ``os.replace`` each file into the folder (training.json last), fsync it;
5. remove the empty ``….ready`` folder.

Recovery rule (run on every save and at every training start): a ``.partial`` folder is an
uncommitted save and is deleted (the folder still holds the previous checkpoint, whole); a
``.ready`` folder is a committed save and is rolled forward (its remaining files are moved in).
So the checkpoint, read as "the folder's files, overlaid by a ``.ready`` folder's", is always one
epoch's set. config.json + model.safetensors are present and loadable at every instant once a
run's first save has finished (every epoch of a run has the same architecture); during that first
install, and while a fresh run replaces another run's model, the folder may need ``recover``.

Resume (``resume_point``) requires all four stamps to agree and says
``resuming from epoch E of N (checkpoint T)``; files that disagree are refused in one line.

``update_record`` rewrites training.json alone (the run's history and last epoch) while keeping
its stamp: training keeps the best epoch's checkpoint and records the epochs after it there.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .errors import UserError

#: install order: training.json, the record of the finished epoch, goes in last
FILES = ("model.safetensors", "optimizer.safetensors", "config.json", "training.json")
_PREFIX = ".checkpoint-"
_PARTIAL, _READY = ".partial", ".ready"
#: files whose atomic_write temporaries (``.<name>.<random>.tmp``) a killed process may leave
_TMP_OWNERS = FILES + ("metrics.json",)

#: tests only: called with the name of each file operation just done ("stage model.safetensors",
#: "commit", "install config.json", "done", ...), so a test can stop the save at any step
_after_step: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _after_step is not None:
        _after_step(name)


@dataclass(frozen=True)
class Stamp:
    epoch: int
    token: str

    def __str__(self) -> str:
        return f"epoch {self.epoch} (checkpoint {self.token})"


# ------------------------------------------------------------------ tensors
def optimizer_tensors(opt: torch.optim.Adam, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Adam's moments and step count per parameter, keyed by the parameter's name."""
    names = {id(p): k for k, p in model.named_parameters()}
    tensors = {}
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            if not st:
                continue
            k = names[id(p)]
            tensors[f"{k}.exp_avg"] = st["exp_avg"].detach().cpu().contiguous()
            tensors[f"{k}.exp_avg_sq"] = st["exp_avg_sq"].detach().cpu().contiguous()
            tensors[f"{k}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1).cpu()
    return tensors


def load_optimizer(opt: torch.optim.Adam, model: torch.nn.Module, path: Path, device: str) -> None:
    """Put the moments saved by ``optimizer_tensors`` back into ``opt`` (nothing if no file)."""
    from safetensors.torch import load_file

    if not Path(path).exists():
        return
    t = load_file(str(path))
    for k, p in model.named_parameters():
        if f"{k}.exp_avg" in t:
            opt.state[p] = {
                "step": torch.tensor(float(t[f"{k}.step"][0])),
                "exp_avg": t[f"{k}.exp_avg"].to(device),
                "exp_avg_sq": t[f"{k}.exp_avg_sq"].to(device),
            }


def content_token(epoch: int, *tensor_sets: dict[str, torch.Tensor]) -> str:
    """12 hex digits identifying the checkpoint's content: the same run state gives the same token."""
    h = hashlib.sha256(f"epoch {epoch}".encode())
    for tensors in tensor_sets:
        for k in sorted(tensors):
            h.update(k.encode())
            h.update(tensors[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


# ------------------------------------------------------------------ file system
def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _install(ready: Path, out: Path) -> None:
    for name in FILES:
        if (ready / name).exists():
            os.replace(ready / name, out / name)
            _step(f"install {name}")
    _fsync_dir(out)
    shutil.rmtree(ready)  # empty now (or holding stray files nobody reads)
    _step("done")


def recover(out: str | Path) -> list[str]:
    """Finish a committed save, discard an uncommitted one and delete stray temporaries.

    Returns one line per thing done (nothing when the folder was clean).
    """
    out = Path(out)
    if not out.is_dir():
        return []
    done = []
    for d in sorted(out.glob(_PREFIX + "*" + _PARTIAL)):
        shutil.rmtree(d, ignore_errors=True)
        done.append(f"removed an unfinished checkpoint save ({d.name})")
    for d in sorted(out.glob(_PREFIX + "*" + _READY)):  # at most one, unless edited by hand
        _install(d, out)
        done.append(f"finished an interrupted checkpoint save ({d.name})")
    for name in _TMP_OWNERS:
        for tmp in out.glob(f".{name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
                done.append(f"removed a temporary file left by a killed write ({tmp.name})")
    return done


def save(out: str | Path, epoch: int, model: dict[str, torch.Tensor], config: dict,
         optimizer: dict[str, torch.Tensor], training: dict) -> Stamp:
    """Replace the checkpoint in ``out`` by this one, atomically as a whole (see the module doc)."""
    from safetensors.torch import save as st_save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recover(out)
    stamp = Stamp(epoch, content_token(epoch, model, optimizer))
    mark = {"epoch": epoch, "token": stamp.token}
    meta = {"checkpoint": json.dumps(mark)}
    blobs = {
        "model.safetensors": st_save(model, metadata=meta),
        "optimizer.safetensors": st_save(optimizer, metadata=meta),
        "config.json": (json.dumps({**config, "_checkpoint": mark}, indent=2) + "\n").encode(),
        "training.json": (json.dumps({**training, "epoch": epoch, "checkpoint": mark}, indent=2) + "\n").encode(),
    }
    base = f"{_PREFIX}e{epoch:06d}-{stamp.token}"
    staging, ready = out / (base + _PARTIAL), out / (base + _READY)
    staging.mkdir()
    _step("mkdir")
    try:
        for name in FILES:
            _write(staging / name, blobs[name])
            _step(f"stage {name}")
        _fsync_dir(staging)
    except Exception:  # disk full, permissions: the previous checkpoint is untouched
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, ready)  # the commit point
    _fsync_dir(out)
    _step("commit")
    _install(ready, out)
    return stamp


# ------------------------------------------------------------------ reading stamps back
def _stamp_of(path: Path) -> Stamp | str | None:
    """The file's stamp; None when it has none (an older version's file); a word when unreadable."""
    if not path.exists():
        return "missing"
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            mark = json.loads(meta["checkpoint"]) if "checkpoint" in meta else None
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
            mark = data.get("_checkpoint" if path.name == "config.json" else "checkpoint")
        if mark is None:
            return None
        if path.name == "training.json" and int(data.get("epoch", -1)) != int(mark["epoch"]):
            return "inconsistent"
        return Stamp(int(mark["epoch"]), str(mark["token"]))
    except Exception:  # truncated, not JSON, not safetensors, a malformed stamp
        return "unreadable"


def read_stamps(out: str | Path) -> dict[str, Stamp | str | None]:
    out = Path(out)
    return {name: _stamp_of(out / name) for name in FILES}


def resume_point(out: str | Path) -> tuple[dict, Stamp | None]:
    """training.json and the stamp every checkpoint file agrees on.

    The stamp is None for a checkpoint written before stamps existed (no file has one; the
    optimizer file may be absent). Raises a one-line UserError naming the files that disagree.
    """
    out = Path(out)
    stamps = read_stamps(out)
    values = set(stamps.values())
    legacy = values <= {None, "missing"} and stamps["training.json"] is None and \
        stamps["model.safetensors"] is None and stamps["config.json"] is None
    if not legacy and (len(values) != 1 or not isinstance(next(iter(values)), Stamp)):
        groups: dict[str, list[str]] = {}
        for name, s in stamps.items():
            groups.setdefault(str(s) if isinstance(s, Stamp) else (s or "not stamped"), []).append(name)
        detail = "; ".join(f"{', '.join(names)}: {what}" for what, names in groups.items())
        raise UserError(f"{out}: cannot resume: the checkpoint files disagree ({detail}); "
                        f"start afresh without --resume")
    state = json.loads((out / "training.json").read_text(encoding="utf-8"))
    return state, (None if legacy else next(iter(values)))


def resume_line(stamp: Stamp | None, epoch: int, epochs: int | None, goal: str | None = None) -> str:
    """What a resumed run says it continues from, in one line (``goal``: a length not in epochs)."""
    where = f"epoch {epoch} of {epochs}" if goal is None else f"epoch {epoch}"
    what = "an older checkpoint without stamps: not cross-checked" if stamp is None else f"checkpoint {stamp.token}"
    return f"resuming from {where} ({what})" + (f" for {goal}" if goal is not None else "")


def update_record(out: str | Path, training: dict) -> None:
    """Rewrite training.json's record (history, last epoch, …) about the checkpoint already there.

    The epoch and stamp stay those of the installed checkpoint, so the four files still agree;
    the file is replaced in one atomic rename (a killed write leaves a temporary ``recover``
    deletes). Used after an epoch that did not beat the kept one.
    """
    from .paths import atomic_write_text

    path = Path(out) / "training.json"
    current = json.loads(path.read_text(encoding="utf-8"))
    data = {**training, "epoch": current["epoch"]}
    if "checkpoint" in current:
        data["checkpoint"] = current["checkpoint"]
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
