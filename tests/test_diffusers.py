"""Hugging Face VAEs: tiny random AutoencoderKL / AutoencoderTiny models built from configs,
saved, reloaded through every spec kind, and compared with calling diffusers directly.

No network: HF_HUB_OFFLINE=1 (conftest) and the hub tests use a fake cache under tmp_path.
"""
import json
import os
import re

import numpy as np
import pytest
import torch

import latent_explorer as lx
from latent_explorer.core.errors import ModelLoadError
from latent_explorer.core.models import diffusers_fallbacks, diffusers_vae
from latent_explorer.core.models.diffusers_vae import DiffusersVAEModel
from latent_explorer.core.models.ldm_convert import diffusers_to_ldm, infer_kl_config, ldm_to_diffusers

diffusers = pytest.importorskip("diffusers")
from diffusers import AutoencoderKL, AutoencoderTiny  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one intra-op thread is faster, and far faster on a busy shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_kl(levels=2, latent=4, shift=None, scale=0.18215, groups=8, layers=1, quant=True, seed=0):
    torch.manual_seed(seed)
    chans = [32] * (levels - 1) + [64]
    return AutoencoderKL(
        block_out_channels=chans, down_block_types=["DownEncoderBlock2D"] * levels,
        up_block_types=["UpDecoderBlock2D"] * levels, latent_channels=latent, norm_num_groups=groups,
        layers_per_block=layers, scaling_factor=scale, shift_factor=shift, sample_size=32,
        use_quant_conv=quant, use_post_quant_conv=quant).eval()


def make_tiny(levels=2, latent=4, shift=0.0, seed=0):
    torch.manual_seed(seed)
    return AutoencoderTiny(encoder_block_out_channels=[16] * levels, decoder_block_out_channels=[16] * levels,
                           num_encoder_blocks=[1] * levels, num_decoder_blocks=[1] * levels,
                           latent_channels=latent, shift_factor=shift).eval()


def save(vae, folder):
    vae.save_pretrained(str(folder), safe_serialization=True)
    return folder


def images(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def direct_encode(vae, imgs):
    """What a diffusers pipeline does: [-1, 1] input, (mean - shift) × scale."""
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
    scale, shift = vae.config.scaling_factor, vae.config.shift_factor or 0.0
    with torch.no_grad():
        if isinstance(vae, AutoencoderKL):
            dist = vae.encode(x).latent_dist
            return ((dist.mean - shift) * scale).numpy(), (dist.logvar + 2 * np.log(scale)).numpy()
        return ((vae.encode(x).latents - shift) * scale).numpy(), None


def direct_decode(vae, z):
    scale, shift = vae.config.scaling_factor, vae.config.shift_factor or 0.0
    with torch.no_grad():
        x = vae.decode(torch.from_numpy(z) / scale + shift).sample
    return (x / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def assert_matches(model, vae, size, seed=0):
    imgs = images(2, size, seed)
    mean, logvar = model.encode(imgs)
    ref_mean, ref_logvar = direct_encode(vae, imgs)
    assert mean.dtype == np.float32 and mean.shape == (2, *model.latent_shape)
    np.testing.assert_allclose(mean, ref_mean, atol=1e-4, rtol=0)
    if ref_logvar is None:
        assert logvar is None
    else:
        np.testing.assert_allclose(logvar, ref_logvar, atol=1e-4, rtol=0)
    z = mean + np.random.default_rng(seed).standard_normal(mean.shape).astype(np.float32) * 0.5
    out = model.decode(z)
    assert out.dtype == np.uint8 and out.shape == (2, size, size, 3)
    assert np.abs(out.astype(int) - direct_decode(vae, z).astype(int)).max() <= 1


# ------------------------------------------------------------------ exactness
@pytest.mark.parametrize("kind,levels,latent,scale,shift", [
    ("kl", 2, 4, 0.18215, None), ("kl", 3, 8, 0.3611, 0.1159), ("kl", 4, 16, 1.5305, 0.0609),
    ("tiny", 2, 4, 1.0, 0.0), ("tiny", 3, 16, 1.0, 0.1), ("tiny", 4, 8, 1.0, 0.0)])
def test_folder_matches_diffusers(tmp_path, kind, levels, latent, scale, shift):
    kl = kind == "kl"
    save(make_kl(levels, latent, shift=shift, scale=scale) if kl else make_tiny(levels, latent, shift), tmp_path / "v")
    vae = (AutoencoderKL if kl else AutoencoderTiny).from_pretrained(str(tmp_path / "v")).eval()  # diffusers' own
    n, f = (4 if kl else 8), 2 ** (levels - 1)  # latent pixels a side, downsampling factor
    model = lx.load_model(str(tmp_path / "v"), device="cpu", size=n * f)
    assert isinstance(model, DiffusersVAEModel) and model.channels == 3 and model.slow_decoder == kl
    assert model.latent_shape == (latent, n, n) and model.image_size == (n * f, n * f)
    assert model.scaling_factor == pytest.approx(scale) and model.shift_factor == pytest.approx(shift or 0.0)
    assert_matches(model, vae, n * f)


def test_other_image_sizes_are_resized_and_size_is_checked(tmp_path):
    save(make_kl(2), tmp_path / "vae")
    model = lx.load_model(str(tmp_path / "vae"), device="cpu", size=16)
    mean, _ = model.encode(images(1, 37)[:, :, :29])
    assert mean.shape == (1, 4, 8, 8)
    assert lx.load_model(str(tmp_path / "vae"), device="cpu").image_size == (256, 256)  # default
    with pytest.raises(ModelLoadError, match="multiple of 2"):
        lx.load_model(str(tmp_path / "vae"), device="cpu", size=15)
    model.set_size((16, 24))
    assert model.latent_shape == (4, 8, 12) and model.decode(np.zeros((1, 4, 8, 12), np.float32)).shape == (1, 16, 24, 3)


# ------------------------------------------------------------------ single files in the original SD layout
def write_ldm_file(vae, path, prefix="first_stage_model.", extra=True):
    state = diffusers_to_ldm({k: v.contiguous() for k, v in vae.state_dict().items()})
    out = {prefix + k: v.contiguous() for k, v in state.items()}
    if extra:  # a full checkpoint also holds the UNet and text encoder: ignored
        out["model.diffusion_model.input_blocks.0.0.weight"] = torch.zeros(2, 2)
    save_file(out, str(path))
    return path


@pytest.mark.parametrize("levels,layers,latent,quant", [(2, 1, 4, True), (3, 2, 16, False)])
def test_ldm_single_file_infers_architecture_and_matches(tmp_path, levels, layers, latent, quant):
    vae = make_kl(levels, latent, groups=32, layers=layers, quant=quant)
    path = write_ldm_file(vae, tmp_path / "vae.safetensors", prefix="first_stage_model." if quant else "")
    keys = load_file(str(path)).keys()
    assert any("mid.attn_1.q.weight" in k for k in keys) and any("decoder.up.0.block" in k for k in keys)
    model = lx.load_model(str(path), device="cpu", size=4 * 2 ** (levels - 1))
    cfg = model.info()["config"]
    assert cfg["block_out_channels"] == list(vae.config.block_out_channels)
    assert cfg["layers_per_block"] == layers and cfg["latent_channels"] == latent
    assert cfg["use_quant_conv"] == quant and cfg["norm_num_groups"] == 32
    assert "inferred" in model.info()["note"]
    # the inferred scaling factor is a guess for the file; compare with the same factors
    vae.register_to_config(scaling_factor=model.scaling_factor, shift_factor=model.shift_factor)
    assert_matches(model, vae, 4 * 2 ** (levels - 1))


def test_ldm_round_trip_is_exact():
    state = make_kl(3, 4, layers=2).state_dict()
    back, unknown = ldm_to_diffusers(diffusers_to_ldm(state))
    assert not unknown and set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)
    cfg = infer_kl_config(back)
    assert cfg["block_out_channels"] == [32, 32, 64] and cfg["layers_per_block"] == 2


def test_single_files_take_a_config_folder_or_factors(tmp_path):
    vae = make_kl(2, 4, groups=8, scale=0.13025)  # groups 8 cannot be seen in the weights
    save(vae, tmp_path / "cfg")
    path = write_ldm_file(vae, tmp_path / "sdxl_vae.safetensors")
    model = lx.load_model(str(path), device="cpu", size=8, config=str(tmp_path / "cfg"))
    assert model.scaling_factor == pytest.approx(0.13025) and "note" not in model.info()
    assert_matches(model, vae, 8)
    # a file in the diffusers layout; the API sets the factors a file cannot tell (SDXL's VAE looks like SD 1.x's)
    vae = make_kl(2, 4, groups=32)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(tmp_path / "vae.safetensors"))
    assert_matches(lx.load_model(str(tmp_path / "vae.safetensors"), device="cpu", size=8), vae, 8)
    m = lx.load_model(str(tmp_path / "vae.safetensors"), device="cpu", size=8, scaling_factor=0.13025)
    assert m.scaling_factor == 0.13025 and m.shift_factor == 0.0


def test_a_local_pipeline_folder_opens_its_vae_and_old_attention_names_load(tmp_path):
    vae = make_kl(2, 4)
    save(vae, tmp_path / "pipeline" / "vae")
    (tmp_path / "pipeline" / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    assert_matches(lx.load_model(str(tmp_path / "pipeline"), device="cpu", size=8), vae, 8)
    save(vae, tmp_path / "old")
    state = load_file(str(tmp_path / "old" / "diffusion_pytorch_model.safetensors"))
    rename = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}  # diffusers < 0.14
    old = {re.sub(r"attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.", lambda m: f"attentions.0.{rename[m[1]]}.", k): v
           for k, v in state.items()}
    assert len(old) == len(state) and any(".proj_attn." in k for k in old)
    save_file(old, str(tmp_path / "old" / "diffusion_pytorch_model.safetensors"))
    assert_matches(lx.load_model(str(tmp_path / "old"), device="cpu", size=8), vae, 8)


# ------------------------------------------------------------------ hub ids
def fake_cache(root, repo, files, subfolder="vae"):
    """The Hugging Face cache layout: models--org--name/{refs/main, snapshots/<hash>/...}."""
    base = root / ("models--" + repo.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    snap = base / "snapshots" / commit / subfolder
    snap.mkdir(parents=True)
    for name, data in files.items():
        (snap / name).write_bytes(data)
    (base / "snapshots" / commit / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    return snap


def test_hub_id_loads_from_the_cache_offline(tmp_path, monkeypatch):
    vae = make_kl(2, 4)
    save(vae, tmp_path / "src")
    files = {n: (tmp_path / "src" / n).read_bytes() for n in ("config.json", "diffusion_pytorch_model.safetensors")}
    fake_cache(tmp_path / "hf" / "hub", "someorg/tiny-sd", files)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = lx.load_model("someorg/tiny-sd", device="cpu", size=8)
    assert model.spec == "someorg/tiny-sd"
    assert_matches(model, vae, 8)


def test_unknown_hub_id_offline_fails_without_touching_the_network(tmp_path, monkeypatch):
    import socket

    import huggingface_hub

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts = []  # a plain offline from_pretrained retries connections for 20+ s: none may happen

    def refuse(*a, **kw):
        attempts.append(a)
        raise OSError("test: no network while offline")

    for owner, name in ((socket.socket, "connect"), (socket, "create_connection"),
                        (huggingface_hub, "hf_hub_download"), (huggingface_hub, "snapshot_download")):
        monkeypatch.setattr(owner, name, refuse)
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache") as e:
        lx.load_model("nobody/no-such-vae", device="cpu")
    assert attempts == []
    assert "\n" not in str(e.value) and "nobody/no-such-vae" in str(e.value)


# ------------------------------------------------------------------ bad input: one line each
@pytest.fixture
def kl_folder(tmp_path):
    return save(make_kl(2, 4), tmp_path / "vae")


WEIGHTS = "diffusion_pytorch_model.safetensors"


def one_line_error(spec, match, **kw):
    with pytest.raises(ModelLoadError, match=match) as e:
        lx.load_model(str(spec), device="cpu", **kw)
    assert "\n" not in str(e.value)
    return str(e.value)


def _edit_config(**changes):
    def edit(folder):
        cfg = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**cfg, **changes}))
    return edit


def _with_nan(state):
    state["decoder.conv_out.bias"][0] = float("nan")
    return state


LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 334643268\n"
# done to a good diffusers folder or single SD VAE file: the one-line error it must give (a missing,
# invalid or foreign config.json goes through read_config as a ConvVAE folder's: test_models, test_bad_input_models)
DAMAGE = {
    "more layers than the weights": (_edit_config(layers_per_block=2),
                                     r"do not match the config: .*missing.*encoder\.down_blocks\.0\.resnets\.1"),
    "other latent channels": (_edit_config(latent_channels=8), "do not match the config: .*shape mismatch"),
    "truncated weights": (lambda f: (f / WEIGHTS).write_bytes((f / WEIGHTS).read_bytes()[:3000]), "perhaps truncated"),
    "git-LFS pointer": (lambda f: (f / WEIGHTS).write_text(LFS_POINTER), "git-LFS pointer"),
    "NaN weights": (lambda f: save_file(_with_nan(load_file(str(f / WEIGHTS))), str(f / WEIGHTS)), "NaN or Inf"),
    "single file truncated": (lambda p: p.write_bytes(p.read_bytes()[:-1000]), "perhaps truncated"),
    "single file git-LFS pointer": (lambda p: p.write_text(LFS_POINTER), "git-LFS pointer"),
    "single file NaN": (lambda p: save_file(diffusers_to_ldm(_with_nan(make_kl(2, 4).state_dict())), str(p)), "NaN or Inf"),
    "single file without a VAE": (lambda p: save_file({"model.diffusion_model.out.weight": torch.zeros(2)}, str(p)),
                                  "no VAE weights"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damage_is_a_one_line_error(kl_folder, tmp_path, damage):
    do, match = DAMAGE[damage]
    spec = write_ldm_file(make_kl(2, 4, groups=32), tmp_path / "vae-ft-mse.safetensors") \
        if damage.startswith("single file") else kl_folder
    do(spec)
    one_line_error(spec, match)


def test_pickle_refused_unless_allowed_then_tensors_only_and_never_run(kl_folder, tmp_path):
    vae = make_kl(2, 4)
    (kl_folder / WEIGHTS).unlink()
    torch.save(vae.state_dict(), str(kl_folder / "diffusion_pytorch_model.bin"))
    one_line_error(kl_folder, "refusing to load a pickle")
    assert_matches(lx.load_model(str(kl_folder), device="cpu", size=8, allow_pickle=True), vae, 8)
    # a single .ckpt in the original layout, as old SD VAE downloads come
    ckpt = tmp_path / "vae.ckpt"
    torch.save({"state_dict": diffusers_to_ldm(make_kl(2, 4, groups=32).state_dict())}, str(ckpt))
    one_line_error(ckpt, "refusing to load a pickle")
    assert lx.load_model(str(ckpt), device="cpu", size=8, allow_pickle=True).latent_shape == (4, 4, 4)
    # and a pickle that would run code is refused even then, without running it
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "evil"
    save(make_kl(2, 4), folder)
    (folder / WEIGHTS).unlink()
    torch.save({"x": Evil()}, str(folder / "diffusion_pytorch_model.bin"))
    one_line_error(folder, "weights_only=True", allow_pickle=True)
    assert not marker.exists()


# ------------------------------------------------------------------ precision
def test_bf16_decode_is_close_to_fp32(kl_folder):
    fp32 = lx.load_model(str(kl_folder), device="cpu", size=8)
    bf16 = lx.load_model(str(kl_folder), device="cpu", size=8, precision="bf16")
    z = fp32.sample_prior(2, seed=1)
    a, b = fp32.decode(z).astype(int), bf16.decode(z).astype(int)
    assert bf16.dtype == "bfloat16" and np.abs(a - b).mean() < 4
    assert bf16.encode(images(1, 8))[0].dtype == np.float32  # encoding stays fp32


def test_nan_guard_falls_back_to_fp32_and_remembers(kl_folder):
    model = lx.load_model(str(kl_folder), device="cpu", size=8, precision="fp16")
    z = model.sample_prior(1, seed=2)
    with torch.no_grad():  # an overflow in the reduced-precision copy, as the SDXL VAE has in fp16
        model._lowp_vae().decoder.conv_in.weight.fill_(float("inf"))
    out = model.decode(z)
    assert model.fp32_fallback and model.dtype == "float32" and "fp32" in model.notices[-1]
    assert np.array_equal(out, lx.load_model(str(kl_folder), device="cpu", size=8).decode(z))
    assert model.info()["fp32_fallback"] is True


def test_diffusers_vae_still_exports_every_name_of_the_split_modules():
    from latent_explorer.core.models import diffusers_load, diffusers_model

    for module, names in {diffusers_fallbacks: "cpu_bf16_units DecodeFallbacks TILE_ABOVE TILE_SIZE",
                          diffusers_model: "DiffusersVAEModel DEFAULT_SIZE downsampling_factor parse_size",
                          diffusers_load: "build_vae load_diffusers_folder load_single_file load_hub"}.items():
        assert all(getattr(diffusers_vae, n) is getattr(module, n) for n in names.split()), module
    assert DiffusersVAEModel.__mro__[1] is diffusers_fallbacks.DecodeFallbacks


def test_large_images_decode_tiled(kl_folder, monkeypatch):
    monkeypatch.setattr(diffusers_fallbacks, "TILE_ABOVE", 16)
    monkeypatch.setattr(diffusers_fallbacks, "TILE_SIZE", 16)
    model = lx.load_model(str(kl_folder), device="cpu", size=32)
    out = model.decode(model.sample_prior(1, seed=0))
    assert model.vae.use_tiling and out.shape == (1, 32, 32, 3)


# ------------------------------------------------------------------ approximate preview
def test_linear_preview_is_fitted_and_beats_a_constant(kl_folder):
    model = lx.load_model(str(kl_folder), device="cpu", size=16)
    lin = model.fit_preview()
    assert lin.weight.shape == (3, 4) and model.preview_kind == "linear"
    z, _ = model.encode(images(2, 16, seed=3))
    approx, full = model.approx_decode(z), model.decode(z)
    assert approx.shape == full.shape and approx.dtype == np.uint8
    err = np.abs(approx.astype(float) - full).mean()
    assert err <= np.abs(full.astype(float) - full.mean()).mean() + 1e-6


def test_taesd_can_be_paired_as_the_preview(tmp_path):
    save(make_kl(2, 4), tmp_path / "vae")
    save(make_tiny(2, 4), tmp_path / "taesd")
    model = lx.load_model(str(tmp_path / "vae"), device="cpu", size=16, preview=str(tmp_path / "taesd"))
    tiny = lx.load_model(str(tmp_path / "taesd"), device="cpu", size=16)
    assert model.preview_kind == "taesd"
    z = model.sample_prior(1, seed=0)
    assert np.array_equal(model.approx_decode(z), tiny.decode(z))
    with pytest.raises(ModelLoadError, match="latent channels"):
        model.pair_preview_decoder(lx.load_model(str(save(make_tiny(2, 8), tmp_path / "t8")), device="cpu"))


# ------------------------------------------------------------------ CLI
def test_cli_size_config_and_bad_input(tmp_path, capsys):
    from latent_explorer.cli import main

    vae = make_kl(2, 4, groups=8)
    save(vae, tmp_path / "cfg")
    path = write_ldm_file(vae, tmp_path / "vae.safetensors")
    assert main(["info", "--model", str(path), "--config", str(tmp_path / "cfg"), "--size", "8", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["latent_shape"] == [4, 4, 4] and info["config"]["norm_num_groups"] == 8
    assert main(["info", "--model", str(path), "--size", "7"]) == 2
    err = capsys.readouterr().err
    assert "multiple of 2" in err and err.count("\n") == 1
