"""Decoding a diffusers VAE when the easy way fails: tiles, reduced precision, less memory.

``DecodeFallbacks`` is mixed into ``DiffusersVAEModel`` and holds its decode ladder:

* images larger than ``TILE_ABOVE`` pixels (either side) are decoded in ``TILE_SIZE`` tiles by
  diffusers. A model may set its own ``tile_above`` and ``tile_size`` (``photos-sd``: the 64 px
  it was trained on, as its attention and normalisation do not carry over to larger images):
  it is then encoded and decoded in full-size overlapping tiles of that size (``tiles.py``), with
  no cut-short tiles at the far edges;
* bf16/fp16 decodes run on a decoder-only copy in that precision, guarded for NaN/Inf: the
  first overflow switches the model to fp32 for good (``fp32_fallback``) with a notice;
* CUDA out of memory: decode in tiles from then on, and if even that fails, move to the CPU.

The host class provides ``vae``, ``factor``, ``image_size``, ``device``, ``precision``,
``scaling_factor``, ``shift_factor``, ``name``, ``notices``, ``fp32_fallback``, ``_lowp``, ``_lazy_lock``
(an RLock) and ``to``.
"""
from __future__ import annotations

import copy
import logging

import numpy as np
import torch

log = logging.getLogger(__name__)

#: images larger than this (either side) are encoded/decoded in tiles on any device
TILE_ABOVE = 1024
TILE_SIZE = 512
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_bf16_units() -> list[str]:
    """The CPU's bf16 matrix/vector units (avx512_bf16, amx_bf16) from /proc/cpuinfo; [] if none
    or unknown. Without them torch runs bf16 convolutions far slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return []
    return sorted({"avx512_bf16", "amx_bf16"} & set(flags))


class DecodeFallbacks:
    """The decode ladder of a diffusers VAE model (see the module docstring)."""

    def set_precision(self, precision: str) -> None:
        """The full decode's precision from now on ("fp32", "bf16" or "fp16"); the reduced-precision
        copy of the decoder is made again, in the new dtype, at the next decode."""
        if precision not in _DTYPES:
            raise ValueError(f"precision {precision!r}: use one of {', '.join(_DTYPES)}")
        if precision != self.precision:
            self.precision = precision
            self._lowp = None

    @property
    def decode_dtype(self) -> torch.dtype:
        if self.fp32_fallback:
            return torch.float32
        return _DTYPES[self.precision]

    def own_tiles(self, pixels: tuple[int, int]) -> int:
        """The tile size in latent pixels when this model tiles images of ``pixels`` itself, else 0."""
        size = getattr(self, "tile_size", None)
        if size and max(pixels) > int(getattr(self, "tile_above", size)):
            return int(size) // self.factor
        return 0

    def _decode_call(self, vae, z: torch.Tensor) -> torch.Tensor:
        tile = self.own_tiles((z.shape[-2] * self.factor, z.shape[-1] * self.factor))
        if tile and not getattr(vae, "_oom_tiling", False):
            from .tiles import blend

            return blend(lambda t: vae.decode(t).sample, z, tile, 1, self.factor)
        return vae.decode(z).sample

    def _tiling(self, vae, pixels: tuple[int, int], force: bool = False) -> None:
        if self.own_tiles(pixels) and not force:  # tiled here (full tiles), not by diffusers
            if vae.use_tiling and not getattr(vae, "_oom_tiling", False):
                vae.disable_tiling()
            return
        size = int(getattr(self, "tile_size", TILE_SIZE))
        want = force or max(pixels) > int(getattr(self, "tile_above", TILE_ABOVE))
        if want and not vae.use_tiling:
            vae.enable_tiling()
            vae.tile_sample_min_size = size
            vae.tile_latent_min_size = size // self.factor
        elif not want and vae.use_tiling and not getattr(vae, "_oom_tiling", False):
            vae.disable_tiling()

    def _lowp_vae(self):
        lowp = self._lowp
        if lowp is None:
            with self._lazy_lock:  # one copy, however many threads make the first decode at once
                if self._lowp is None:
                    lowp = copy.deepcopy(self.vae)
                    lowp.encoder = torch.nn.Identity()  # decode only: don't hold a second encoder
                    self._lowp = torch.nn.Module.to(lowp, dtype=self.decode_dtype)
                lowp = self._lowp
        return lowp

    def _run_decode(self, vae, z: torch.Tensor) -> torch.Tensor:
        """vae.decode with the CUDA out-of-memory ladder: tiled, then the CPU."""
        while True:
            try:
                return self._decode_call(vae, z)
            except torch.OutOfMemoryError:
                if not str(z.device).startswith("cuda"):
                    raise
                torch.cuda.empty_cache()
                if not vae.use_tiling:
                    self._tiling(vae, self.image_size, force=True)
                    vae._oom_tiling = True
                    self._notice("GPU out of memory: decoding in tiles from now on")
                else:
                    self._notice("GPU out of memory even in tiles: moved the model to the CPU")
                    self.to("cpu")
                    z = z.to("cpu")

    def _notice(self, text: str) -> None:
        log.warning("%s: %s", self.name, text)
        self.notices.append(text)

    @torch.inference_mode()
    def decode_tensor(self, z: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Latents N×C×h×w -> float RGB N×3×H×W in [-1, 1] (on the CPU? no: on the model's device)."""
        zt = torch.as_tensor(np.asarray(z, np.float32) if not torch.is_tensor(z) else z).to(self.device)
        zt = zt.float() / self.scaling_factor + self.shift_factor
        pixels = (zt.shape[-2] * self.factor, zt.shape[-1] * self.factor)
        if self.decode_dtype != torch.float32:
            lowp = self._lowp_vae()
            self._tiling(lowp, pixels)
            x = self._run_decode(lowp, zt.to(self.decode_dtype))
            if torch.isfinite(x).all():
                return x.float()
            self.fp32_fallback = True
            self._lowp = None
            self._notice(f"{self.precision} decode overflowed (NaN/Inf): decoding in fp32 from now on")
        self._tiling(self.vae, pixels)
        return self._run_decode(self.vae, zt)
