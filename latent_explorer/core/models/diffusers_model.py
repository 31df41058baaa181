"""Hugging Face VAEs (diffusers AutoencoderKL / AutoencoderTiny) behind LatentModel.

The latent is the one diffusion pipelines use: ``z = (posterior_mean - shift) * scale``;
``decode`` inverts it before calling the VAE. Images go in as uint8 and are scaled to [-1, 1]
as diffusers expects; decoded images are clamped and rounded back to uint8 the way
diffusers' image processor does. Encoding is always fp32; decoding runs in the requested
precision, with the fallbacks of ``diffusers_fallbacks`` (tiles, NaN/Inf guard, out of memory).
"""
from __future__ import annotations

import copy
import math
import threading

import numpy as np
import torch

from ..errors import ModelLoadError
from .base import LatentModel
from .diffusers_fallbacks import DecodeFallbacks

DEFAULT_SIZE = 256


def downsampling_factor(config: dict) -> int:
    if config.get("_class_name") == "AutoencoderTiny":
        return 2 ** (len(config.get("encoder_block_out_channels", (64, 64, 64, 64))) - 1)
    return 2 ** (len(config.get("block_out_channels", (64,))) - 1)


def parse_size(size, factor: int) -> tuple[int, int]:
    """``size`` (int, "H" / "HxW" or (H, W); None: 256) -> (H, W), each a multiple of ``factor``."""
    if size is None:
        size = DEFAULT_SIZE
    if isinstance(size, str):
        parts = size.lower().replace("×", "x").split("x")
        try:
            size = tuple(int(p) for p in parts)
        except ValueError:
            raise ModelLoadError(f"size {size!r}: expected a number of pixels such as 256 or 512x768") from None
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    h, w = (int(s) for s in size)
    for s in (h, w):
        if s <= 0 or s % factor:
            raise ModelLoadError(f"size {s}: the working size must be a positive multiple of {factor}, this "
                                 f"model's downsampling factor (e.g. {max(factor, DEFAULT_SIZE // factor * factor)})")
    return h, w


class DiffusersVAEModel(DecodeFallbacks, LatentModel):
    """An AutoencoderKL or AutoencoderTiny at a working size (default 256×256)."""

    def __init__(self, vae, spec: str = "", name: str = "", device: str = "cpu", precision: str = "fp32",
                 size=None, source: str = ""):
        from diffusers import AutoencoderKL

        self.vae = torch.nn.Module.to(vae.eval(), device=device, dtype=torch.float32)  # (skip diffusers' dtype warning)
        self.spec = spec
        self.name = name or spec
        self.source = source or spec
        self.device = device
        self.is_kl = isinstance(vae, AutoencoderKL)
        cfg = dict(vae.config)
        self.scaling_factor = float(cfg.get("scaling_factor") or 1.0)
        self.shift_factor = float(cfg.get("shift_factor") or 0.0)
        self.factor = downsampling_factor({"_class_name": type(vae).__name__, **cfg})
        self.latent_channels = int(cfg["latent_channels"])
        self.channels = 3
        self.precision = precision
        #: set when a reduced-precision decode produced NaN/Inf: from then on decode in fp32
        self.fp32_fallback = False
        #: things the user should hear about (fallbacks); the GUI shows and clears them
        self.notices: list[str] = []
        self._lowp = None
        self._linear = None
        self._paired = None
        self._learned = None
        self._hash = None
        #: guards what is built on first use (the linear preview, the reduced-precision decoder copy):
        #: built once however many threads ask at once (re-entrant: the preview's fit decodes)
        self._lazy_lock = threading.RLock()
        self.set_size(size)

    # ---------------------------------------------------------------- shape and size
    def set_size(self, size) -> None:
        """Change the working size (int or (H, W), multiples of ``factor``) without reloading."""
        self.image_size = parse_size(size, self.factor)
        h, w = self.image_size
        self.latent_shape = (self.latent_channels, h // self.factor, w // self.factor)
        if self._paired is not None:
            self._paired.set_size(self.image_size)

    @property
    def slow_decoder(self) -> bool:  # a full AutoencoderKL decode takes seconds on a CPU
        return self.is_kl and self.device == "cpu"

    @property
    def dtype(self) -> str:
        return str(self.decode_dtype).replace("torch.", "")

    def to(self, device: str) -> "DiffusersVAEModel":
        self.vae.to(device)
        if self._lowp is not None:
            self._lowp.to(device)
        self.device = device
        return self

    # ---------------------------------------------------------------- tensors
    def _images_to_tensor(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
        return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)

    @staticmethod
    def _tensor_to_images(x: torch.Tensor) -> np.ndarray:
        # as diffusers' VaeImageProcessor.postprocess: [-1, 1] -> [0, 1] -> ×255, rounded
        x = x.float().div(2).add_(0.5).clamp_(0, 1).mul_(255).round_()
        return x.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    @torch.inference_mode()
    def encode(self, images, batch_size: int = 8):
        x_all = self.prepare(images)
        self._tiling(self.vae, self.image_size)
        means, logvars = [], []
        for i in range(0, len(x_all), batch_size):
            x = self._images_to_tensor(x_all[i:i + batch_size])
            tile = self.own_tiles(tuple(x.shape[-2:]))
            if self.is_kl and tile:  # the posterior's moments (μ, log σ²) blended over full-size tiles
                from .tiles import blend

                moments = blend(lambda t: self.vae.encode(t).latent_dist.parameters, x, tile, self.factor, 1)
                mean, logvar = torch.chunk(moments, 2, dim=1)
                logvar = logvar.clamp(-30.0, 20.0)  # (as diffusers' posterior does)
                logvars.append((logvar + 2.0 * math.log(abs(self.scaling_factor))).float().cpu().numpy())
            elif self.is_kl:
                dist = self.vae.encode(x).latent_dist
                mean, logvar = dist.mean, dist.logvar
                logvars.append((logvar + 2.0 * math.log(abs(self.scaling_factor))).float().cpu().numpy())
            else:
                mean = self.vae.encode(x).latents
            means.append(((mean - self.shift_factor) * self.scaling_factor).float().cpu().numpy())
        if not means:
            empty = np.zeros((0, *self.latent_shape), np.float32)
            return empty, (empty.copy() if self.is_kl else None)
        return np.concatenate(means), (np.concatenate(logvars) if self.is_kl else None)

    def decode(self, z, batch_size: int = 4):
        z = np.asarray(z, dtype=np.float32).reshape(-1, *self.latent_shape)
        out = [self._tensor_to_images(self.decode_tensor(z[i:i + batch_size])) for i in range(0, len(z), batch_size)]
        if not out:
            return np.zeros((0, *self.image_size, 3), np.uint8)
        return np.concatenate(out)

    # ---------------------------------------------------------------- approximate preview
    def fit_preview(self, size: int | None = None, n_images: int = 4, seed: int = 0):
        """Fit the per-pixel linear latent -> RGB preview at ``size`` px (default 8 latent pixels,
        64 px for the SD VAE): about 2 s for the SD VAE on a CPU. Call it right after loading.

        The fit encodes at its own small size on a shallow copy that shares the VAE, so this model's
        working size never changes under the encodes and decodes of other threads meanwhile."""
        from .approx_preview import fit_linear_preview

        size = size or max(8 * self.factor, 32)
        fitter = copy.copy(self)
        fitter._paired = None  # (set_size would resize the paired TAESD, which other threads use)
        fitter._tiling = lambda *a, **k: None  # small images: leave the shared VAE's tiling as it is
        fitter.set_size(max(size - size % self.factor, 4 * self.factor))

        def enc(images):
            return fitter.encode(images)[0]

        def dec(z):
            out = [self.decode_tensor(z[i:i + 4]).float().div(2).add(0.5).clamp(0, 1).cpu()
                   for i in range(0, len(z), 4)]
            return torch.cat(out).numpy()

        with self._lazy_lock:
            self._linear = fit_linear_preview(enc, dec, self.factor, size=size, n_images=n_images, seed=seed)
            return self._linear

    def pair_preview_decoder(self, tiny: "DiffusersVAEModel | None") -> None:
        """Use a TAESD (AutoencoderTiny) model for ``approx_decode``; None unpairs it."""
        if tiny is not None:
            if tiny.latent_channels != self.latent_channels or tiny.factor != self.factor:
                raise ModelLoadError(
                    f"{tiny.spec}: cannot preview this model: it has {tiny.latent_channels} latent channels and "
                    f"factor {tiny.factor}, the model {self.latent_channels} and {self.factor}")
            tiny.set_size(self.image_size)
        self._paired = tiny

    def set_learned_preview(self, learned) -> None:
        """Use a fitted ``learned_preview.LearnedPreview`` for ``approx_decode`` (None: back to linear)."""
        if learned is not None and (learned.net.channels != self.latent_channels or learned.factor != self.factor):
            raise ModelLoadError(f"a learned preview for {learned.net.channels} latent channels and factor "
                                 f"{learned.factor} cannot preview this model ({self.latent_channels}, {self.factor})")
        self._learned = learned

    @property
    def learned_preview(self):
        return self._learned

    @property
    def preview_kind(self) -> str:
        if self._paired is not None:
            return "taesd"
        if self._learned is not None:
            return "learned"
        return "linear" if self._linear is not None else "none"

    def linear_decode(self, z) -> np.ndarray:
        """The per-pixel linear preview (fitted on first use if ``fit_preview`` was not called)."""
        z = np.asarray(z, dtype=np.float32).reshape(-1, *self.latent_shape)
        linear = self._linear
        if linear is None:
            with self._lazy_lock:  # fitted once, whoever asks first; the others wait for it
                if self._linear is None:
                    self.fit_preview()
                linear = self._linear
        return linear.decode(z, self.image_size)

    def approx_decode(self, z) -> np.ndarray:
        """A fast approximate decode (uint8 N×H×W×3): the paired TAESD, else the learned preview,
        else the linear one."""
        z = np.asarray(z, dtype=np.float32).reshape(-1, *self.latent_shape)
        if self._paired is not None:
            return self._paired.decode(z)
        if self._learned is not None:
            return self._learned.decode(z, self.image_size)
        return self.linear_decode(z)

    # ---------------------------------------------------------------- description
    def weights_hash(self) -> str:
        if self._hash is None:
            import hashlib

            h = hashlib.sha256()
            for k, v in sorted(self.vae.state_dict().items()):
                h.update(k.encode())
                h.update(v.detach().float().cpu().numpy().tobytes())
            self._hash = h.hexdigest()[:16]
        return self._hash

    def info(self) -> dict:
        d = super().info()
        cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(self.vae.config).items()
               if not k.startswith("_") or k == "_class_name"}
        d.update({
            "config": cfg, "source": self.source, "scaling_factor": self.scaling_factor,
            "shift_factor": self.shift_factor, "downsampling_factor": self.factor, "precision": self.precision,
            "fp32_fallback": self.fp32_fallback, "slow_decoder": self.slow_decoder, "preview": self.preview_kind,
            "parameters": sum(p.numel() for p in self.vae.parameters()),
        })
        if getattr(self, "config_note", ""):
            d["note"] = self.config_note
        return d
