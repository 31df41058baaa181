"""The training engine behind ``latent-explorer train`` and the app's training dialog.

``train(options, callbacks)`` runs epochs of Adam on a ConvVAE, evaluates the test split
after each epoch, and replaces the checkpoint in ``options.out`` after every epoch, atomically
as a whole (see ``core.checkpoint``: config.json, model.safetensors, optimizer.safetensors and
training.json are stamped with the epoch and a token and swapped in by a roll-forward journal),
so the folder always holds a loadable model. ``resume=True`` checks that the stamps agree, says
in one line what it continues from, and continues from the last finished epoch, optimizer
moments included. CPU runs are reproducible for a given seed.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .data.datasets import Dataset, load_dataset
from .device import resolve_device
from .errors import UserError
from .models.convvae import ConvVAE, ConvVAEConfig
from .models.convvae_model import CLASS_NAME, build_convvae
from .paths import atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    data: str = "mnist-5k"
    out: str = "model"
    latent_dim: int = 16
    beta: float = 1.0
    tc_beta: float | None = None
    epochs: int = 10
    image_size: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    hidden_channels: list[int] | None = None
    fc_dim: int = 256
    decoder: str = "deconv"      # or "broadcast" (spatial broadcast decoder)
    augment: bool = False        # random small shifts/rotations/zoom (digits: less overfitting)
    kl_warmup_epochs: int = 0    # β ramps linearly from 0 over these epochs
    device: str = "auto"
    resume: bool = False
    limit: int | None = None     # use only the first N training images (tests, quick looks)
    command: str = ""            # the command line that started it, recorded in training.json


@dataclass
class EpochResult:
    epoch: int
    epochs: int
    train_loss: float
    train_recon: float
    train_kl: float
    test_neg_elbo: float | None
    test_recon: float | None
    test_kl: float | None
    seconds: float
    beta: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainCallbacks:
    on_batch: Callable[[int, int, int, float], None] | None = None   # epoch, batch, n_batches, loss
    on_epoch: Callable[[EpochResult, ConvVAE], None] | None = None
    should_stop: Callable[[], bool] | None = None
    on_message: Callable[[str], None] | None = None


@dataclass
class TrainResult:
    out: Path
    epochs_done: int
    history: list[EpochResult] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0


def default_architecture(image_size: int) -> list[int]:
    if image_size <= 32:
        return [32, 64]
    levels = int(math.log2(image_size // 4))
    chans = [32, 32, 64, 64, 128, 128, 256]
    return chans[:levels]


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Small random affine jitter: ±8° rotation, ±8 % zoom, ±1.5 px shift (per image)."""
    n, _, h, _ = x.shape
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(8)
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.08
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (1.5 * 2 / h)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


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
    if opts.data in ("mnist-5k", "shapes"):
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


def train(opts: TrainOptions, callbacks: TrainCallbacks | None = None) -> TrainResult:
    cb = callbacks or TrainCallbacks()
    t_start = time.perf_counter()
    device = resolve_device(opts.device)
    out = Path(opts.out)
    state_path = out / "training.json"
    start_epoch, history = 0, []
    prev: dict = {}
    say = cb.on_message or (lambda line: None)
    for line in checkpoint.recover(out):  # what a killed save left: finish or discard it
        log.info("%s: %s", out, line)
        say(line)
    if opts.resume:
        if not state_path.exists():
            raise UserError(f"{out}: nothing to resume (no training.json); drop --resume to start afresh")
        prev, stamp = checkpoint.resume_point(out)
        start_epoch = int(prev["epoch"])
        history = [EpochResult(**h) for h in prev.get("history", [])]
        saved = prev.get("options", {})
        # the architecture and data come from the saved run; epochs may be extended
        for k in ("data", "latent_dim", "beta", "tc_beta", "image_size", "batch_size", "lr", "seed",
                  "hidden_channels", "fc_dim", "decoder", "augment", "kl_warmup_epochs", "limit"):
            if k in saved:
                setattr(opts, k, saved[k])
        if saved.get("command") and opts.command:  # keep the whole recipe: first run, then each resume
            opts.command = f"{saved['command']} && {opts.command}"
        line = checkpoint.resume_line(stamp, start_epoch, opts.epochs)
        log.info("%s: %s", out, line)
        say(line)
    torch.manual_seed(opts.seed)
    train_ds, test_ds = load_training_data(opts, cb)
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
    n = len(x_train)
    n_batches = max(1, n // opts.batch_size) if n >= opts.batch_size else 1
    result = TrainResult(out, start_epoch, history)
    for epoch in range(start_epoch, opts.epochs):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(opts.seed * 100_003 + epoch)
        noise = torch.Generator(device=device).manual_seed(opts.seed * 7_919 + epoch)
        perm = torch.randperm(n, generator=gen)
        beta = opts.beta * min(1.0, (epoch + 1) / opts.kl_warmup_epochs) if opts.kl_warmup_epochs else opts.beta
        sums = np.zeros(3)
        seen = 0
        for b in range(n_batches):
            if cb.should_stop and cb.should_stop():
                result.cancelled = True
                result.seconds = time.perf_counter() - t_start
                return result
            idx = perm[b * opts.batch_size:(b + 1) * opts.batch_size]
            x = x_train[idx].to(device).float().div_(255)
            if opts.augment:
                x = augment_batch(x, gen)
            loss = vae.loss(x, beta=beta, generator=noise)
            opt.zero_grad(set_to_none=True)
            loss.total.mean().backward()
            opt.step()
            sums += [loss.total.sum().item(), loss.recon.sum().item(), loss.kl.sum().item()]
            seen += len(idx)
            if cb.on_batch:
                cb.on_batch(epoch, b, n_batches, float(loss.total.mean().item()))
        ev = evaluate_loss(vae, x_test, device) if x_test is not None else None
        res = EpochResult(
            epoch=epoch + 1, epochs=opts.epochs, train_loss=sums[0] / seen, train_recon=sums[1] / seen,
            train_kl=sums[2] / seen, test_neg_elbo=ev and ev["neg_elbo"], test_recon=ev and ev["recon"],
            test_kl=ev and ev["kl"], seconds=time.perf_counter() - t0, beta=beta)
        history.append(res)
        why = _diverged(res, history[:-1])
        if why:  # keep the last good epoch on disk: this one is not saved
            kept = f"the model of epoch {epoch} is kept in {out}" if epoch else "nothing was saved"
            raise UserError(f"training diverged at epoch {epoch + 1} ({why}); {kept}. "
                            f"Start afresh with a smaller --lr (this run: {opts.lr:g})")
        _checkpoint(vae, opt, out, opts, history, epoch + 1)
        result.epochs_done = epoch + 1
        if cb.on_epoch:
            cb.on_epoch(res, vae)
    result.seconds = time.perf_counter() - t_start
    return result


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


def _checkpoint(vae: ConvVAE, opt, out: Path, opts: TrainOptions, history: list[EpochResult], epoch: int) -> None:
    weights = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in vae.state_dict().items()}
    state = {
        "epoch": epoch,
        "options": {k: v for k, v in asdict(opts).items() if k not in ("out", "resume", "device")},
        "history": [h.to_dict() for h in history],
        "training_seconds": sum(h.seconds for h in history),
    }
    checkpoint.save(out, epoch, weights, {"_class_name": CLASS_NAME, **vae.config.to_dict()},
                    checkpoint.optimizer_tensors(opt, vae), state)


def write_metrics(out: str | Path, evaluate_output: dict | None = None) -> dict:
    """metrics.json beside a trained model: the exact command, epochs, time and evaluate output."""
    out = Path(out)
    state = json.loads((out / "training.json").read_text())
    opts = state.get("options", {})
    metrics = {
        "command": opts.get("command", ""),
        "data": opts.get("data"),
        "epochs": state["epoch"],
        "training_seconds": round(state.get("training_seconds", 0.0), 3),
        "final_epoch": state["history"][-1] if state.get("history") else None,
    }
    if evaluate_output is not None:
        metrics["evaluate"] = evaluate_output
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
