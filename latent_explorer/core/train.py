"""The training engine behind ``latent-explorer train`` and the app's training dialog.

``train(options, callbacks)`` runs Adam on a ConvVAE for the run's length (epochs, steps or
minutes; by default about five minutes, see ``train_plan``), with a batch size and augmentation
suited to the data, and evaluates the held-out images every so often (``train_plan``). The model
folder always holds one consistent checkpoint, the **best** one so far by held-out −ELBO: an
evaluation that beats it replaces the whole checkpoint atomically (``core.checkpoint``: four
files stamped with the epoch and a token, swapped in by a roll-forward journal); one that does
not only rewrites training.json's record (history, last epoch) beside the same stamp. So
training.json says ``epoch`` (the kept, best one), ``best_epoch``, ``last_epoch`` and whether the
run ``finished``. ``resume=True`` checks that the stamps agree, says in one line what it continues
from and continues from the kept epoch, optimizer moments included. ``train_watch`` warns when the
reconstructions are still flat and when the held-out loss keeps rising (overfitting). CPU runs
of a length in epochs or steps are reproducible for a given seed.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import checkpoint, train_watch
from .data import augment as aug
from .data.datasets import Dataset, load_dataset
from .device import resolve_device
from .errors import UserError
from .models.convvae import ConvVAE, ConvVAEConfig
from .models.convvae_model import CLASS_NAME, build_convvae
from .train_plan import BUNDLED, Plan, make_plan
from .train_record import record as _record
from .train_record import write_metrics

__all__ = ["EpochResult", "TrainCallbacks", "TrainOptions", "TrainResult", "augment_batch", "default_architecture",
           "evaluate_loss", "load_training_data", "train", "write_metrics"]

log = logging.getLogger(__name__)
augment_batch = aug.affine_batch  # the name this module gave the digits' augmentation before

#: held-out sets smaller than this are evaluated several times over (fresh z draws), less noisy
EVAL_REPEAT_TO = 64


@dataclass
class TrainOptions:
    data: str = "mnist-5k"
    out: str = "model"
    latent_dim: int = 16
    beta: float = 1.0
    tc_beta: float | None = None
    epochs: int | None = None    # the length: epochs, steps and/or minutes (the first reached ends it);
    steps: int | None = None     # none of them: about train_plan.DEFAULT_MINUTES minutes
    minutes: float | None = None
    image_size: int | None = None
    batch_size: int | None = None  # None: min(64, training images); never more than the training images
    lr: float = 1e-3
    seed: int = 0
    hidden_channels: list[int] | None = None
    fc_dim: int = 256
    decoder: str = "deconv"      # or "broadcast" (spatial broadcast decoder)
    augment: str | bool = "auto"  # auto, on, off, affine (digits), photo (see data.augment)
    kl_warmup_epochs: int = 0    # β ramps linearly from 0 over these epochs
    eval_every: int | None = None  # epochs between evaluations; None: train_plan decides
    device: str = "auto"
    resume: bool = False
    limit: int | None = None     # use only the first N training images (tests, quick looks)
    command: str = ""            # the command line that started it, recorded in training.json


@dataclass
class EpochResult:
    epoch: int
    epochs: int                  # the planned epochs (estimated when the length is steps or minutes)
    train_loss: float
    train_recon: float
    train_kl: float
    test_neg_elbo: float | None
    test_recon: float | None
    test_kl: float | None
    seconds: float               # since the previous evaluation
    beta: float
    step: int = 0                # optimisation steps so far (runs before steps were counted: 0)
    progress: float = 0.0        # of the run's length, 0 to 1
    train_mse: float | None = None       # reconstructions of training images, per pixel in [0, 1]
    train_mean_mse: float | None = None  # the training mean image's error on the same images
    spread: float | None = None          # how much those reconstructions vary, against the images
    test_mse: float | None = None        # the same two errors on the held-out images
    test_mean_mse: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EpochResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainCallbacks:
    on_batch: Callable[[int, int, int, float], None] | None = None   # epoch, batch, n_batches, loss
    on_epoch: Callable[[EpochResult, ConvVAE], None] | None = None   # after each evaluation
    should_stop: Callable[[], bool] | None = None
    on_message: Callable[[str], None] | None = None
    on_plan: Callable[[Plan], None] | None = None        # once, when the data is loaded, before step 1
    on_warning: Callable[[str], None] | None = None      # flat reconstructions, overfitting


@dataclass
class TrainResult:
    out: Path
    epochs_done: int
    history: list[EpochResult] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    best_epoch: int = 0          # the epoch whose model the folder holds
    steps_done: int = 0
    warnings: list[str] = field(default_factory=list)
    plan: Plan | None = None


def default_architecture(image_size: int) -> list[int]:
    if image_size <= 32:
        return [32, 64]
    levels = int(math.log2(image_size // 4))
    chans = [32, 32, 64, 64, 128, 128, 256]
    return chans[:levels]


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def evaluate_loss(vae: ConvVAE, images: torch.Tensor, device: str, batch_size: int = 500, seed: int = 1234) -> dict:
    """Mean −ELBO, reconstruction and KL (nats per image) and KL per dimension, β = 1."""
    was_training = vae.training
    vae.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    rec = kl = 0.0
    kld = torch.zeros(vae.config.latent_dim, dtype=torch.float64)
    n = len(images)
    for i in range(0, n, batch_size):
        x = images[i:i + batch_size].to(device).float().div_(255)
        loss = vae.loss(x, beta=1.0, generator=gen)
        rec += loss.recon.sum().item()
        kl += loss.kl.sum().item()
        kld += loss.kl_per_dim.sum(0).double().cpu()
    vae.train(was_training)
    return {"neg_elbo": (rec + kl) / n, "recon": rec / n, "kl": kl / n, "kl_per_dim": (kld / n).tolist()}


def load_training_data(opts: TrainOptions, callbacks: TrainCallbacks | None = None) -> tuple[Dataset, Dataset | None]:
    stop = callbacks.should_stop if callbacks else None
    if opts.data in BUNDLED:
        train_ds = load_dataset(opts.data, "train", image_size=opts.image_size, limit=opts.limit)
        test_ds = load_dataset(opts.data, "test", image_size=opts.image_size,
                               limit=min(opts.limit, 1000) if opts.limit else None)
        return train_ds, test_ds
    ds = load_dataset(opts.data, image_size=opts.image_size or 64, channels=3, limit=opts.limit, should_stop=stop)
    if callbacks and callbacks.on_message:
        for path, why in ds.skipped:
            callbacks.on_message(f"skipped {path}: {why}")
    # folders: hold out every 10th image (at least one) for the test loss
    idx = np.arange(len(ds))
    test = idx % 10 == 9 if len(ds) >= 10 else np.zeros(len(ds), bool)
    train_ds = Dataset(ds.name, ds.images[~test], paths=[p for p, t in zip(ds.paths, test) if not t], skipped=ds.skipped)
    test_ds = Dataset(ds.name + "[test]", ds.images[test]) if test.any() else None
    return train_ds, test_ds


#: the saved options a resumed run takes over (its length comes from the new request)
_KEPT_ON_RESUME = ("data", "latent_dim", "beta", "tc_beta", "image_size", "batch_size", "lr", "seed",
                   "hidden_channels", "fc_dim", "decoder", "augment", "kl_warmup_epochs", "eval_every", "limit")


def _resume(opts: TrainOptions, out: Path) -> tuple[int, list[EpochResult], checkpoint.Stamp | None, dict]:
    if not (out / "training.json").exists():
        raise UserError(f"{out}: nothing to resume (no training.json); drop --resume to start afresh")
    prev, stamp = checkpoint.resume_point(out)
    start = int(prev["epoch"])
    history = [EpochResult.from_dict(h) for h in prev.get("history", []) if int(h["epoch"]) <= start]
    saved = prev.get("options", {})
    for k in _KEPT_ON_RESUME:  # the architecture, the data and the recipe come from the saved run
        if k in saved:
            setattr(opts, k, saved[k])
    if saved.get("command") and opts.command:  # keep the whole recipe: first run, then each resume
        opts.command = f"{saved['command']} && {opts.command}"
    return start, history, stamp, prev


def _resume_words(stamp, start: int, opts: TrainOptions, plan: Plan, prev: dict) -> str:
    only_epochs = opts.steps is None and opts.minutes is None and opts.epochs is not None
    line = checkpoint.resume_line(stamp, start, opts.epochs) if only_epochs else \
        checkpoint.resume_line(stamp, start, None, goal=plan.length_words())
    last = int(prev.get("last_epoch", start))
    return line + (f"; the best epoch, kept while training went on to epoch {last}" if last > start else "")


def train(opts: TrainOptions, callbacks: TrainCallbacks | None = None) -> TrainResult:
    """Train into ``opts.out``, holding its writer lock (``folder_lock``): a second run into the same
    folder, from the command line or the app, is refused with a ``UserError`` of one line."""
    from .folder_lock import folder_lock

    with folder_lock(opts.out, "a model"):
        return _train(opts, callbacks)


def _train(opts: TrainOptions, callbacks: TrainCallbacks | None = None) -> TrainResult:
    cb = callbacks or TrainCallbacks()
    t_start = time.perf_counter()
    device = resolve_device(opts.device)
    out = Path(opts.out)
    say = cb.on_message or (lambda line: None)
    warn_out: list[str] = []

    def warn(text: str) -> None:
        warn_out.append(text)
        if cb.on_warning:
            cb.on_warning(text)
        else:  # nobody shows it: the log does
            log.warning("%s: %s", out, text)

    for line in checkpoint.recover(out):  # what a killed save left: finish or discard it
        log.info("%s: %s", out, line)
        say(line)
    start_epoch, history, stamp, prev = _resume(opts, out) if opts.resume else (0, [], None, {})
    torch.manual_seed(opts.seed)
    train_ds, test_ds = load_training_data(opts, cb)
    plan = make_plan(opts, len(train_ds), folder=opts.data not in BUNDLED, grey=aug.is_grey(train_ds.images))
    opts.batch_size, opts.augment = plan.batch_size, plan.augment  # training.json records what ran
    if opts.resume:
        line = _resume_words(stamp, start_epoch, opts, plan, prev)
        log.info("%s: %s", out, line)
        say(line)
    for note in plan.notes:
        say(note)
    size, channels = train_ds.image_size, train_ds.channels
    x_train = _to_tensor(train_ds.images)
    x_test = _to_tensor(test_ds.images) if test_ds is not None and len(test_ds) else None
    if opts.resume:
        from safetensors.torch import load_file

        cfg = json.loads((out / "config.json").read_text())
        vae = build_convvae(cfg, load_file(str(out / "model.safetensors")))
    else:
        vae = ConvVAE(ConvVAEConfig(
            image_size=size, channels=channels, latent_dim=opts.latent_dim,
            hidden_channels=list(opts.hidden_channels or default_architecture(size)), fc_dim=opts.fc_dim,
            beta=opts.beta, tc_beta=opts.tc_beta, dataset_size=len(x_train), decoder=opts.decoder))
    vae.to(device).train()
    opt = torch.optim.Adam(vae.parameters(), lr=opts.lr)
    if opts.resume:
        checkpoint.load_optimizer(opt, vae, out / "optimizer.safetensors", device)
    # what each evaluation measures: the held-out −ELBO (a small set several times over, for less
    # noise) and the reconstructions of fixed training and held-out images against the mean image
    x_eval = None if x_test is None else x_test.repeat(max(1, min(16, EVAL_REPEAT_TO // len(x_test))), 1, 1, 1)
    stats_train, stats_test = train_watch.spaced(x_train, train_watch.STATS_IMAGES), \
        None if x_test is None else train_watch.spaced(x_test, train_watch.TEST_STATS_IMAGES)
    mean_img = train_watch.mean_image(x_train)

    n, nb, bs = len(x_train), plan.steps_per_epoch, plan.batch_size
    step = history[-1].step if history else 0
    best_epoch = start_epoch
    result = TrainResult(out, start_epoch, history, best_epoch=best_epoch, steps_done=step, warnings=warn_out,
                         plan=plan)
    plan.t0 = t_start  # the clock a time budget runs on (time.perf_counter), for progress and ETA
    if cb.on_plan:
        cb.on_plan(plan)
    said_rising = False
    t_period, eval_s = time.perf_counter(), 0.0

    def spent() -> float:  # a time budget counts from the call, loading included, and keeps the
        return time.perf_counter() - t_start + eval_s  # last evaluation's time for the final one

    sums, seen, epoch = np.zeros(3), 0, start_epoch
    # A fresh run trains one epoch at least, even if loading used up a tiny budget. Whether the run is
    # over is decided once per epoch, and the record written with that answer is the last one.
    final = bool(opts.resume) and plan.done(epoch, step, spent())
    while not final:
        gen = torch.Generator().manual_seed(opts.seed * 100_003 + epoch)
        noise = torch.Generator(device=device).manual_seed(opts.seed * 7_919 + epoch)
        perm = torch.randperm(n, generator=gen)
        beta = opts.beta * min(1.0, (epoch + 1) / opts.kl_warmup_epochs) if opts.kl_warmup_epochs else opts.beta
        for b in range(nb):
            if cb.should_stop and cb.should_stop():
                result.cancelled = True
                result.seconds = time.perf_counter() - t_start
                return result
            if b and plan.done(epoch, step, spent()):
                break  # the steps or the minutes ran out inside this epoch: it ends here
            idx = perm[b * bs:(b + 1) * bs]
            x = aug.apply(plan.augment, x_train[idx].to(device).float().div_(255), gen)
            loss = vae.loss(x, beta=beta, generator=noise)
            opt.zero_grad(set_to_none=True)
            loss.total.mean().backward()
            opt.step()
            sums += [loss.total.sum().item(), loss.recon.sum().item(), loss.kl.sum().item()]
            seen += len(idx)
            step += 1
            if cb.on_batch:
                cb.on_batch(epoch, b, nb, float(loss.total.mean().item()))
        epoch += 1
        elapsed = spent()
        final = plan.done(epoch, step, elapsed)
        if (epoch - start_epoch) % plan.eval_every and not final:
            continue
        t_eval = time.perf_counter()
        ev = evaluate_loss(vae, x_eval, device) if x_eval is not None else None
        st_tr = train_watch.recon_stats(vae, stats_train, mean_img, device)
        st_te = train_watch.recon_stats(vae, stats_test, mean_img, device)
        progress = plan.progress(epoch, step, elapsed)
        res = EpochResult(
            epoch=epoch, epochs=plan.epochs or max(epoch, round(epoch / max(progress, 1e-9))),
            train_loss=sums[0] / seen, train_recon=sums[1] / seen, train_kl=sums[2] / seen,
            test_neg_elbo=ev and ev["neg_elbo"], test_recon=ev and ev["recon"], test_kl=ev and ev["kl"],
            seconds=time.perf_counter() - t_period, beta=beta, step=step, progress=progress,
            train_mse=st_tr["mse"], train_mean_mse=st_tr["mean_mse"], spread=st_tr["spread"],
            test_mse=st_te["mse"], test_mean_mse=st_te["mean_mse"])
        sums, seen, t_period = np.zeros(3), 0, time.perf_counter()
        history.append(res)
        why = _diverged(res, history[:-1])
        if why:  # keep the best epoch on disk: this one is not saved
            kept = f"the model of epoch {best_epoch} is kept in {out}" if best_epoch else "nothing was saved"
            raise UserError(f"training diverged at epoch {epoch} ({why}); {kept}. "
                            f"Start afresh with a smaller --lr (this run: {opts.lr:g})")
        best = _best(history, best_epoch)
        if best is None or res.test_neg_elbo is None or res.test_neg_elbo < best:
            best_epoch = epoch
            _checkpoint(vae, opt, out, opts, plan, history, epoch, final)
        else:
            checkpoint.update_record(out, _record(opts, plan, history, best_epoch, final))
        result.epochs_done, result.best_epoch, result.steps_done = epoch, best_epoch, step
        eval_s = time.perf_counter() - t_eval
        if cb.on_epoch:
            cb.on_epoch(res, vae)
        rising = None if said_rising else train_watch.rising_warning(history, n)
        if rising:
            said_rising = True
            warn(rising)
        if not final and plan.done(epoch, step, spent()):  # the evaluation used up the rest of the budget:
            final = True  # this epoch was the last, and the record on disk says so
            checkpoint.update_record(out, _record(opts, plan, history, best_epoch, True))
    kept = next((h for h in reversed(history) if h.epoch == best_epoch), None)
    flat = train_watch.flat_warning(kept) if kept is not None else None
    if flat:
        warn(flat)
    result.seconds = time.perf_counter() - t_start
    return result


def _best(history: list[EpochResult], best_epoch: int) -> float | None:
    """The held-out −ELBO of the kept epoch (the best so far), or None before the first."""
    return next((h.test_neg_elbo for h in history[:-1] if h.epoch == best_epoch), None)


#: a test −ELBO this many times the best of the earlier epochs means the run blew up
DIVERGED_FACTOR = 3.0


def _diverged(res: EpochResult, earlier: list[EpochResult]) -> str | None:
    """Why this epoch's model must not replace the saved one (a too-high learning rate), or None."""
    for name, v in (("training loss", res.train_loss), ("test −ELBO", res.test_neg_elbo)):
        if v is not None and not math.isfinite(v):
            return f"the {name} is {v}"
    best = min((h.test_neg_elbo for h in earlier if h.test_neg_elbo is not None), default=None)
    if best is not None and res.test_neg_elbo is not None and res.test_neg_elbo > DIVERGED_FACTOR * best:
        return f"test −ELBO {res.test_neg_elbo:,.0f} nats against {best:,.1f} at best"
    return None


def _checkpoint(vae: ConvVAE, opt, out: Path, opts: TrainOptions, plan: Plan, history: list[EpochResult],
                epoch: int, finished: bool) -> None:
    weights = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in vae.state_dict().items()}
    checkpoint.save(out, epoch, weights, {"_class_name": CLASS_NAME, **vae.config.to_dict()},
                    checkpoint.optimizer_tensors(opt, vae), _record(opts, plan, history, epoch, finished))
