"""Hub ids (``org/name``): find a VAE folder in the Hugging Face cache, or download just the VAE.

Offline (``HF_HUB_OFFLINE=1``) we only look in the cache, which takes milliseconds; a plain
offline ``from_pretrained`` can spend 20+ s retrying. Online we fetch only the VAE's
config.json and weights (the ``vae/`` subfolder of a pipeline repo), never the whole pipeline.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ModelLoadError

VAE_CLASSES = ("AutoencoderKL", "AutoencoderTiny")
WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "model.safetensors",
                "diffusion_pytorch_model.fp16.safetensors")


def hub_cache_dir() -> Path:
    """The hub cache as the environment says now (huggingface_hub reads it once, at import)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def is_offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover - huggingface_hub always comes with diffusers
        return False


def _vae_class(config_path: str | Path) -> str | None:
    try:
        return json.loads(Path(config_path).read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None


def cached_vae_folder(repo_id: str, revision: str | None = None) -> Path | None:
    """The snapshot folder holding the repo's VAE config.json (root or ``vae/``), if cached."""
    from huggingface_hub import try_to_load_from_cache

    cache = hub_cache_dir()
    for name in ("config.json", "vae/config.json"):
        try:
            hit = try_to_load_from_cache(repo_id, name, cache_dir=str(cache), revision=revision)
        except Exception:  # a malformed id or cache: treat as not cached
            hit = None
        if isinstance(hit, str) and _vae_class(hit) in VAE_CLASSES:
            return Path(hit).parent
    return None


def _download_vae_folder(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    cache = str(hub_cache_dir())
    for sub in ("", "vae"):
        try:
            cfg = hf_hub_download(repo_id, "config.json", subfolder=sub or None, revision=revision, cache_dir=cache)
        except EntryNotFoundError:
            continue
        if _vae_class(cfg) not in VAE_CLASSES:
            continue
        for weights in WEIGHT_NAMES:
            try:
                hf_hub_download(repo_id, weights, subfolder=sub or None, revision=revision, cache_dir=cache)
                return Path(cfg).parent
            except EntryNotFoundError:
                continue
        raise ModelLoadError(f"{repo_id}: the VAE has no safetensors weights on the hub "
                             f"(looked for {', '.join(WEIGHT_NAMES)})")
    raise ModelLoadError(f"{repo_id}: no AutoencoderKL/AutoencoderTiny config.json at the repo root or in vae/")


def resolve_hub_vae(repo_id: str, revision: str | None = None) -> Path:
    """A local folder with the VAE of ``repo_id``: from the cache, else downloaded (when online)."""
    folder = cached_vae_folder(repo_id, revision)
    if folder is not None:
        return folder
    if is_offline():
        raise ModelLoadError(
            f"{repo_id}: not in the Hugging Face cache ({hub_cache_dir()}) and HF_HUB_OFFLINE is set; "
            f"download it once while online, or open a local folder or .safetensors file")
    try:
        return _download_vae_folder(repo_id, revision)
    except ModelLoadError:
        raise
    except Exception as e:  # RepositoryNotFound, gated repos, no network: one line, with the cause
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ModelLoadError(f"{repo_id}: could not download from the Hugging Face hub ({type(e).__name__}: "
                             f"{first})") from None
