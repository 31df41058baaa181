"""Checks every model file goes through, whatever its kind: one-line errors for the usual damage.

A missing or invalid ``config.json``, a git-LFS pointer where the weights should be, a truncated
or foreign safetensors file, NaN/Inf in the weights, and pickle files (never unpickled here).

Architecture bounds: ``read_config`` refuses a config that asks for an absurd model (a latent of
10⁹ dimensions, 10⁶ channels, negative or fractional sizes, wrong types) before any tensor is
allocated: ``check_convvae_config`` and ``check_diffusers_config`` (also called on their own by
the ConvVAE constructor and for configs inferred from weights).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import ModelLoadError

MAX_CONFIG_BYTES = 4 << 20
#: at most this many parameters (fp32: 4 bytes each) in an architecture a config describes
MAX_PARAMETERS = 2_000_000_000
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
    """``folder``/config.json as a dict, its architecture checked against sane bounds."""
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise ModelLoadError(f"{folder}: no config.json, so this is not a model folder "
                             f"(expected config.json + model.safetensors)")
    try:
        if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelLoadError(f"{cfg_path}: {cfg_path.stat().st_size} bytes is far too big for a config.json")
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, too deep
        raise ModelLoadError(f"{cfg_path}: not valid JSON ({_first_line(e)})") from None
    except OSError as e:
        raise ModelLoadError(f"{cfg_path}: cannot read ({e.strerror or e})") from None
    if not isinstance(cfg, dict):
        raise ModelLoadError(f"{cfg_path}: expected a JSON object")
    cls = cfg.get("_class_name", "ConvVAE" if "latent_dim" in cfg else None)
    if cls == "ConvVAE":
        check_convvae_config(cfg, str(cfg_path))
    elif cls in ("AutoencoderKL", "AutoencoderTiny"):
        check_diffusers_config(cfg, str(cfg_path))
    return cfg


class ConfigError(ModelLoadError, ValueError):
    """A config.json (or constructor argument) that asks for an impossible or absurd model."""


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def _show(v) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


class _Checker:
    """Checks one config dict's values; every failure is a one-line ConfigError naming ``source``."""

    def __init__(self, cfg: dict, source: str):
        self.cfg, self.source = cfg, source

    def fail(self, msg: str):
        raise ConfigError(f"{self.source}: {msg}".replace("\n", " "))

    def int(self, key: str, lo: int, hi: int, default=None, optional: bool = True, value=None) -> int | None:
        v = self.cfg.get(key, default) if value is None else value
        if v is None and optional:
            return None
        if not isinstance(v, int) or isinstance(v, bool):
            self.fail(f"{key} is {_show(v)}, expected a whole number from {lo} to {hi}")
        if not lo <= v <= hi:
            self.fail(f"{key} {_show(v)} is out of range: expected {lo} to {hi}")
        return v

    def number(self, key: str, lo: float, hi: float, nullable: bool = True) -> float | None:
        v = self.cfg.get(key)
        if v is None and (nullable or key not in self.cfg):
            return None
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not lo <= v <= hi:
            self.fail(f"{key} is {_show(v)}, expected a finite number from {lo:g} to {hi:g}")
        return float(v)

    def int_list(self, key: str, lo: int, hi: int, max_len: int, default=None) -> list[int] | None:
        v = self.cfg.get(key, default)
        if v is None:
            return None
        if not isinstance(v, (list, tuple)) or not 1 <= len(v) <= max_len:
            self.fail(f"{key} is {_show(v)}, expected a list of 1 to {max_len} whole numbers")
        return [self.int(f"{key}[{i}]", lo, hi, optional=False, value=x) for i, x in enumerate(v)]

    def str_list(self, key: str, max_len: int) -> None:
        v = self.cfg.get(key)
        if v is not None and (not isinstance(v, (list, tuple)) or len(v) > max_len
                              or not all(isinstance(x, str) for x in v)):
            self.fail(f"{key} is {_show(v)}, expected a list of at most {max_len} names")

    def params(self, n: int) -> None:
        if n > MAX_PARAMETERS:
            self.fail(f"this architecture would have about {n:.2g} parameters (limit {MAX_PARAMETERS:.0e}); "
                      f"the config is damaged or not meant for this app")


def check_convvae_config(cfg: dict, source: str = "config.json") -> None:
    """Bounds and types of a ConvVAE config (the keys of ConvVAEConfig), before anything is built."""
    c = _Checker(cfg, source)
    size = c.int("image_size", 4, 4096, 28, optional=False)
    ch = c.int("channels", 1, 4, 1, optional=False)
    latent = c.int("latent_dim", 1, 4096, 16, optional=False)
    hidden = c.int_list("hidden_channels", 1, 4096, 8, [32, 64])
    fc = c.int("fc_dim", 1, 65536, 256, optional=False)
    c.number("beta", 0.0, 1e6, nullable=False)
    c.number("tc_beta", 0.0, 1e6)
    c.int("dataset_size", 0, 10**12, 0)
    decoder = cfg.get("decoder", "deconv")
    if decoder not in ("deconv", "broadcast"):
        c.fail(f"decoder is {_show(decoder)}: use deconv or broadcast")
    if size % 2 ** len(hidden) or (decoder == "broadcast" and size % 4):
        c.fail(f"image_size {size} must be divisible by {2 ** len(hidden)} ({len(hidden)} stride-2 levels)"
               if size % 2 ** len(hidden) else f"image_size {size} must be divisible by 4 for the broadcast decoder")
    convs = sum(a * b * 16 for a, b in zip([ch, *hidden], hidden))
    flat = hidden[-1] * (size // 2 ** len(hidden)) ** 2
    c.params(2 * convs + 2 * flat * fc + 3 * fc * latent + (hidden[0] ** 2 * 25 + latent * hidden[0] * 9) * (
        decoder == "broadcast"))


def check_diffusers_config(cfg: dict, source: str = "config.json") -> None:
    """Bounds and types of a diffusers AutoencoderKL / AutoencoderTiny config, before it is built."""
    c = _Checker(cfg, source)
    c.int("in_channels", 1, 16)
    c.int("out_channels", 1, 16)
    latent = c.int("latent_channels", 1, 256) or 4
    c.number("scaling_factor", 1e-6, 1e6)
    c.number("shift_factor", -1e6, 1e6)
    sample = cfg.get("sample_size")
    if isinstance(sample, (list, tuple)):
        c.int_list("sample_size", 1, 16384, 2)
    else:
        c.int("sample_size", 1, 16384)
    if cfg.get("_class_name") == "AutoencoderTiny":
        enc = c.int_list("encoder_block_out_channels", 1, 4096, 8) or [64] * 4
        dec = c.int_list("decoder_block_out_channels", 1, 4096, 8) or [64] * 4
        n_enc = c.int_list("num_encoder_blocks", 0, 16, 8) or [1, 3, 3, 3]
        n_dec = c.int_list("num_decoder_blocks", 0, 16, 8) or [3, 3, 3, 1]
        c.int("upsampling_scaling_factor", 1, 16)
        c.number("latent_magnitude", 1e-6, 1e6)
        c.number("latent_shift", -1e6, 1e6)
        c.params(sum(x * x * 9 * 2 * (n + 1) for x, n in zip(enc + dec, n_enc + n_dec)) + 9 * latent * max(enc))
        return
    blocks = c.int_list("block_out_channels", 1, 4096, 8) or [64]
    layers = c.int("layers_per_block", 1, 16) or 1
    groups = c.int("norm_num_groups", 1, 4096)
    c.str_list("down_block_types", 8)
    c.str_list("up_block_types", 8)
    if groups and any(b % groups for b in blocks):
        c.fail(f"block_out_channels {blocks} must all be multiples of norm_num_groups {groups}")
    c.params(sum(b * b * 9 * 2 * (2 * layers + 1) for b in blocks) + 9 * 2 * latent * blocks[-1])


def refuse_pickle(path: Path) -> None:
    raise ModelLoadError(
        f"{path}: refusing to load a pickle checkpoint ({path.suffix}); pickles can run code when "
        f"loaded. Convert it to safetensors, or allow it explicitly (allow_pickle=True / "
        f"--allow-pickle), which loads tensors only (weights_only=True)")


def state_mismatch(expected: dict, state: dict) -> str:
    """How a weights file's tensors differ from what the network expects, in one line ("" if they
    match): the missing and unexpected names (a few of each) and the first shape mismatches."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:3])}")
    if wrong:
        parts.append("shape mismatch: " + ", ".join(
            f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in wrong[:3]))
    return "; ".join(parts)

