"""Hugging Face VAEs (diffusers AutoencoderKL / AutoencoderTiny): every public name in one place.

The code lives in three modules, one idea each:

* ``diffusers_model``: ``DiffusersVAEModel``, the LatentModel adapter (latent scaling, sizes,
  encode/decode, approximate previews, info);
* ``diffusers_fallbacks``: its decode ladder (tiling, reduced precision with a NaN/Inf guard,
  CUDA out of memory) and ``cpu_bf16_units``;
* ``diffusers_load``: building a VAE from config + weights, and the three loaders ``load_model``
  calls (a diffusers folder, a single file, a hub id).

This module re-exports them so ``from .diffusers_vae import ...`` keeps working.
"""
from __future__ import annotations

from .diffusers_fallbacks import _DTYPES, TILE_ABOVE, TILE_SIZE, DecodeFallbacks, cpu_bf16_units
from .diffusers_load import (_FOLDER_PICKLES, _FOLDER_WEIGHTS, _VAE_TOP_LEVEL, _apply_factor_overrides,
                             _check_kwargs, _config_from, _is_vae_key, _make_model, _no_vae_error,
                             _read_pickle, _read_vae_tensors, build_vae, load_diffusers_folder, load_hub,
                             load_single_file)
from .diffusers_model import DEFAULT_SIZE, DiffusersVAEModel, downsampling_factor, parse_size

__all__ = [
    "DEFAULT_SIZE", "TILE_ABOVE", "TILE_SIZE", "DecodeFallbacks", "DiffusersVAEModel", "build_vae",
    "cpu_bf16_units", "downsampling_factor", "load_diffusers_folder", "load_hub", "load_single_file",
    "parse_size", "_DTYPES", "_FOLDER_PICKLES", "_FOLDER_WEIGHTS", "_VAE_TOP_LEVEL", "_apply_factor_overrides",
    "_check_kwargs", "_config_from", "_is_vae_key", "_make_model", "_no_vae_error", "_read_pickle",
    "_read_vae_tensors",
]
