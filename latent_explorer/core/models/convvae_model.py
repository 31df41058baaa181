"""The LatentModel adapter for our own ConvVAE, and its project folder format.

A project-format model folder holds ``config.json`` (every ConvVAE constructor argument,
plus ``"_class_name": "ConvVAE"``) and ``model.safetensors``; ``metrics.json`` is optional.
"""
from __future__ import annotations

import hashlib
import json
import threading
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
    from .checks import state_mismatch

    problem = state_mismatch(vae.state_dict(), state)
    if problem:
        raise ValueError(f"weights do not match config.json: {problem}")
    vae.load_state_dict(state)
    return vae


class _Decode(torch.nn.Module):
    def __init__(self, vae: ConvVAE):
        super().__init__()
        self.vae = vae

    def forward(self, z):
        return self.vae.decode(z)


def _trace_decoder(vae: ConvVAE, latent_dim: int):
    """``vae.decode`` as a traced graph, if it gives the eager decoder's output bit for bit."""
    import warnings

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated in favour of torch.export
        probe = torch.randn(3, latent_dim, generator=torch.Generator().manual_seed(0))
        graph = torch.jit.trace(_Decode(vae).eval(), (probe[:1],), check_trace=False)
        if not torch.equal(graph(probe), vae.decode(probe)):
            return None
    return graph


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
        self._graph = None  # the traced decoder for small decodes (see warm_up)
        self._warm_lock = threading.Lock()  # one trace, however many threads ask for it at once

    @property
    def config(self):
        return self.vae.config

    def to(self, device: str) -> "ConvVAEModel":
        self.vae.to(device)
        self.device = device
        self._graph = None
        return self

    def warm_up(self) -> None:
        """On the CPU, trace the decoder into one TorchScript graph (sharing the weights) for
        small decodes.

        Eager PyTorch takes the GIL back between layers: in the app, where the GUI thread runs
        Python while the worker decodes, each of those hand-offs can wait for the interpreter's
        switch interval, and a 2 ms decode took tens of ms. Called from Python, a traced graph
        runs its layers without the GIL. It is checked against the eager decoder on a batch
        before use; where tracing is unavailable or disagrees, decodes stay eager. ~0.15 s.
        """
        if self._graph is not None or str(self.device) != "cpu":
            return
        with self._warm_lock:  # decodes meanwhile stay eager; the graph is used once it is checked
            if self._graph is not None:
                return
            try:
                self._graph = _trace_decoder(self.vae, self.latent_shape[0])
            except Exception:  # a torch without torch.jit.trace: eager is fine
                self._graph = None

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
        # small batches (the app's previews, strips): the traced graph; large ones are compute-bound
        decode = self._graph if self._graph is not None and len(z) <= 64 else self.vae.decode
        for i in range(0, len(z), batch_size):
            x = decode(torch.from_numpy(z[i:i + batch_size]).to(self.device))
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
