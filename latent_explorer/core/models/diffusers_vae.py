"""Hugging Face VAEs (diffusers AutoencoderKL / AutoencoderTiny) behind LatentModel."""
from __future__ import annotations

from pathlib import Path

from ..errors import ModelLoadError


def _not_yet(what: str):
    raise ModelLoadError(f"{what}: Stable Diffusion / diffusers VAEs are not supported in this version yet")


def load_diffusers_folder(path: Path, spec: str, device: str, precision: str, **kw):
    _not_yet(str(path))


def load_single_file(path: Path, spec: str, device: str, precision: str, allow_pickle=False, **kw):
    _not_yet(str(path))


def load_hub(spec: str, device: str, precision: str, **kw):
    _not_yet(spec)
