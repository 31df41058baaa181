"""What a training run does with the defaults: its batch size, augmentation, length and evaluations.

The defaults suit folders of 20 to 5,000 images as much as the bundled datasets:

* **length**: given as epochs, optimisation steps or minutes; none given means about
  ``DEFAULT_MINUTES`` minutes (the dialog's and the command line's default). Several given: the
  run stops at whichever it reaches first. ``--steps`` counts from the run's start, resumes
  included; ``--minutes`` counts this session's time from the start, loading included, and ends
  a little early (``BUDGET_RESERVE``) with time kept for the last evaluation.
* **batch size**: ``min(DEFAULT_MAX_BATCH, n)``; one asked for that is larger than the training set
  becomes the training set's size (said in one line), so an epoch is never an empty step.
* **augmentation**: ``data.augment.resolve`` (small RGB folders: flips, crops, colour jitter).
* **evaluations**: with the length in epochs, after every epoch (as before); otherwise every
  ``eval_every`` epochs, about ``EVAL_STEPS`` steps apart (a 28-image folder has one step per
  epoch, and evaluating and saving after each would cost more than the step), and at the end.

``default_name`` and ``free_folder`` give the model folder's name: ``<data>-b<β>-z<latent size>``,
with ``-2``, ``-3``, … when a folder of that name already holds another run.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .data import augment as aug

DEFAULT_MINUTES = 5.0
MAX_MINUTES = 10_080.0        # a week
MAX_STEPS = 100_000_000
DEFAULT_MAX_BATCH = 64
#: a time budget ends this much early (at most 5 s) and keeps the last evaluation's time for the
#: final one, so "about 5 minutes" is at most 5 minutes, loading included
BUDGET_RESERVE = 0.01
EVAL_STEPS = 50
BUNDLED = ("mnist-5k", "shapes")


@dataclass
class Plan:
    n_train: int
    batch_size: int
    augment: str                 # off | affine | photo
    epochs: int | None
    steps: int | None
    seconds: float | None
    eval_every: int              # evaluate (and maybe save) after every this many epochs
    notes: list[str] = field(default_factory=list)
    t0: float = 0.0              # time.perf_counter() when the run started: a time budget counts from it

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.n_train // self.batch_size)

    def length_words(self) -> str:
        parts = []
        if self.epochs is not None:
            parts.append(f"{self.epochs:,} epoch{'s' * (self.epochs != 1)}")
        if self.steps is not None:
            parts.append(f"{self.steps:,} step{'s' * (self.steps != 1)}")
        if self.seconds is not None:
            parts.append(f"about {minutes_words(self.seconds / 60)}")
        return parts[0] if len(parts) == 1 else " or ".join(parts) + ", whichever comes first"

    def describe(self) -> str:
        """One line: the batch, the augmentation and the length."""
        per = self.steps_per_epoch
        return (f"{self.n_train:,} training images · batch {self.batch_size} ({per} step{'s' * (per != 1)} per "
                f"epoch) · {aug.DESCRIPTIONS[self.augment]} · {self.length_words()}")

    def done(self, epoch: int, step: int, elapsed: float) -> bool:
        """Whether the run has reached its length after ``epoch`` epochs and ``step`` steps."""
        return ((self.epochs is not None and epoch >= self.epochs) or
                (self.steps is not None and step >= self.steps) or
                (self.seconds is not None and elapsed >= self.seconds - min(5.0, BUDGET_RESERVE * self.seconds)))

    def progress(self, epoch: float, step: int, elapsed: float) -> float:
        """How far the run is, 0 to 1: the nearest of its limits."""
        fracs = []
        if self.epochs is not None:
            fracs.append(epoch / max(1, self.epochs))
        if self.steps is not None:
            fracs.append(step / max(1, self.steps))
        if self.seconds is not None:
            fracs.append(elapsed / max(1e-9, self.seconds))
        return min(1.0, max(fracs, default=0.0))


def minutes_words(m: float) -> str:
    if m < 1:
        return f"{m * 60:.0f} seconds"
    return f"{m:g} minute{'s' * (m != 1)}" if m < 120 else f"{m / 60:.3g} hours"


def make_plan(opts, n_train: int, *, folder: bool, grey: bool) -> Plan:
    """The plan for ``TrainOptions`` on ``n_train`` training images (see the module doc)."""
    notes = []
    n = max(1, n_train)
    batch = opts.batch_size if opts.batch_size else min(DEFAULT_MAX_BATCH, n)
    if batch > n:
        notes.append(f"batch size {batch} is more than the {n:,} training images: using {n}")
        batch = n
    epochs, steps, minutes = opts.epochs, opts.steps, opts.minutes
    if epochs is None and steps is None and minutes is None:
        minutes = DEFAULT_MINUTES
    seconds = None if minutes is None else float(minutes) * 60
    per = max(1, n // batch)
    if opts.eval_every:
        every = int(opts.eval_every)
    elif epochs is not None:
        every = 1
    else:
        every = max(1, math.ceil(EVAL_STEPS / per))
    kind = aug.resolve(opts.augment, folder=opts.data not in BUNDLED, n_train=n_train, grey=grey)
    return Plan(n_train, batch, kind, epochs, steps, seconds, every, notes)


# ------------------------------------------------------------------ names
def default_name(data: str, beta: float, latent_dim: int) -> str:
    """``<data>-b<β>-z<latent size>``: the folder's (or bundled dataset's) name, e.g. ``photos-b1-z16``."""
    stem = data if data in BUNDLED else Path(str(data).rstrip("/\\")).name
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem or "images").strip("-.") or "images"
    return f"{stem}-b{float(beta):g}-z{int(latent_dim)}"


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` holds a model or a run's record (a checkpoint, even half-written)."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    names = ("model.safetensors", "training.json", "config.json")
    return any((folder / n).exists() for n in names) or any(folder.glob(".checkpoint-*"))


def free_folder(root: Path, name: str, reuse: Callable[[Path], bool] | None = None) -> Path:
    """``root/name``, or ``name-2``, ``name-3``, … : the first that holds no run (or one ``reuse`` accepts)."""
    root = Path(root)
    k = 1
    while True:
        cand = root / (name if k == 1 else f"{name}-{k}")
        if not holds_run(cand) or (reuse is not None and reuse(cand)):
            return cand
        k += 1
