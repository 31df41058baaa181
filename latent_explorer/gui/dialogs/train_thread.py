"""TrainThread: ``core.train.train`` on its own QThread, reporting to the training dialog.

It owns nothing of the explorer (the DecodeWorker keeps decoding meanwhile). Per batch it
reports the loss (at most ~10 times a second); per epoch the EpochResult plus two uint8 grids
rendered here, in the training thread under ``torch.no_grad``: a few images above their
reconstructions, and decodes of fixed prior samples, so the grids show the model learning.
Once, before the first step, the run's plan (batch, augmentation, length); any warning as it
comes. Cancel takes effect at the next batch; the model on disk is the best epoch so far.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread, Signal

PREVIEW_IMAGES = 8
PRIOR_SAMPLES = 16
BATCH_REPORT_S = 0.1


@dataclass
class EpochReport:
    result: object              # core.train.EpochResult
    recon_grid: np.ndarray      # uint8: originals above their reconstructions
    sample_grid: np.ndarray     # uint8: decodes of fixed z ~ N(0, I)


def saved_run(out: str | Path) -> dict | None:
    """training.json of an earlier run in ``out`` (for resume), or None."""
    p = Path(out) / "training.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


class TrainThread(QThread):
    batch = Signal(int, int, int, float)   # epoch (0-based), batch, batches per epoch, loss
    epoch = Signal(object)                 # EpochReport
    message = Signal(str)
    done = Signal(object)                  # core.train.TrainResult (cancelled flag set when cancelled)
    failed = Signal(str)
    planned = Signal(object)               # core.train_plan.Plan: batch, augmentation, length (once)
    warning = Signal(str)                  # flat reconstructions, overfitting (core.train_watch)

    def __init__(self, options, parent=None):
        super().__init__(parent)
        self.setObjectName("TrainThread")
        self.options = options
        self._stop = False
        self._last_batch = 0.0
        self._previews = None
        self._z = None

    def cancel(self) -> None:
        self._stop = True

    def run(self) -> None:  # the training thread
        import torch

        from ...core.errors import Cancelled, UserError
        from ...core.train import TrainCallbacks, TrainResult, train, write_metrics

        torch.set_num_threads(1)  # the GUI thread and the DecodeWorker keep the other core
        opts = self.options
        try:
            self._previews = self._preview_images()
            cb = TrainCallbacks(on_batch=self._on_batch, on_epoch=self._on_epoch,
                                should_stop=lambda: self._stop, on_message=self.message.emit,
                                on_plan=self.planned.emit, on_warning=self.warning.emit)
            result = train(opts, cb)
            if not result.cancelled:
                write_metrics(opts.out)  # records the dataset, so the explorer can map it
            self.done.emit(result)
        except Cancelled:
            self.done.emit(TrainResult(Path(opts.out), 0, cancelled=True))
        except UserError as e:
            self.failed.emit(str(e))
        except Exception as e:  # a bug, or a diverged run: say so, keep the app
            print(f"latent-explorer: training failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            self.failed.emit(f"{type(e).__name__}: {e}")

    # ---- callbacks (training thread) --------------------------------------------------
    def _preview_images(self) -> np.ndarray:
        from ...core.data.datasets import load_dataset

        opts = self.options
        data, size = opts.data, opts.image_size
        if opts.resume:
            saved = (saved_run(opts.out) or {}).get("options", {})
            data, size = saved.get("data", data), saved.get("image_size", size)
        if data in ("mnist-5k", "shapes"):
            ds = load_dataset(data, "test", image_size=size)
            # spread over the split (mnist-5k's test rows are sorted by class)
            idx = np.linspace(0, len(ds.images) - 1, PREVIEW_IMAGES).astype(int)
            return ds.images[idx]
        ds = load_dataset(data, image_size=size or 64, channels=3, limit=PREVIEW_IMAGES,
                          should_stop=lambda: self._stop)
        return ds.images

    def _on_batch(self, epoch: int, b: int, nb: int, loss: float) -> None:
        now = time.perf_counter()
        if b == nb - 1 or now - self._last_batch >= BATCH_REPORT_S:
            self._last_batch = now
            self.batch.emit(epoch, b, nb, loss)

    def _on_epoch(self, result, vae) -> None:
        import torch

        from ...core.export import make_grid

        dev = next(vae.parameters()).device
        if self._z is None:
            g = torch.Generator().manual_seed(0)
            self._z = torch.randn(PRIOR_SAMPLES, vae.config.latent_dim, generator=g)
        was_training = vae.training
        vae.eval()
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(self._previews)).permute(0, 3, 1, 2).float().div(255).to(dev)
            mu, _ = vae.encode(x)
            rec = vae.decode(mu)
            samples = vae.decode(self._z.to(dev))
        vae.train(was_training)

        def u8(t):
            return t.mul(255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

        pair = np.concatenate([self._previews, u8(rec)])
        cols = len(self._previews)
        recon_grid = make_grid(pair, cols=cols, pad=1, pad_value=40)
        sample_grid = make_grid(u8(samples), cols=PRIOR_SAMPLES // 2, pad=1, pad_value=40)
        self.epoch.emit(EpochReport(result, recon_grid, sample_grid))
