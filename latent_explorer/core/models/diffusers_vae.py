"""Hugging Face VAEs (diffusers AutoencoderKL / AutoencoderTiny) behind LatentModel.

The latent is the one diffusion pipelines use: ``z = (posterior_mean - shift) * scale``;
``decode`` inverts it before calling the VAE. Images go in as uint8 and are scaled to [-1, 1]
as diffusers expects; decoded images are clamped and rounded back to uint8 the way
diffusers' image processor does. Encoding is always fp32; decoding runs in the requested
precision with a NaN/Inf guard that falls back to fp32 for good.

Loaders: a diffusers folder, a single ``.safetensors`` VAE file (original SD key layout or
diffusers layout, architecture inferred unless a config folder is given) and a hub id.
"""
from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelLoadError
from .base import LatentModel
from .checks import (PICKLE_SUFFIXES, check_finite, check_not_lfs_pointer, check_weights_file, read_config,
                     read_safetensors, refuse_pickle)

log = logging.getLogger(__name__)

DEFAULT_SIZE = 256
#: images larger than this (either side) are encoded/decoded in tiles on any device
TILE_ABOVE = 1024
TILE_SIZE = 512
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_FOLDER_WEIGHTS = ("diffusion_pytorch_model.safetensors", "model.safetensors",
                   "diffusion_pytorch_model.fp16.safetensors")
_VAE_TOP_LEVEL = {"encoder", "decoder", "quant_conv", "post_quant_conv"}
_FOLDER_PICKLES = ("diffusion_pytorch_model.bin", "pytorch_model.bin", "diffusion_pytorch_model.fp16.bin")


def cpu_bf16_units() -> list[str]:
    """The CPU's bf16 matrix/vector units (avx512_bf16, amx_bf16) from /proc/cpuinfo; [] if none
    or unknown. Without them torch runs bf16 convolutions far slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return []
    return sorted({"avx512_bf16", "amx_bf16"} & set(flags))


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


class DiffusersVAEModel(LatentModel):
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
        self._hash = None
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

    @property
    def decode_dtype(self) -> torch.dtype:
        if self.fp32_fallback:
            return torch.float32
        return _DTYPES[self.precision]

    def to(self, device: str) -> "DiffusersVAEModel":
        self.vae.to(device)
        if self._lowp is not None:
            self._lowp.to(device)
        self.device = device
        return self

    # ---------------------------------------------------------------- tensors
    def _tiling(self, vae, pixels: tuple[int, int], force: bool = False) -> None:
        want = force or max(pixels) > TILE_ABOVE
        if want and not vae.use_tiling:
            vae.enable_tiling()
            vae.tile_sample_min_size = TILE_SIZE
            vae.tile_latent_min_size = TILE_SIZE // self.factor
        elif not want and vae.use_tiling and not getattr(vae, "_oom_tiling", False):
            vae.disable_tiling()

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
            if self.is_kl:
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

    def _lowp_vae(self):
        if self._lowp is None:
            lowp = copy.deepcopy(self.vae)
            lowp.encoder = torch.nn.Identity()  # decode only: don't hold a second encoder
            self._lowp = torch.nn.Module.to(lowp, dtype=self.decode_dtype)
        return self._lowp

    def _run_decode(self, vae, z: torch.Tensor) -> torch.Tensor:
        """vae.decode with the CUDA out-of-memory ladder: tiled, then the CPU."""
        while True:
            try:
                return vae.decode(z).sample
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

    def decode(self, z, batch_size: int = 4):
        z = np.asarray(z, dtype=np.float32).reshape(-1, *self.latent_shape)
        out = [self._tensor_to_images(self.decode_tensor(z[i:i + batch_size])) for i in range(0, len(z), batch_size)]
        if not out:
            return np.zeros((0, *self.image_size, 3), np.uint8)
        return np.concatenate(out)

    # ---------------------------------------------------------------- approximate preview
    def fit_preview(self, size: int | None = None, n_images: int = 4, seed: int = 0):
        """Fit the per-pixel linear latent -> RGB preview at ``size`` px (default 8 latent pixels,
        64 px for the SD VAE): about 2 s for the SD VAE on a CPU. Call it right after loading."""
        from .approx_preview import fit_linear_preview

        size = size or max(8 * self.factor, 32)

        def enc(images):
            h = max(size - size % self.factor, 4 * self.factor)
            old = self.image_size
            self.set_size(h)
            try:
                return self.encode(images)[0]
            finally:
                self.set_size(old)

        def dec(z):
            out = [self.decode_tensor(z[i:i + 4]).float().div(2).add(0.5).clamp(0, 1).cpu()
                   for i in range(0, len(z), 4)]
            return torch.cat(out).numpy()

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

    @property
    def preview_kind(self) -> str:
        if self._paired is not None:
            return "taesd"
        return "linear" if self._linear is not None else "none"

    def approx_decode(self, z) -> np.ndarray:
        """A fast approximate decode (uint8 N×H×W×3): the paired TAESD, else the linear preview
        (fitted on first use if ``fit_preview`` was not called)."""
        z = np.asarray(z, dtype=np.float32).reshape(-1, *self.latent_shape)
        if self._paired is not None:
            return self._paired.decode(z)
        if self._linear is None:
            self.fit_preview()
        return self._linear.decode(z, self.image_size)

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


# -------------------------------------------------------------------- building from config + weights
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
    expected = vae.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:3])}")
        if wrong:
            parts.append("shape mismatch: " + ", ".join(
                f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in wrong[:3]))
        raise ModelLoadError(f"{source}: weights do not match the config: {'; '.join(parts)}")
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
