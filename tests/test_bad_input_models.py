"""Model configs that ask for absurd architectures are refused at once, before any tensor exists.

Each case writes a config.json with one bad value (huge, negative, fractional, the wrong type)
and asserts a one-line ModelLoadError that names the file and the key. Allocation is made
impossible in these tests (building a layer or reading the weights raises AssertionError), so a
refusal proves the check ran first; no timing is measured.
"""
import json

import pytest
import torch

import latent_explorer as lx
from latent_explorer.core.errors import ModelLoadError
from latent_explorer.core.models import checks, loading
from latent_explorer.core.models.checks import ConfigError, check_diffusers_config
from latent_explorer.core.models.convvae import ConvVAE, ConvVAEConfig
from latent_explorer.core.models.ldm_convert import infer_kl_config

GOOD_CONVVAE = {"_class_name": "ConvVAE", "image_size": 28, "channels": 1, "latent_dim": 16,
                "hidden_channels": [32, 64], "fc_dim": 256, "beta": 1.0, "tc_beta": None, "dataset_size": 4000}
GOOD_KL = {"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
           "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "norm_num_groups": 32,
           "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
           "sample_size": 512, "scaling_factor": 0.18215, "shift_factor": None}
GOOD_TINY = {"_class_name": "AutoencoderTiny", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
             "encoder_block_out_channels": [64] * 4, "decoder_block_out_channels": [64] * 4,
             "num_encoder_blocks": [1, 3, 3, 3], "num_decoder_blocks": [3, 3, 3, 1],
             "upsampling_scaling_factor": 2, "latent_magnitude": 3, "latent_shift": 0.5, "scaling_factor": 1.0}


@pytest.fixture
def no_allocation(monkeypatch):
    """Building any layer, or reading any weights, fails the test."""
    def boom(*a, **k):
        raise AssertionError("a tensor was allocated or weights were read before the config was checked")

    for cls in (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d):
        monkeypatch.setattr(cls, "__init__", boom)
    monkeypatch.setattr(loading, "read_safetensors", boom)
    for mod in _diffusers_modules():
        for name in ("read_safetensors", "build_vae"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, boom)


def _diffusers_modules():
    import importlib

    out = []
    for name in ("diffusers_vae", "diffusers_load"):  # the loaders, wherever they live
        try:
            out.append(importlib.import_module(f"latent_explorer.core.models.{name}"))
        except ImportError:
            pass
    return out


def _folder(tmp_path, cfg, **over):
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps({**cfg, **over}))
    for name in ("model.safetensors", "diffusion_pytorch_model.safetensors"):
        (d / name).write_bytes(b"\0" * 64)
    return d


def _refused(spec, needle):
    with pytest.raises(ModelLoadError) as e:
        lx.load_model(str(spec), device="cpu")
    msg = str(e.value)
    assert "\n" not in msg and "config.json" in msg and needle in msg, msg


@pytest.mark.parametrize("over,needle", [
    ({"latent_dim": 10**9}, "latent_dim 1000000000 is out of range"),
    ({"latent_dim": 0}, "latent_dim 0 is out of range"),
    ({"latent_dim": 16.5}, "latent_dim is 16.5, expected a whole number"),
    ({"latent_dim": "16"}, "latent_dim is '16'"),
    ({"latent_dim": True}, "latent_dim is True"),
    ({"latent_dim": None}, "latent_dim is None"),
    ({"hidden_channels": [10**6, 10**6]}, "hidden_channels[0] 1000000 is out of range"),
    ({"hidden_channels": [32, -64]}, "hidden_channels[1] -64 is out of range"),
    ({"hidden_channels": []}, "hidden_channels is [], expected a list of 1 to 8"),
    ({"hidden_channels": "32,64"}, "hidden_channels is '32,64'"),
    ({"hidden_channels": [2] * 40}, "hidden_channels is"),
    ({"image_size": 10**9}, "image_size 1000000000 is out of range"),
    ({"image_size": -28}, "image_size -28 is out of range"),
    ({"image_size": 30}, "image_size 30 must be divisible by 4"),
    ({"image_size": 4096, "hidden_channels": [4096, 4096], "fc_dim": 65536}, "parameters"),
    ({"channels": 1000}, "channels 1000 is out of range"),
    ({"fc_dim": 10**12}, "fc_dim 1000000000000 is out of range"),
    ({"beta": "high"}, "beta is 'high', expected a finite number"),
    ({"beta": float("nan")}, "beta is nan"),
    ({"beta": -1}, "beta is -1"),
    ({"tc_beta": float("inf")}, "tc_beta is inf"),
    ({"dataset_size": -5}, "dataset_size -5 is out of range"),
    ({"decoder": "magic"}, "decoder is 'magic': use deconv or broadcast"),
    ({"decoder": "broadcast", "image_size": 6, "hidden_channels": [8]}, "divisible by 4 for the broadcast"),
])
def test_absurd_convvae_configs_are_refused_before_allocation(tmp_path, no_allocation, over, needle):
    _refused(_folder(tmp_path, GOOD_CONVVAE, **over), needle)


@pytest.mark.parametrize("base,over,needle", [
    (GOOD_KL, {"latent_channels": 10**9}, "latent_channels 1000000000 is out of range"),
    (GOOD_KL, {"block_out_channels": [10**6] * 4}, "block_out_channels[0] 1000000 is out of range"),
    (GOOD_KL, {"block_out_channels": [4096] * 8, "layers_per_block": 16,
               "down_block_types": ["DownEncoderBlock2D"] * 8}, "parameters"),
    (GOOD_KL, {"block_out_channels": "big"}, "block_out_channels is 'big'"),
    (GOOD_KL, {"block_out_channels": [128, 2.5]}, "block_out_channels[1] is 2.5"),
    (GOOD_KL, {"sample_size": 10**9}, "sample_size 1000000000 is out of range"),
    (GOOD_KL, {"sample_size": [512, "a"]}, "sample_size[1] is 'a'"),
    (GOOD_KL, {"sample_size": -1}, "sample_size -1 is out of range"),
    (GOOD_KL, {"layers_per_block": 10**6}, "layers_per_block 1000000 is out of range"),
    (GOOD_KL, {"in_channels": -3}, "in_channels -3 is out of range"),
    (GOOD_KL, {"norm_num_groups": 0}, "norm_num_groups 0 is out of range"),
    (GOOD_KL, {"norm_num_groups": 7}, "must all be multiples of norm_num_groups 7"),
    (GOOD_KL, {"down_block_types": "DownEncoderBlock2D"}, "down_block_types is"),
    (GOOD_KL, {"scaling_factor": "x"}, "scaling_factor is 'x'"),
    (GOOD_TINY, {"encoder_block_out_channels": [10**6] * 4}, "encoder_block_out_channels[0] 1000000"),
    (GOOD_TINY, {"num_decoder_blocks": [1000, 3, 3, 1]}, "num_decoder_blocks[0] 1000 is out of range"),
    (GOOD_TINY, {"latent_channels": 1.5}, "latent_channels is 1.5"),
    (GOOD_TINY, {"upsampling_scaling_factor": 10**6}, "upsampling_scaling_factor 1000000"),
])
def test_absurd_diffusers_configs_are_refused_before_weights_are_read(tmp_path, no_allocation, base, over, needle):
    _refused(_folder(tmp_path, base, **over), needle)


def test_a_config_folder_given_for_a_single_file_is_checked_too(tmp_path, no_allocation):
    cfg = _folder(tmp_path, GOOD_KL, latent_channels=-4)
    _config_from = next(m._config_from for m in _diffusers_modules() if hasattr(m, "_config_from"))
    with pytest.raises(ModelLoadError, match="latent_channels -4 is out of range"):
        _config_from(cfg)


def test_real_configs_pass(tmp_path):
    for cfg in (GOOD_CONVVAE, GOOD_KL, GOOD_TINY, {**GOOD_KL, "sample_size": [768, 512]}):
        d = _folder(tmp_path, cfg)
        assert checks.read_config(d) == json.loads((d / "config.json").read_text())
    for name in ("digits", "digits-2d", "shapes"):
        checks.read_config(loading.bundled_models()[name])


def test_the_convvae_constructor_checks_before_it_allocates(no_allocation):
    for kw in ({"latent_dim": 10**9}, {"hidden_channels": [32, 10**7]}, {"image_size": 3},
               {"fc_dim": -1}, {"image_size": 4096, "hidden_channels": [4096, 4096], "fc_dim": 65536}):
        with pytest.raises(ConfigError) as e:
            ConvVAE(ConvVAEConfig(**kw))
        assert str(e.value).startswith("ConvVAE config: ") and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="unknown ConvVAE config keys: bogus"):
        ConvVAEConfig.from_dict({"bogus": 1})


def test_a_config_error_is_a_value_error_and_a_model_load_error():
    with pytest.raises(ValueError):
        check_diffusers_config({"latent_channels": 10**9})
    assert issubclass(ConfigError, ModelLoadError)


def test_inferred_configs_are_bounded_too():
    meta = dict(device="meta")
    state = {"encoder.conv_in.weight": torch.empty(10**6, 3, 3, 3, **meta),
             "encoder.down_blocks.0.resnets.0.conv1.weight": torch.empty(10**6, 10**6, 3, 3, **meta),
             "decoder.conv_in.weight": torch.empty(10**6, 4, 3, 3, **meta),
             "decoder.conv_out.weight": torch.empty(3, 10**6, 3, 3, **meta),
             "encoder.conv_out.weight": torch.empty(8, 10**6, 3, 3, **meta)}
    with pytest.raises(ValueError, match="the inferred config: block_out_channels"):
        infer_kl_config(state)


def test_a_huge_or_deeply_nested_config_json_is_refused(tmp_path, monkeypatch):
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        checks.read_config(d)
    monkeypatch.setattr(checks, "MAX_CONFIG_BYTES", 100)
    (d / "config.json").write_text(json.dumps({**GOOD_CONVVAE, "pad": " " * 200}))
    with pytest.raises(ModelLoadError, match="far too big for a config.json"):
        checks.read_config(d)
