"""Train the bundled ``photos-sd`` model: a small diffusers AutoencoderKL on photo crops.

The same design as Stable Diffusion's VAE (ResNet blocks with GroupNorm, a self-attention
mid-block, a diagonal-Gaussian latent with 4 channels), much smaller: three levels of 32, 64
and 128 channels, so a 64 px image becomes a 4×16×16 latent (SD: eight times down, 4×64×64 for
512 px). The loss is SD's without its LPIPS and GAN terms (neither is available offline):
per-pixel L1 + MSE and a KL term weighted 1e-6 per image. After training the latents' standard
deviation on training crops sets ``scaling_factor`` (= 1 / std), as Stable Diffusion does.

Run it as ``python -m latent_explorer.core.train_sd --out FOLDER [--steps N] [--minutes M]``:
crops are drawn from the seed and the step number. The learning rate's cosine schedule follows
whichever ends first, ``--steps`` or ``--minutes``: a run that finishes its steps within the time
reproduces the same weights on the same machine; one that the clock ends depends on its speed. Every
``--eval-every`` steps the held-out PSNR (64 px crops of the test photographs) is measured and
the best model so far is written to FOLDER in diffusers' own format, with ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .data import photos
from .paths import atomic_write_text

KL_WEIGHT = 1e-6


def build(image_size: int = 64, channels=(32, 64, 128), latent_channels: int = 4):
    from diffusers import AutoencoderKL

    n = len(channels)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(channels),
                         layers_per_block=1, latent_channels=latent_channels, norm_num_groups=32,
                         sample_size=image_size)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return x.div(2).add(0.5).clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB of two uint8 N×H×W×C arrays."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))


@torch.no_grad()
def reconstruct(vae, images: np.ndarray, batch: int = 64) -> np.ndarray:
    vae.eval()
    out = [to_uint8(vae.decode(vae.encode(to_tensor(images[i:i + batch])).latent_dist.mean).sample)
           for i in range(0, len(images), batch)]
    return np.concatenate(out)


@torch.no_grad()
def latent_std(vae, images: np.ndarray, batch: int = 64) -> float:
    zs = [vae.encode(to_tensor(images[i:i + batch])).latent_dist.sample() for i in range(0, len(images), batch)]
    return float(torch.cat(zs).std())


def save(vae, out: Path, scaling_factor: float) -> None:
    """diffusers' folder format: config.json (with _class_name) + diffusion_pytorch_model.safetensors
    (fp16 tensors: half the size; loaders cast them back to fp32)."""
    import copy

    vae.register_to_config(scaling_factor=scaling_factor)
    half = copy.deepcopy(vae).to(torch.float16)
    half.save_pretrained(str(out), safe_serialization=True)


def _lr(step: int, done: float, base: float, warmup: int = 100) -> float:
    """Warm-up over ``warmup`` steps, then a cosine from ``base`` to 5 % of it as ``done`` goes 0 -> 1."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(done, 1.0))))


def train(out: Path, steps: int, minutes: float, batch: int, lr: float, seed: int, size: int, eval_every: int,
          command: str, log=print) -> dict:
    torch.manual_seed(seed)
    vae = build(size)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    test = photos.crops("test", 192, size, seed=10_000 + seed)
    scale_set = photos.crops("train", 256, size, seed=20_000 + seed, augment=False)
    t0 = time.perf_counter()
    best = {"psnr": -1.0, "step": 0}
    history = []
    out.mkdir(parents=True, exist_ok=True)
    step = 0
    for step in range(1, steps + 1):
        vae.train()
        # the schedule follows whichever ends first, the steps or the time budget
        done = max((step - 1) / steps, (time.perf_counter() - t0) / (minutes * 60))
        for g in opt.param_groups:
            g["lr"] = _lr(step - 1, done, lr)
        x = to_tensor(photos.crops("train", batch, size, seed=seed * 1_000_003 + step))
        post = vae.encode(x).latent_dist
        y = vae.decode(post.sample()).sample
        rec = (y - x).abs().mean() + ((y - x) ** 2).mean()
        kl = post.kl().mean() / x[0].numel()  # SD's weighting: KL summed per image against recon summed per image
        loss = rec + KL_WEIGHT * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        elapsed = time.perf_counter() - t0
        last = step == steps or elapsed > minutes * 60
        if step % eval_every == 0 or last:
            p = float(psnr(reconstruct(vae, test), test).mean())
            history.append({"step": step, "seconds": round(elapsed, 1), "loss": round(loss.item(), 5),
                            "kl_per_image": round(kl.item() * x[0].numel(), 2), "test_psnr": round(p, 3)})
            log(json.dumps(history[-1]))
            if p > best["psnr"]:
                best = {"psnr": p, "step": step}
                save(vae, out, 1.0 / latent_std(vae, scale_set))
                _write_metrics(out, command, best, history, elapsed, steps, step, batch, size, seed)
        if last:
            break
    _write_metrics(out, command, best, history, time.perf_counter() - t0, steps, step, batch, size, seed)
    return best


def _write_metrics(out, command, best, history, seconds, steps, done, batch, size, seed) -> None:
    cfg = json.loads((out / "config.json").read_text())
    metrics = {
        "command": command, "data": "photo-crops",
        "photos": {"train": list(photos.TRAIN_PHOTOS), "test": list(photos.TEST_PHOTOS),
                   "folder": "resources/data/photos (credits: CREDITS.md there)"},
        "architecture": f"diffusers AutoencoderKL, block_out_channels {cfg['block_out_channels']}, "
                        f"{cfg['latent_channels']} latent channels, {size} px -> {cfg['latent_channels']}×"
                        f"{size // 2 ** (len(cfg['block_out_channels']) - 1)}² latents",
        "loss": f"L1 + MSE per pixel + {KL_WEIGHT:g} × KL per image (no LPIPS, no GAN)",
        "steps_planned": steps, "steps_done": done, "batch_size": batch, "seed": seed,
        "training_seconds": round(seconds, 1), "kept_step": best["step"],
        "scaling_factor": cfg["scaling_factor"],
        "test_psnr_db": round(best["psnr"], 3),
        "evaluate": {"data": "photos[test]", "n_images": 192, "image_size": size, "psnr_db": round(best["psnr"], 3),
                     "note": "mean per-image PSNR of crops of the held-out photographs, decoded from the posterior "
                             "mean"},
        "history": history,
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m latent_explorer.core.train_sd", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=3600)
    p.add_argument("--minutes", type=float, default=35.0, help="stop after this long (keeps the best so far)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=8e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    if min(a.steps, a.batch_size, a.eval_every, a.threads) < 1 or a.minutes <= 0 or a.image_size % 16:
        p.error("steps, batch size, eval-every, threads and minutes must be positive; image size a multiple of 16")
    torch.set_num_threads(a.threads)
    command = "python -m latent_explorer.core.train_sd " + shlex.join(sys.argv[1:] if argv is None else argv)
    best = train(Path(a.out), a.steps, a.minutes, a.batch_size, a.lr, a.seed, a.image_size, a.eval_every, command,
                 log=lambda s: print(s, flush=True))
    print(f"saved {a.out}: held-out PSNR {best['psnr']:.2f} dB (step {best['step']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
