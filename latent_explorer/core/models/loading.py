"""``load_model(spec)``: one spec string for the CLI, the GUI's open dialog and the API.

A spec is a bundled name (``digits``, ``digits-2d``, ``shapes``), a folder in the project's
format (config.json + model.safetensors), a diffusers VAE folder, a single Stable Diffusion
``.safetensors`` VAE file, or a Hugging Face hub id ``org/name``. Every way a spec can be
wrong raises ``ModelLoadError`` with one line that names the file and the remedy. Pickle
files are never unpickled unless the caller explicitly allows it (then weights_only=True).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import ModelLoadError
from ..paths import resources_dir
from .base import LatentModel

BUNDLED_MODELS = {
    "digits": "ConvVAE, 16-d latent, trained on mnist-5k (the default)",
    "digits-2d": "ConvVAE, 2-d latent, trained on mnist-5k: its map is the latent space itself",
    "shapes": "β-TCVAE, 10-d latent, trained on procedural shapes with 7 known factors",
}
DEFAULT_MODEL = "digits"
PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
LFS_MAGIC = b"version https://git-lfs"


def bundled_models() -> dict[str, Path]:
    root = resources_dir() / "models"
    return {name: root / name for name in BUNDLED_MODELS}


def check_not_lfs_pointer(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(LFS_MAGIC):
        raise ModelLoadError(
            f"{path} is a git-LFS pointer file, not the weights: fetch the real file "
            f"(git lfs pull, or download it again) and try again")


def read_safetensors(path: Path):
    """Load a safetensors file to CPU tensors, with one-line errors for the usual damage."""
    from safetensors.torch import load_file

    if not path.exists():
        raise ModelLoadError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: weights file is empty (0 bytes)")
    check_not_lfs_pointer(path)
    try:
        state = load_file(str(path))
    except Exception as e:  # SafetensorError, OSError: truncated or not safetensors at all
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelLoadError(f"{path}: not a readable safetensors file, perhaps truncated ({msg})") from None
    check_finite(state, path)
    return state


def check_finite(state: dict, path: Path) -> None:
    import torch

    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ModelLoadError(f"{path}: weights contain NaN or Inf in {', '.join(bad[:3])}"
                             f"{' …' if len(bad) > 3 else ''}: the file is corrupted")


def read_config(folder: Path) -> dict:
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise ModelLoadError(f"{folder}: no config.json, so this is not a model folder "
                             f"(expected config.json + model.safetensors)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise ModelLoadError(f"{cfg_path}: expected a JSON object")
    return cfg


def refuse_pickle(path: Path) -> None:
    raise ModelLoadError(
        f"{path}: refusing to load a pickle checkpoint ({path.suffix}); pickles can run code when "
        f"loaded. Convert it to safetensors, or allow it explicitly (allow_pickle=True / "
        f"--allow-pickle), which loads tensors only (weights_only=True)")


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
        try:
            metrics = json.loads(mp.read_text())
        except json.JSONDecodeError:
            metrics = {}
    return ConvVAEModel(vae, spec=spec, name=name or folder.name, device=device, metrics=metrics, folder=folder)


def load_model(spec: str = DEFAULT_MODEL, device: str = "auto", precision: str = "fp32",
               allow_pickle: bool = False, **kwargs) -> LatentModel:
    """Turn a spec string into a ready LatentModel on ``device`` ("auto": CUDA, MPS, else CPU)."""
    from ..device import resolve_device

    if precision not in ("fp32", "bf16", "fp16"):
        raise ModelLoadError(f"unknown precision {precision!r}: use fp32, bf16 or fp16")
    spec = str(spec)
    dev = resolve_device(device)
    if spec in BUNDLED_MODELS:
        folder = bundled_models()[spec]
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
            return load_model(str(path.parent), device, precision, allow_pickle, **kwargs)
        raise ModelLoadError(f"{path}: not a model file (expected a folder, a .safetensors file or a hub id)")
    if _HUB_ID.match(spec) and not spec.startswith((".", "/", "~")):
        from .diffusers_vae import load_hub

        return load_hub(spec, dev, precision, allow_pickle=allow_pickle, **kwargs)
    raise ModelLoadError(f"unknown model {spec!r}: not a bundled name ({', '.join(BUNDLED_MODELS)}), "
                         f"an existing folder or file, or a hub id org/name")
