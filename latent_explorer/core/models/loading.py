"""``load_model(spec)``: one spec string for the CLI, the GUI's open dialog and the API.

A spec is a bundled name (``digits``, ``digits-2d``, ``shapes``, ``digits-2d-ae``,
``digits-2d-beta8``, ``photos-sd``: a diffusers folder), a folder in the project's
format (config.json + model.safetensors), a diffusers VAE folder, a single Stable Diffusion
``.safetensors`` VAE file, or a Hugging Face hub id ``org/name``. Every way a spec can be
wrong raises ``ModelLoadError`` with one line that names the file and the remedy. Pickle
files are never unpickled unless the caller explicitly allows it (then weights_only=True).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..jsonio import read_bounded
from ..errors import ModelLoadError
from ..paths import resources_dir
from .base import LatentModel
from .checks import PICKLE_SUFFIXES, read_config, read_safetensors, refuse_pickle

BUNDLED_MODELS = {
    "digits": "ConvVAE, 16-d latent, trained on mnist-5k (the default)",
    "digits-2d": "ConvVAE, 2-d latent, trained on mnist-5k: its map is the latent space itself",
    "shapes": "β-VAE (β = 8), 10-d latent, trained on procedural shapes with 7 known factors",
    # digits-2d at other KL weights (a slimmer network, same data and augmentation): what β does
    "digits-2d-ae": "plain autoencoder (β = 0), 2-d latent, mnist-5k: holes the prior covers but no digit reaches",
    "digits-2d-beta8": "β-VAE (β = 8), 2-d latent, mnist-5k: less KL, blurrier digits, a map that fills the prior",
    "photos-sd": "a small Stable Diffusion-style VAE (diffusers AutoencoderKL, 4-channel latents at 1/4 the image size) trained on photo crops",
}
DEFAULT_MODEL = "digits"
BUNDLED_SD_SIZE = 128  # photos-sd's working size unless one is asked for
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def bundled_models() -> dict[str, Path]:
    root = resources_dir() / "models"
    return {name: root / name for name in BUNDLED_MODELS}


def _load_project_folder(folder: Path, spec: str, device: str, name: str = "") -> LatentModel:
    from .convvae_model import ConvVAEModel, build_convvae

    cfg = read_config(folder)
    state = read_safetensors(folder / "model.safetensors")
    try:
        vae = build_convvae(cfg, state)
    except (ValueError, TypeError) as e:
        raise ModelLoadError(f"{folder}: {e}") from None
    metrics = {}
    mp = folder / "metrics.json"
    if mp.exists():
        try:  # (a damaged or hostile metrics.json costs the metrics, never the model)
            metrics = read_bounded(mp, max_bytes=2**20)
        except (OSError, ValueError):
            metrics = {}
        metrics = metrics if isinstance(metrics, dict) else {}
    return ConvVAEModel(vae, spec=spec, name=name or folder.name, device=device, metrics=metrics, folder=folder)


def _load_bundled_diffusers(folder: Path, spec: str, device: str, precision: str, **kwargs) -> LatentModel:
    """A bundled diffusers VAE: named by its bundled name, its metrics (and map dataset) attached."""
    from .diffusers_vae import load_diffusers_folder

    if kwargs.get("size") is None:  # trained on 64 px crops: 128 px by default (any multiple of 4 works)
        kwargs["size"] = BUNDLED_SD_SIZE
    model = load_diffusers_folder(folder, spec, device, precision, **kwargs)
    model.name = spec
    # trained on 64 px crops: larger images are encoded and decoded in overlapping tiles of that size
    # (whole 256 px images lose 4 dB: its attention and GroupNorm statistics do not carry over)
    model.tile_above = model.tile_size = int(model.vae.config.sample_size)
    try:
        model.metrics = read_bounded(folder / "metrics.json", max_bytes=2**20)
    except (OSError, ValueError):
        model.metrics = {}
    return model


def load_model(spec: str = DEFAULT_MODEL, device: str = "auto", precision: str = "fp32",
               allow_pickle: bool = False, preview: str | None = None, **kwargs) -> LatentModel:
    """Turn a spec string into a ready LatentModel on ``device`` ("auto": CUDA, MPS, else CPU).

    ``preview``: the spec of a TAESD (AutoencoderTiny) model to pair with a diffusers VAE as its
    fast approximate decoder.
    """
    model = _load(spec, device, precision, allow_pickle, **kwargs)
    if preview:
        if not hasattr(model, "pair_preview_decoder"):
            raise ModelLoadError(f"{spec}: only Stable Diffusion-style VAEs take a preview decoder")
        tiny = load_model(str(preview), device=str(model.device))
        if type(tiny) is not type(model):  # a diffusers model too (pairing checks channels and factor)
            raise ModelLoadError(f"{preview}: a preview decoder must be a TAESD (AutoencoderTiny) model")
        model.pair_preview_decoder(tiny)
    return model


def _load(spec: str, device: str, precision: str, allow_pickle: bool, **kwargs) -> LatentModel:
    from ..device import resolve_device

    if precision not in ("fp32", "bf16", "fp16"):
        raise ModelLoadError(f"unknown precision {precision!r}: use fp32, bf16 or fp16")
    spec = str(spec)
    dev = resolve_device(device)
    if spec in BUNDLED_MODELS:
        folder = bundled_models()[spec]
        if (folder / "diffusion_pytorch_model.safetensors").exists():
            return _load_bundled_diffusers(folder, spec, dev, precision, **kwargs)
        if not (folder / "model.safetensors").exists():
            raise ModelLoadError(f"bundled model {spec!r} is missing from {folder} (reinstall latent-explorer)")
        return _load_project_folder(folder, spec, dev, name=spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists() and (path / "vae" / "config.json").exists():
            path = path / "vae"  # a local diffusers pipeline folder: its VAE
        cfg = read_config(path)
        cls = cfg.get("_class_name", "ConvVAE" if "latent_dim" in cfg else None)
        if cls == "ConvVAE":
            return _load_project_folder(path, spec, dev)
        if cls in ("AutoencoderKL", "AutoencoderTiny"):
            from .diffusers_vae import load_diffusers_folder

            return load_diffusers_folder(path, spec, dev, precision, allow_pickle=allow_pickle, **kwargs)
        raise ModelLoadError(f"{path}: model class {cls!r} is not supported yet "
                             f"(supported: ConvVAE, AutoencoderKL, AutoencoderTiny)")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in PICKLE_SUFFIXES:
            if not allow_pickle:
                refuse_pickle(path)
            from .diffusers_vae import load_single_file

            return load_single_file(path, spec, dev, precision, allow_pickle=True, **kwargs)
        if suffix == ".safetensors":
            from .diffusers_vae import load_single_file

            return load_single_file(path, spec, dev, precision, **kwargs)
        if suffix == ".json":
            return _load(str(path.parent), device, precision, allow_pickle, **kwargs)
        raise ModelLoadError(f"{path}: not a model file (expected a folder, a .safetensors file or a hub id)")
    if _HUB_ID.match(spec) and not spec.startswith((".", "/", "~")):
        from .diffusers_vae import load_hub

        return load_hub(spec, dev, precision, allow_pickle=allow_pickle, **kwargs)
    raise ModelLoadError(f"unknown model {spec!r}: not a bundled name ({', '.join(BUNDLED_MODELS)}), "
                         f"an existing folder or file, or a hub id org/name")
