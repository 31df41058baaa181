"""The LatentModel adapter for our own ConvVAE, and its project folder format.

A project-format model folder holds ``config.json`` (every ConvVAE constructor argument,
plus ``"_class_name": "ConvVAE"``) and ``model.safetensors``; ``metrics.json`` is optional.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..paths import atomic_write_bytes, atomic_write_text
from .base import LatentModel
from .convvae import ConvVAE, ConvVAEConfig

CLASS_NAME = "ConvVAE"


def save_convvae(vae: ConvVAE, folder: str | Path, extra: dict | None = None) -> None:
    """Write config.json and model.safetensors atomically (each replaced whole)."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in vae.state_dict().items()}
    atomic_write_bytes(folder / "model.safetensors", save(state, metadata={"format": "pt"}))
    cfg = {"_class_name": CLASS_NAME, **vae.config.to_dict(), **(extra or {})}
    atomic_write_text(folder / "config.json", json.dumps(cfg, indent=2) + "\n")


def build_convvae(config: dict, state: dict[str, torch.Tensor]) -> ConvVAE:
    cfg = {k: v for k, v in config.items() if not k.startswith("_")}
    vae = ConvVAE(ConvVAEConfig.from_dict(cfg))
    expected = vae.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:4]}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:4]}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape mismatch for {k}: file {tuple(state[k].shape)} vs config {tuple(expected[k].shape)}")
        raise ValueError("weights do not match config.json: " + "; ".join(parts))
    vae.load_state_dict(state)
    return vae


class ConvVAEModel(LatentModel):
    def __init__(self, vae: ConvVAE, spec: str = "", name: str = "", device: str = "cpu",
                 metrics: dict | None = None, folder: Path | None = None):
        self.vae = vae.eval().to(device)
        self.spec = spec
        self.name = name or spec
        self.device = device
        self.folder = folder
        self.metrics = metrics or {}
        c = vae.config
        self.latent_shape = (c.latent_dim,)
        self.image_size = (c.image_size, c.image_size)
        self.channels = c.channels

    @property
    def config(self):
        return self.vae.config

    def to(self, device: str) -> "ConvVAEModel":
        self.vae.to(device)
        self.device = device
        return self

    def _images_to_tensor(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(self.prepare(images)))
        return x.to(self.device).permute(0, 3, 1, 2).float().div_(255.0)

    @torch.inference_mode()
    def encode(self, images, batch_size: int = 512):
        means, logvars = [], []
        for i in range(0, len(images), batch_size):
            mu, lv = self.vae.encode(self._images_to_tensor(images[i:i + batch_size]))
            means.append(mu.float().cpu().numpy())
            logvars.append(lv.float().cpu().numpy())
        d = self.latent_shape[0]
        if not means:
            return np.zeros((0, d), np.float32), np.zeros((0, d), np.float32)
        return np.concatenate(means), np.concatenate(logvars)

    @torch.inference_mode()
    def decode(self, z, batch_size: int = 512):
        z = np.asarray(z, dtype=np.float32).reshape(-1, *self.latent_shape)
        out = []
        for i in range(0, len(z), batch_size):
            x = self.vae.decode(torch.from_numpy(z[i:i + batch_size]).to(self.device))
            out.append(x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
        if not out:
            return np.zeros((0, *self.image_size, self.channels), np.uint8)
        return np.concatenate(out)

    def weights_hash(self) -> str:
        h = hashlib.sha256()
        for k, v in sorted(self.vae.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def info(self) -> dict:
        d = super().info()
        d["config"] = self.vae.config.to_dict()
        d["parameters"] = sum(p.numel() for p in self.vae.parameters())
        if self.metrics:
            d["metrics"] = self.metrics
        return d
