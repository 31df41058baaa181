"""Checks every model file goes through, whatever its kind: one-line errors for the usual damage.

A missing or invalid ``config.json``, a git-LFS pointer where the weights should be, a truncated
or foreign safetensors file, NaN/Inf in the weights, and pickle files (never unpickled here).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelLoadError

PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle"}
LFS_MAGIC = b"version https://git-lfs"


def check_not_lfs_pointer(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(LFS_MAGIC):
        raise ModelLoadError(
            f"{path} is a git-LFS pointer file, not the weights: fetch the real file "
            f"(git lfs pull, or download it again) and try again")


def check_weights_file(path: Path) -> None:
    """The weights file is there, not empty, and not a git-LFS pointer standing in for it."""
    if not path.exists():
        raise ModelLoadError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: weights file is empty (0 bytes)")
    check_not_lfs_pointer(path)


def read_safetensors(path: Path):
    """Load a safetensors file to CPU tensors, with one-line errors for the usual damage."""
    from safetensors.torch import load_file

    check_weights_file(path)
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
