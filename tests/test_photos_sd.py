"""The bundled spatial VAE ``photos-sd`` and its photographs: it loads through diffusers and the
app's loader with the same result, its recorded figures hold, the crops are deterministic with
whole photographs held out, and principal directions of its latents carry real image structure."""
import json

import numpy as np
import pytest

pytest.importorskip("diffusers")

from latent_explorer.core.data import photos  # noqa: E402
from latent_explorer.core.data.datasets import load_dataset  # noqa: E402
from latent_explorer.core.models.loading import BUNDLED_MODELS, bundled_models, load_model  # noqa: E402
from latent_explorer.core.train_sd import psnr  # noqa: E402

FOLDER = bundled_models()["photos-sd"]


@pytest.fixture(scope="module")
def model():
    return load_model("photos-sd", device="cpu", size=64)


def test_folder_is_diffusers_format_and_small():
    cfg = json.loads((FOLDER / "config.json").read_text())
    assert cfg["_class_name"] == "AutoencoderKL" and cfg["latent_channels"] == 4
    assert (FOLDER / "diffusion_pytorch_model.safetensors").stat().st_size < 8_000_000
    m = json.loads((FOLDER / "metrics.json").read_text())
    assert m["command"].startswith("python -m latent_explorer.core.train_sd ") and m["training_seconds"] > 0
    assert m["data"] == "photo-crops" and m["test_psnr_db"] >= 24
    assert "photos-sd" in BUNDLED_MODELS


def test_diffusers_and_app_loader_agree(model):
    import torch
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(str(FOLDER)).eval()
    assert vae.dtype == torch.float32
    assert model.latent_shape == (4, 16, 16) and model.factor == 4 and model.name == "photos-sd"
    images = photos.crops("test", 4, 64, seed=3)
    z, _ = model.encode(images)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        mean = vae.encode(x).latent_dist.mean * vae.config.scaling_factor
        out = vae.decode(mean / vae.config.scaling_factor).sample
    np.testing.assert_allclose(z, mean.numpy(), rtol=1e-4, atol=1e-4)
    ours = model.decode(z).astype(int)
    theirs = ((out / 2 + 0.5).clamp(0, 1) * 255).round().permute(0, 2, 3, 1).numpy().astype(int)
    assert np.abs(ours - theirs).max() <= 1


def test_scaling_factor_gives_unit_latents_and_held_out_psnr_holds(model):
    images = photos.crops("test", 48, 64, seed=7)
    z, _ = model.encode(images)
    assert 0.6 < float(z.std()) < 1.6  # scaling_factor = 1 / std of the latents, as in Stable Diffusion
    recorded = json.loads((FOLDER / "metrics.json").read_text())["test_psnr_db"]
    assert float(psnr(model.decode(z), images).mean()) > recorded - 2.0


def test_opens_at_128_px_by_default():
    m = load_model("photos-sd", device="cpu")
    assert m.image_size == (128, 128) and m.latent_shape == (4, 32, 32) and m.slow_decoder
    assert m.metrics["data"] == "photo-crops"


def test_crops_are_deterministic_and_hold_out_whole_photos():
    a, b = photos.crops("train", 6, 32, seed=4), photos.crops("train", 6, 32, seed=4)
    assert a.dtype == np.uint8 and a.shape == (6, 32, 32, 3) and np.array_equal(a, b)
    assert not np.array_equal(a, photos.crops("train", 6, 32, seed=5))
    assert not set(photos.TRAIN_PHOTOS) & set(photos.TEST_PHOTOS)
    credits = (photos.photos_dir() / "CREDITS.md").read_text()
    for name in photos.TRAIN_PHOTOS + photos.TEST_PHOTOS:
        assert (photos.photos_dir() / f"{name}.jpg").exists() and f"{name}.jpg" in credits
    ds = load_dataset("photo-crops", "test", limit=5, image_size=32)
    assert len(ds) == 5 and ds.images.shape[1:] == (32, 32, 3) and set(ds.labels) <= {0, 1}
    assert ds.value_names["label"] == ["chelsea", "flower"]


def test_first_directions_change_brightness_and_colour(model):
    """On real weights the main principal directions of photo latents are image-wide changes."""
    from latent_explorer.core.latent.directions import fit_directions

    z, _ = model.encode(photos.crops("all", 64, 64, seed=11, augment=False))
    d = fit_directions(z, k=4)
    assert d.explained[0] > 0.1
    base = d.mean.reshape(d.latent_shape)
    lo, hi = model.decode(np.stack([d.move(base, 0, -2 * d.std[0]), d.move(base, 0, 2 * d.std[0])]))
    change = hi.astype(float) - lo.astype(float)
    # the first direction moves most pixels the same way (a global brightness / colour change)
    assert abs(change.mean()) > 10 or np.abs(change.mean(axis=(0, 1))).max() > 10


def test_larger_working_sizes_are_tiled_at_the_training_size():
    """Trained on 64 px crops, it is encoded and decoded in 64 px tiles above that: a whole 256 px
    image loses about 4 dB (its attention and normalisation do not carry over), tiles do not."""
    m = load_model("photos-sd", device="cpu", size=256)
    assert m.tile_size == 64 and m.tile_above == 64
    images = photos.crops("test", 3, 256, seed=202, augment=False)
    z, _ = m.encode(images)
    assert m.own_tiles((256, 256)) == 16 and not m.vae.use_tiling  # full-size tiles of its own, not diffusers'
    rec = m.decode(z)
    assert float(psnr(rec, images).mean()) > 23.5
    # no band along the far edges: the last tiles are full-size, so the right and bottom strips are
    # reconstructed about as well as the model does at its own 64 px (within 40 %)
    err = ((rec.astype(float) - images.astype(float)) ** 2).mean(axis=(0, 3))
    native = load_model("photos-sd", device="cpu", size=64)
    small = photos.crops("test", 12, 64, seed=202, augment=False)
    e64 = ((native.decode(native.encode(small)[0]).astype(float) - small.astype(float)) ** 2).mean(axis=(0, 3))
    for strip, ref in ((err[:, -16:], e64[:, -4:]), (err[-16:, :], e64[-4:, :])):
        assert strip.mean() < 1.4 * max(ref.mean(), err[16:-16, 16:-16].mean())


def test_full_size_tiles_cover_the_image_and_blend_exactly():
    import torch

    from latent_explorer.core.models.tiles import blend, starts

    for n, t in ((32, 16), (33, 16), (16, 16), (10, 16), (100, 16)):
        s = starts(n, t, 4)
        assert s[0] == 0 and (n <= t or s[-1] == n - t)  # every tile full-size, the last one flush with the edge
        assert all(b - a <= t - 4 for a, b in zip(s, s[1:]))  # neighbours overlap by at least 4
    x = torch.randn(2, 3, 40, 56)
    np.testing.assert_allclose(blend(lambda v: v, x, 16), x, atol=1e-5)  # weights normalise: identity stays
    up = blend(lambda v: v.repeat_interleave(4, -1).repeat_interleave(4, -2), x, 16, 1, 4)
    np.testing.assert_allclose(up, x.repeat_interleave(4, -1).repeat_interleave(4, -2), atol=1e-5)
    down = blend(lambda v: v[..., ::4, ::4], up, 16, 4, 1)  # an "encoder": 4 pixels per latent pixel
    np.testing.assert_allclose(down, x, atol=1e-5)
