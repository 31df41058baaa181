"""A learned approximate decoder: a tiny convolutional network fitted to pairs the app already has.

The linear preview (``approx_preview.py``) gives each latent pixel one colour, so a preview is a
blurred mosaic. ``PreviewNet`` keeps that linear map as its base and adds what a few 3×3
convolutions over the latent can predict: the f×f patch of detail under each latent pixel
(depth-to-space, as in TAESD's last layers and in sub-pixel super-resolution). Everything runs at
the latent's resolution, so a 256 px preview costs a few milliseconds on one CPU thread.

``PreviewFitter`` fits it on (latent, image) pairs — the images on the map and their latents —
in short, resumable runs (``run(seconds=…)``), so a caller can interleave it with other work.
The preview stands in for the *full decode*, which is not the source image (the VAE's
reconstruction error), so the "images" may also be full decodes of the latents
(``targets="decodes"``): the app fits again on those once it has made them, starting from the
weights of the preview fitted on the images (``init``: a warm start, in fewer steps). A share of the
pairs is held out; ``evaluate`` compares the learned and the linear preview on them, and the
app switches to the learned one only when it is better there. ``save`` / ``load`` keep a fitted
network in one safetensors file, its figures, its targets and whether a refit on full decodes
was already tried against it (``decodes_checked``) in the file's metadata.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FORMAT = "latent-explorer learned preview 1"
TARGETS = ("images", "decodes")


class PreviewNet(nn.Module):
    """latents N×C×h×w -> RGB N×3×(h·f)×(w·f) in [0, 1] (unclamped): linear base + learned detail."""

    def __init__(self, channels: int, factor: int, width: int = 64, depth: int = 2):
        super().__init__()
        self.channels, self.factor, self.width, self.depth = int(channels), int(factor), int(width), int(depth)
        self.linear = nn.Conv2d(channels, 3, 1)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1, padding_mode="replicate"), nn.SiLU()]
        for _ in range(depth):
            layers += [nn.Conv2d(width, width, 3, padding=1, padding_mode="replicate"), nn.SiLU()]
        layers.append(nn.Conv2d(width, 3 * factor * factor, 1))
        self.body = nn.Sequential(*layers)
        nn.init.zeros_(self.body[-1].weight)  # it starts as the linear preview
        nn.init.zeros_(self.body[-1].bias)

    def set_linear(self, weight: np.ndarray, bias: np.ndarray) -> None:
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(np.asarray(weight, np.float32)).view(3, self.channels, 1, 1))
            self.linear.bias.copy_(torch.as_tensor(np.asarray(bias, np.float32)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(self.linear(z), scale_factor=self.factor, mode="bilinear", align_corners=False)
        return base + F.pixel_shuffle(self.body(z), self.factor)


def same_shape(a: PreviewNet | None, b: PreviewNet) -> bool:
    """Whether ``a`` is a ``PreviewNet`` of ``b``'s architecture (its weights fit ``b``)."""
    return isinstance(a, PreviewNet) and all(getattr(a, k) == getattr(b, k)
                                             for k in ("channels", "factor", "width", "depth"))


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    return rgb.clamp(0, 1).mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays (all pixels together)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-10))


@dataclass
class LearnedPreview:
    net: PreviewNet
    psnr: float = 0.0          # on the held-out pairs, dB
    linear_psnr: float = 0.0   # the linear preview on the same pairs
    pairs: int = 0             # pairs it was fitted on
    seconds: float = 0.0       # time spent fitting
    targets: str = "images"    # what the pairs' images were: "images" (the sources) or "decodes" (full decodes)
    decodes_checked: bool = False  # a refit on full decodes was tried for these weights (and did not beat it)

    @property
    def factor(self) -> int:
        return self.net.factor

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    @torch.inference_mode()
    def decode(self, z: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """float32 N×C×h×w -> uint8 N×H×W×3 (H×W = size, or the latent's size × factor)."""
        rgb = self.net.eval()(torch.as_tensor(np.asarray(z, np.float32)))
        if size is not None and tuple(size) != tuple(rgb.shape[-2:]):
            rgb = F.interpolate(rgb, size=tuple(size), mode="bilinear", align_corners=False)
        return to_uint8(rgb)

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save

        from ..paths import atomic_write

        meta = {"format": FORMAT, "channels": self.net.channels, "factor": self.net.factor, "width": self.net.width,
                "depth": self.net.depth, "psnr": self.psnr, "linear_psnr": self.linear_psnr, "pairs": self.pairs,
                "seconds": self.seconds, "targets": self.targets,
                "decodes_checked": bool(self.decodes_checked)}
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(save(state, metadata={"meta": json.dumps(meta)}))

    @classmethod
    def load(cls, path: str | Path) -> "LearnedPreview":
        """A saved preview; ValueError when the file is not one (corrupt, another format)."""
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("meta", "{}"))
                state = {k: f.get_tensor(k) for k in f.keys()}
            if meta.get("format") != FORMAT:
                raise ValueError("not a learned preview")
            sizes = [int(meta[k]) for k in ("channels", "factor", "width", "depth")]
            if not (0 < sizes[0] <= 64 and 0 < sizes[1] <= 64 and 0 < sizes[2] <= 1024 and 0 <= sizes[3] <= 16):
                raise ValueError("sizes out of range")
            net = PreviewNet(*sizes)
            net.load_state_dict(state, strict=True)
        except Exception as e:  # a corrupt file, another format, mismatched tensors
            raise ValueError(f"{path}: not a usable learned preview ({type(e).__name__})") from None
        targets = meta.get("targets", "images")  # (files from before targets were noted: images)
        return cls(net.eval(), float(meta.get("psnr", 0)), float(meta.get("linear_psnr", 0)), int(meta.get("pairs", 0)),
                   float(meta.get("seconds", 0)), targets if targets in TARGETS else "images",
                   bool(meta.get("decodes_checked", False)))


def fit_linear(latents: np.ndarray, images: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares latent pixel -> mean colour of its f×f patch (3×C weight, 3 bias)."""
    x = torch.as_tensor(latents, dtype=torch.float32)
    y = F.avg_pool2d(torch.as_tensor(images).permute(0, 3, 1, 2).float().div(255), factor)
    c = x.shape[1]
    xa = torch.cat([x.permute(0, 2, 3, 1).reshape(-1, c), torch.ones(x.shape[0] * x.shape[2] * x.shape[3], 1)], 1)
    yy = y.permute(0, 2, 3, 1).reshape(-1, 3)
    coef = torch.linalg.lstsq(xa.double(), yy.double()).solution.float()
    return coef[:c].T.numpy(), coef[c].numpy()


class PreviewFitter:
    """Fits a ``PreviewNet`` to (latent, image) pairs in resumable runs.

    ``latents`` float32 N×C×h×w, ``images`` uint8 N×(h·f)×(w·f)×3. ``linear`` (optional): a function
    latents -> uint8 images, the preview to beat (default: the least-squares linear map itself).
    ``targets`` says what ``images`` are, "images" or "decodes" (the result carries it).
    ``init`` (optional): a fitted ``PreviewNet`` to start from (a warm start: a copy of its
    weights, the network itself is not touched) when it has this fit's shape (``warm`` says so);
    otherwise the fit starts afresh from the least-squares linear map.
    """

    def __init__(self, latents: np.ndarray, images: np.ndarray, factor: int, linear: Callable | None = None,
                 steps: int = 1200, width: int = 64, depth: int = 2, batch: int = 16, window: int = 12,
                 holdout: float = 0.15, lr: float = 3e-3, seed: int = 0, targets: str = "images",
                 init: PreviewNet | None = None):
        latents = np.asarray(latents, np.float32)
        images = np.asarray(images, np.uint8)
        n = len(latents)
        if n < 4 or latents.ndim != 4 or images.shape[1:3] != (latents.shape[2] * factor, latents.shape[3] * factor):
            raise ValueError("need at least 4 pairs of spatial latents and images at the latents' size × factor")
        if targets not in TARGETS:
            raise ValueError(f"targets {targets!r}: one of {', '.join(TARGETS)}")
        self.targets = targets
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)
        n_test = max(2, int(round(n * holdout)))
        self.test_idx, self.train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
        self.latents, self.images, self.factor = latents, images, int(factor)
        self.steps, self.batch, self.lr, self.step = int(steps), int(batch), float(lr), 0
        self.window = int(min(window, latents.shape[2], latents.shape[3]))
        self.seconds = 0.0
        torch.manual_seed(seed)
        self.net = PreviewNet(latents.shape[1], factor, width, depth)
        w, b = fit_linear(latents[self.train_idx], images[self.train_idx], factor)
        self.warm = same_shape(init, self.net)
        if self.warm:
            self.net.load_state_dict(init.state_dict())  # (copies: the installed preview stays as it is)
        else:
            self.net.set_linear(w, b)
        self._linear = linear or (lambda z: LearnedPreview(self._linear_only(w, b)).decode(z))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        self._rng = rng
        self._x = torch.from_numpy(latents)
        self._y = torch.from_numpy(images).permute(0, 3, 1, 2)

    def _linear_only(self, w, b) -> PreviewNet:
        net = PreviewNet(self.latents.shape[1], self.factor, 1, 0)
        net.set_linear(w, b)
        return net

    @property
    def done(self) -> bool:
        return self.step >= self.steps

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / max(self.steps, 1))

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        rng, k, f = self._rng, self.window, self.factor
        idx = rng.choice(self.train_idx, self.batch)
        h, w = self.latents.shape[2:]
        ys, xs = rng.integers(0, h - k + 1, self.batch), rng.integers(0, w - k + 1, self.batch)
        z = torch.stack([self._x[i, :, y:y + k, x:x + k] for i, y, x in zip(idx, ys, xs)])
        img = torch.stack([self._y[i, :, y * f:(y + k) * f, x * f:(x + k) * f] for i, y, x in zip(idx, ys, xs)])
        return z, img.float().div_(255)

    def run(self, seconds: float | None = None, steps: int | None = None, checkpoint: Callable | None = None) -> bool:
        """Fit for about ``seconds`` (or ``steps`` steps, or to the end); ``checkpoint()`` is called
        between steps (it may raise to stop). True when the fit is complete."""
        t0 = time.perf_counter()
        end = self.steps if steps is None else min(self.steps, self.step + steps)
        self.net.train()
        try:
            while self.step < end:
                if checkpoint is not None:
                    checkpoint()
                lr = self.lr * 0.5 * (1 + math.cos(math.pi * self.step / self.steps))
                for g in self.opt.param_groups:
                    g["lr"] = lr
                z, img = self._batch()
                out = self.net(z)
                loss = F.mse_loss(out, img) + 0.5 * F.l1_loss(out, img)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.step += 1
                if seconds is not None and time.perf_counter() - t0 >= seconds:
                    break
        finally:
            self.seconds += time.perf_counter() - t0
        return self.done

    def score(self, decode: Callable, checkpoint: Callable | None = None) -> float:
        """PSNR (dB) of ``decode`` (latents -> uint8 images) against the held-out images."""
        outs = []
        for i in self.test_idx:
            if checkpoint is not None:
                checkpoint()
            outs.append(decode(self.latents[i:i + 1]))
        return psnr(np.concatenate(outs), self.images[self.test_idx])

    def evaluate(self, checkpoint: Callable | None = None) -> tuple[float, float]:
        """(learned, linear) PSNR in dB against the held-out images."""
        return self.score(LearnedPreview(self.net).decode, checkpoint), self.score(self._linear, checkpoint)

    def result(self, checkpoint: Callable | None = None) -> LearnedPreview:
        p, lin = self.evaluate(checkpoint)
        return LearnedPreview(self.net.eval(), p, lin, len(self.train_idx), self.seconds, self.targets)
