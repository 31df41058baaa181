"""Loading diffusers VAEs: a diffusers folder, a single ``.safetensors`` file, a hub id.

A single file may use the original Stable Diffusion (LDM) key layout or the diffusers one, and
may be a whole checkpoint (only the VAE's tensors are read); its architecture is inferred from
the weights unless a config folder is given. Pickle files are refused unless allowed, and then
read as tensors only. Keys and shapes are checked before anything is built, with one-line errors.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ModelLoadError
from .checks import (PICKLE_SUFFIXES, check_finite, check_not_lfs_pointer, check_weights_file, read_config,
                     read_safetensors, refuse_pickle)
from .diffusers_model import DiffusersVAEModel

_FOLDER_WEIGHTS = ("diffusion_pytorch_model.safetensors", "model.safetensors",
                   "diffusion_pytorch_model.fp16.safetensors")
_VAE_TOP_LEVEL = {"encoder", "decoder", "quant_conv", "post_quant_conv"}
_FOLDER_PICKLES = ("diffusion_pytorch_model.bin", "pytorch_model.bin", "diffusion_pytorch_model.fp16.bin")


def build_vae(config: dict, state: dict, source: str):
    """An AutoencoderKL/Tiny from ``config`` with ``state`` loaded; keys and shapes checked first."""
    from diffusers import AutoencoderKL, AutoencoderTiny

    classes = {"AutoencoderKL": AutoencoderKL, "AutoencoderTiny": AutoencoderTiny}
    cls_name = config.get("_class_name")
    if cls_name not in classes:
        raise ModelLoadError(f"{source}: model class {cls_name!r} is not supported yet "
                             f"(supported: AutoencoderKL, AutoencoderTiny)")
    cfg = {k: v for k, v in config.items() if not k.startswith("_")}
    try:
        # on the meta device: no time spent initialising weights that are replaced at once
        with torch.device("meta"):
            vae = classes[cls_name].from_config(cfg)
    except Exception as e:  # bad values: wrong types, channels not divisible by groups, ...
        raise ModelLoadError(f"{source}: config.json does not describe a valid {cls_name} "
                             f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    from .ldm_convert import rename_deprecated_attention

    state = rename_deprecated_attention(state)
    from .checks import state_mismatch

    expected = vae.state_dict()
    problem = state_mismatch(expected, state)
    if problem:
        raise ModelLoadError(f"{source}: weights do not match the config: {problem}")
    vae.load_state_dict({k: state[k].to(torch.float32) for k in expected}, strict=True, assign=True)
    on_meta = [n for n, t in [*vae.named_parameters(), *vae.named_buffers()] if t.is_meta]
    if on_meta:  # a buffer that is not in the state dict: build it for real instead
        vae = classes[cls_name].from_config(cfg)
        vae.load_state_dict({k: state[k] for k in expected}, strict=True)
    return vae


def _read_pickle(path: Path) -> dict:
    check_not_lfs_pointer(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise ModelLoadError(f"{path}: could not load it as tensors only (weights_only=True): {first}") from None
    for wrapper in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values() if v is not None):
        raise ModelLoadError(f"{path}: not a state dict of tensors")
    state = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    check_finite(state, path)
    return state


def _read_vae_tensors(path: Path, allow_pickle: bool) -> dict:
    """The VAE tensors of a single file (a bare VAE or a full checkpoint), prefix removed."""
    from .ldm_convert import strip_vae_prefix

    if path.suffix.lower() in PICKLE_SUFFIXES:
        if not allow_pickle:
            refuse_pickle(path)
        state = _read_pickle(path)
        prefix = strip_vae_prefix(state)
        if prefix is None:
            raise _no_vae_error(path, state)
        return {k[len(prefix):]: v for k, v in state.items() if _is_vae_key(k, prefix)}
    check_weights_file(path)
    from safetensors import safe_open

    try:
        # read only the VAE's tensors: a full SD checkpoint holds gigabytes of UNet we don't need
        with safe_open(str(path), framework="pt", device="cpu") as f:
            keys = list(f.keys())
            prefix = strip_vae_prefix(keys)
            if prefix is None:
                raise _no_vae_error(path, keys)
            state = {k[len(prefix):]: f.get_tensor(k) for k in keys if _is_vae_key(k, prefix)}
    except ModelLoadError:
        raise
    except Exception as e:
        msg = (str(e).splitlines() or [type(e).__name__])[0]
        raise ModelLoadError(f"{path}: not a readable safetensors file, perhaps truncated ({msg})") from None
    check_finite(state, path)
    return state


def _is_vae_key(key: str, prefix: str) -> bool:
    # full checkpoints and some VAE files also hold a UNet, text encoders, EMA copies or a loss module
    return key.startswith(prefix) and key[len(prefix):].split(".", 1)[0] in _VAE_TOP_LEVEL


def _no_vae_error(path: Path, keys) -> ModelLoadError:
    some = ", ".join(sorted(keys)[:3]) or "none"
    return ModelLoadError(f"{path}: no VAE weights found (expected keys like encoder.conv_in.weight or "
                          f"first_stage_model.encoder.conv_in.weight; the file has {some} …)")


def _config_from(config) -> dict:
    p = Path(config).expanduser()
    return read_config(p.parent if p.is_file() else p)


def _make_model(vae, spec, device, precision, size, source, note: str = ""):
    name = Path(spec).name if Path(spec).exists() else spec
    model = DiffusersVAEModel(vae, spec=spec, name=name, device=device, precision=precision, size=size,
                              source=source)
    model.config_note = note
    return model


def _check_kwargs(kw: dict) -> None:
    unknown = set(kw) - {"scaling_factor", "shift_factor"}
    if unknown:
        raise TypeError(f"unexpected arguments for a diffusers VAE: {', '.join(sorted(unknown))}")


def _apply_factor_overrides(cfg: dict, kw: dict) -> dict:
    for k in ("scaling_factor", "shift_factor"):
        if kw.get(k) is not None:
            cfg[k] = float(kw[k])
    return cfg


# -------------------------------------------------------------------- the three loaders load_model calls
def load_diffusers_folder(path: Path, spec: str, device: str, precision: str, size=None, config=None,
                          allow_pickle: bool = False, **kw):
    """A diffusers folder: config.json + diffusion_pytorch_model.safetensors (or an allowed .bin)."""
    _check_kwargs(kw)
    path = Path(path)
    cfg = _apply_factor_overrides(_config_from(config) if config else read_config(path), kw)
    weights = next((path / n for n in _FOLDER_WEIGHTS if (path / n).exists()), None)
    if weights is None:
        found = sorted(path.glob("*.safetensors"))
        weights = found[0] if len(found) == 1 else None
    if weights is not None:
        state = read_safetensors(weights)
    else:
        pickled = next((path / n for n in _FOLDER_PICKLES if (path / n).exists()), None)
        if pickled is None:
            raise ModelLoadError(f"{path}: no weights file (expected diffusion_pytorch_model.safetensors "
                                 f"beside config.json)")
        if not allow_pickle:
            refuse_pickle(pickled)
        weights, state = pickled, _read_pickle(pickled)
    vae = build_vae(cfg, state, str(weights))
    return _make_model(vae, spec, device, precision, size, str(path))


def load_single_file(path: Path, spec: str, device: str, precision: str, allow_pickle: bool = False,
                     size=None, config=None, **kw):
    """One VAE file, original SD (LDM) layout or diffusers layout, maybe inside a full checkpoint."""
    from .ldm_convert import infer_kl_config, is_ldm_layout, ldm_to_diffusers

    _check_kwargs(kw)
    path = Path(path)
    state = _read_vae_tensors(path, allow_pickle)
    if is_ldm_layout(state):
        state, unknown = ldm_to_diffusers(state)
        if unknown:
            raise ModelLoadError(f"{path}: {len(unknown)} tensor names not in the Stable Diffusion VAE layout, "
                                 f"e.g. {', '.join(unknown[:3])}")
    note = ""
    if config:
        cfg = _config_from(config)
    else:
        try:
            cfg = infer_kl_config(state)
        except ValueError as e:
            raise ModelLoadError(f"{path}: cannot infer the architecture ({e}); pass --config with the "
                                 f"model's config.json folder") from None
        note = (f"architecture inferred from the weights; scaling_factor {cfg['scaling_factor']} and "
                f"shift_factor {cfg['shift_factor'] or 0} assumed for {cfg['latent_channels']} latent channels "
                f"(pass --config for the exact values, e.g. the SDXL VAE uses 0.13025)")
    cfg = _apply_factor_overrides(cfg, kw)
    vae = build_vae(cfg, state, str(path))
    return _make_model(vae, spec, device, precision, size, str(path), note)


def load_hub(spec: str, device: str, precision: str, size=None, config=None, allow_pickle: bool = False, **kw):
    """A hub id: the VAE from the local Hugging Face cache, or downloaded when online."""
    from .hf_hub import resolve_hub_vae

    repo, _, revision = spec.partition("@")
    folder = resolve_hub_vae(repo, revision or None)
    return load_diffusers_folder(folder, spec, device, precision, size=size, config=config,
                                 allow_pickle=allow_pickle, **kw)
