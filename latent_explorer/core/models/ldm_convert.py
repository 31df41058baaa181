"""Stable Diffusion VAE weights in the original (LDM) key layout <-> diffusers' AutoencoderKL layout.

VAE files as people download them (``vae-ft-mse-840000-ema-pruned.safetensors``, the SDXL VAE,
the VAE inside a full checkpoint under ``first_stage_model.``) name their tensors the way the
original latent-diffusion code did: ``encoder.down.0.block.1.norm1.weight``,
``decoder.up.3.upsample.conv.weight``, ``encoder.mid.attn_1.q.weight`` (a 1×1 conv). diffusers
names the same tensors ``encoder.down_blocks.0.resnets.1.norm1.weight``,
``decoder.up_blocks.0.upsamplers.0.conv.weight`` (decoder levels counted the other way round)
and ``encoder.mid_block.attentions.0.to_q.weight`` (a linear layer). This module renames them,
infers an AutoencoderKL config from the names and shapes (checked against the same architecture
bounds as any config.json), and renames back (for tests/export).
"""
from __future__ import annotations

import math
import re

#: prefixes under which full checkpoints keep their VAE
VAE_PREFIXES = ("first_stage_model.", "vae.", "model.first_stage_model.")

_ATTN_LDM_TO_DIFFUSERS = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}
_ATTN_DIFFUSERS_TO_LDM = {v: k for k, v in _ATTN_LDM_TO_DIFFUSERS.items()}
#: attention names of diffusers files saved before its 2023 attention refactor
_ATTN_DEPRECATED = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}

_DOWN = re.compile(r"^encoder\.down\.(\d+)\.(block\.(\d+)|downsample)\.(.+)$")
_UP = re.compile(r"^decoder\.up\.(\d+)\.(block\.(\d+)|upsample)\.(.+)$")
_MID = re.compile(r"^(encoder|decoder)\.mid\.(block_(\d)|attn_1)\.(.+)$")
_D_DOWN = re.compile(r"^encoder\.down_blocks\.(\d+)\.(resnets\.(\d+)|downsamplers\.0)\.(.+)$")
_D_UP = re.compile(r"^decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)$")
_D_MID = re.compile(r"^(encoder|decoder)\.mid_block\.(resnets\.(\d)|attentions\.0)\.(.+)$")


def strip_vae_prefix(keys) -> str | None:
    """The prefix under which ``keys`` hold a VAE ('' for a bare VAE file), or None if none does."""
    keys = set(keys)
    for prefix in ("",) + VAE_PREFIXES:
        if any(prefix + probe in keys for probe in ("encoder.conv_in.weight", "decoder.conv_in.weight")):
            return prefix
    return None


def is_ldm_layout(keys) -> bool:
    return any(k.startswith(("encoder.down.", "decoder.up.", "encoder.mid.", "decoder.mid.")) for k in keys)


def count_levels(keys, ldm: bool) -> int:
    pat = re.compile(r"^encoder\.down\.(\d+)\." if ldm else r"^encoder\.down_blocks\.(\d+)\.")
    found = [int(m.group(1)) for k in keys if (m := pat.match(k))]
    return max(found) + 1 if found else 0


def _resnet_part(rest: str, to_diffusers: bool) -> str:
    if to_diffusers:
        return rest.replace("nin_shortcut.", "conv_shortcut.")
    return rest.replace("conv_shortcut.", "nin_shortcut.")


def _squeeze_attention(tensor):
    # original files store q/k/v/proj_out as 1×1 convs (out, in, 1, 1); diffusers uses linear (out, in)
    while tensor.ndim > 2:
        tensor = tensor[..., 0]
    return tensor


def ldm_key_to_diffusers(key: str, levels: int) -> str | None:
    """The diffusers name of one LDM VAE tensor name, or None when it is not a VAE tensor we know."""
    if key.startswith(("quant_conv.", "post_quant_conv.")):
        return key
    m = re.match(r"^(encoder|decoder)\.(conv_in|conv_out|norm_out)\.(weight|bias)$", key)
    if m:
        part = "conv_norm_out" if m.group(2) == "norm_out" else m.group(2)
        return f"{m.group(1)}.{part}.{m.group(3)}"
    if m := _DOWN.match(key):
        i, what, j, rest = m.groups()
        if what == "downsample":
            return f"encoder.down_blocks.{i}.downsamplers.0.{rest}"
        return f"encoder.down_blocks.{i}.resnets.{j}.{_resnet_part(rest, True)}"
    if m := _UP.match(key):
        b, what, j, rest = m.groups()
        i = levels - 1 - int(b)  # LDM counts decoder levels from the lowest resolution up
        if i < 0:
            return None
        if what == "upsample":
            return f"decoder.up_blocks.{i}.upsamplers.0.{rest}"
        return f"decoder.up_blocks.{i}.resnets.{j}.{_resnet_part(rest, True)}"
    if m := _MID.match(key):
        side, what, n, rest = m.groups()
        if what == "attn_1":
            name, _, param = rest.rpartition(".")
            if name not in _ATTN_LDM_TO_DIFFUSERS:
                return None
            return f"{side}.mid_block.attentions.0.{_ATTN_LDM_TO_DIFFUSERS[name]}.{param}"
        if n not in ("1", "2"):
            return None
        return f"{side}.mid_block.resnets.{int(n) - 1}.{_resnet_part(rest, True)}"
    return None


def diffusers_key_to_ldm(key: str, levels: int) -> str | None:
    """The inverse of ``ldm_key_to_diffusers``."""
    if key.startswith(("quant_conv.", "post_quant_conv.")):
        return key
    m = re.match(r"^(encoder|decoder)\.(conv_in|conv_out|conv_norm_out)\.(weight|bias)$", key)
    if m:
        part = "norm_out" if m.group(2) == "conv_norm_out" else m.group(2)
        return f"{m.group(1)}.{part}.{m.group(3)}"
    if m := _D_DOWN.match(key):
        i, what, j, rest = m.groups()
        if what.startswith("downsamplers"):
            return f"encoder.down.{i}.downsample.{rest}"
        return f"encoder.down.{i}.block.{j}.{_resnet_part(rest, False)}"
    if m := _D_UP.match(key):
        i, what, j, rest = m.groups()
        b = levels - 1 - int(i)
        if what.startswith("upsamplers"):
            return f"decoder.up.{b}.upsample.{rest}"
        return f"decoder.up.{b}.block.{j}.{_resnet_part(rest, False)}"
    if m := _D_MID.match(key):
        side, what, n, rest = m.groups()
        if what.startswith("attentions"):
            name, _, param = rest.rpartition(".")
            name = _ATTN_DEPRECATED.get(name, name)
            if name not in _ATTN_DIFFUSERS_TO_LDM:
                return None
            return f"{side}.mid.attn_1.{_ATTN_DIFFUSERS_TO_LDM[name]}.{param}"
        return f"{side}.mid.block_{int(n) + 1}.{_resnet_part(rest, False)}"
    return None


def ldm_to_diffusers(state: dict) -> tuple[dict, list[str]]:
    """Rename a (prefix-free) LDM VAE state dict to diffusers' names: (new state, unknown keys)."""
    levels = count_levels(state, ldm=True)
    out, unknown = {}, []
    for key, tensor in state.items():
        new = ldm_key_to_diffusers(key, levels)
        if new is None:
            unknown.append(key)
            continue
        if ".mid_block.attentions.0.to_" in new and new.endswith(".weight"):
            tensor = _squeeze_attention(tensor)
        out[new] = tensor
    return out, unknown


def diffusers_to_ldm(state: dict, conv_attention: bool = True) -> dict:
    """Rename a diffusers AutoencoderKL state dict to the original LDM names.

    ``conv_attention`` stores q/k/v/proj_out as 1×1 convs, as the original SD files do.
    """
    levels = count_levels(state, ldm=False)
    out = {}
    for key, tensor in state.items():
        new = diffusers_key_to_ldm(key, levels)
        if new is None:
            raise KeyError(f"no LDM name for {key}")
        if conv_attention and ".mid.attn_1." in new and not new.split(".mid.attn_1.")[1].startswith("norm.") \
                and new.endswith(".weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]
        out[new] = tensor
    return out


def rename_deprecated_attention(state: dict) -> dict:
    """diffusers files from before 2023 call the attention tensors query/key/value/proj_attn."""
    if not any(".attentions.0." in k and k.rsplit(".", 2)[-2] in _ATTN_DEPRECATED for k in state):
        return state
    out = {}
    for key, tensor in state.items():
        head, sep, tail = key.partition(".attentions.0.")
        if sep:
            name, _, param = tail.rpartition(".")
            if name in _ATTN_DEPRECATED:
                key = f"{head}{sep}{_ATTN_DEPRECATED[name]}.{param}"
                if key.endswith(".weight"):
                    tensor = _squeeze_attention(tensor)
        out[key] = tensor
    return out


# SD 1.x/2.x (4 channels) and the 16-channel VAEs of newer models (Flux.1); the file cannot tell
# SD 1.x from SDXL (0.13025) or Flux from SD3 (1.5305, shift 0.0609): pass --config for those.
DEFAULT_FACTORS = {4: (0.18215, None), 16: (0.3611, 0.1159)}


def infer_kl_config(state: dict) -> dict:
    """An AutoencoderKL config for a diffusers-named state dict, from tensor names and shapes alone.

    ``norm_num_groups`` cannot be seen in the shapes: it is 32 in every released SD-style VAE;
    other models get the largest common divisor of 32 and every level's channels.
    """
    levels = count_levels(state, ldm=False)
    if levels == 0 or "encoder.conv_in.weight" not in state or "decoder.conv_in.weight" not in state \
            or "decoder.conv_out.weight" not in state:
        raise ValueError("not an AutoencoderKL: expected encoder.down.*, encoder.conv_in, decoder.conv_in "
                         "and decoder.conv_out tensors")
    block_out = []
    for i in range(levels):
        key = f"encoder.down_blocks.{i}.resnets.0.conv1.weight"
        if key not in state:
            raise ValueError(f"cannot infer the channels of level {i}: {key} is missing")
        block_out.append(int(state[key].shape[0]))
    layers = len({int(m.group(1)) for k in state
                  if (m := re.match(r"^encoder\.down_blocks\.0\.resnets\.(\d+)\.", k))})
    latent = int(state["decoder.conv_in.weight"].shape[1])
    enc_out = int(state["encoder.conv_out.weight"].shape[0]) if "encoder.conv_out.weight" in state else 2 * latent
    if enc_out != 2 * latent:
        raise ValueError(f"encoder.conv_out has {enc_out} channels but a KL VAE with {latent} latent channels "
                         f"needs {2 * latent}")
    groups = math.gcd(32, *block_out)
    scale, shift = DEFAULT_FACTORS.get(latent, (1.0, None))
    cfg = {
        "_class_name": "AutoencoderKL",
        "in_channels": int(state["encoder.conv_in.weight"].shape[1]),
        "out_channels": int(state["decoder.conv_out.weight"].shape[0]),
        "down_block_types": ["DownEncoderBlock2D"] * levels,
        "up_block_types": ["UpDecoderBlock2D"] * levels,
        "block_out_channels": block_out,
        "layers_per_block": layers,
        "act_fn": "silu",
        "latent_channels": latent,
        "norm_num_groups": groups,
        "sample_size": 512,
        "scaling_factor": scale,
        "shift_factor": shift,
        "use_quant_conv": "quant_conv.weight" in state,
        "use_post_quant_conv": "post_quant_conv.weight" in state,
        "mid_block_add_attention": any(".mid_block.attentions.0." in k for k in state),
        "_inferred": True,
    }
    from .checks import check_diffusers_config

    check_diffusers_config(cfg, "the inferred config")  # a ConfigError is a ValueError, as above
    return cfg
