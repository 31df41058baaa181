"""load_model, the LatentModel API, saving and loading, and bad model input."""
import json
import os

import numpy as np
import pytest
import torch

import latent_explorer as lx
from latent_explorer.core.errors import ModelLoadError
from latent_explorer.core.models.convvae import ConvVAE, ConvVAEConfig
from latent_explorer.core.models.convvae_model import ConvVAEModel, save_convvae


@pytest.mark.parametrize("name,shape,size,ch", [("digits", (16,), (28, 28), 1), ("digits-2d", (2,), (28, 28), 1),
                                                ("shapes", (10,), (64, 64), 3)])
def test_bundled_models_follow_the_api(name, shape, size, ch):
    m = lx.load_model(name, device="cpu")
    assert m.latent_shape == shape and m.image_size == size and m.channels == ch
    imgs = (np.random.default_rng(0).random((3, *size, ch)) * 255).astype(np.uint8)
    mean, logvar = m.encode(imgs)
    assert mean.dtype == np.float32 and mean.shape == (3, *shape) and logvar.shape == (3, *shape)
    out = m.decode(mean)
    assert out.dtype == np.uint8 and out.shape == (3, *size, ch)


def test_encode_resizes_other_sizes_and_colour():
    m = lx.load_model("digits", device="cpu")
    imgs = np.zeros((2, 100, 60, 3), np.uint8)
    mean, _ = m.encode(imgs)
    assert mean.shape == (2, 16)


def test_save_load_round_trip_is_bit_identical(tmp_path):
    torch.manual_seed(0)
    vae = ConvVAE(ConvVAEConfig(latent_dim=5, hidden_channels=[8, 16], fc_dim=32))
    save_convvae(vae, tmp_path / "m")
    m = lx.load_model(str(tmp_path / "m"), device="cpu")
    for k, v in vae.state_dict().items():
        assert torch.equal(v, m.vae.state_dict()[k]), k
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["_class_name"] == "ConvVAE" and cfg["latent_dim"] == 5 and cfg["hidden_channels"] == [8, 16]
    z = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(m.decode(z), ConvVAEModel(vae).decode(z))


def _folder(tmp_path):
    vae = ConvVAE(ConvVAEConfig(latent_dim=3, hidden_channels=[8, 8], fc_dim=16))
    save_convvae(vae, tmp_path / "m")
    return tmp_path / "m"


def test_unknown_spec(tmp_path):
    with pytest.raises(ModelLoadError, match="unknown model 'nope'"):
        lx.load_model("nope")


def test_missing_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        lx.load_model(str(tmp_path / "empty"))


def test_invalid_json_config(tmp_path):
    f = _folder(tmp_path)
    (f / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        lx.load_model(str(f))


def test_wrong_keys_are_listed(tmp_path):
    f = _folder(tmp_path)
    cfg = json.loads((f / "config.json").read_text())
    cfg["latent_dim"] = 7
    (f / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=r"shape mismatch: to_stats.weight \(\d+, \d+\) vs \(14, \d+\)"):
        lx.load_model(str(f))


def test_truncated_weights(tmp_path):
    f = _folder(tmp_path)
    data = (f / "model.safetensors").read_bytes()
    (f / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="perhaps truncated"):
        lx.load_model(str(f))


def test_lfs_pointer(tmp_path):
    f = _folder(tmp_path)
    (f / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")
    with pytest.raises(ModelLoadError, match="git-LFS pointer"):
        lx.load_model(str(f))


def test_nan_weights(tmp_path):
    from safetensors.torch import load_file, save_file

    f = _folder(tmp_path)
    state = load_file(str(f / "model.safetensors"))
    state["to_stats.bias"][0] = float("nan")
    save_file(state, str(f / "model.safetensors"))
    with pytest.raises(ModelLoadError, match="NaN or Inf"):
        lx.load_model(str(f))


def test_pickle_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for suffix in (".pt", ".ckpt", ".bin"):
        p = tmp_path / f"evil{suffix}"
        import pickle

        p.write_bytes(pickle.dumps(Evil()))
        with pytest.raises(ModelLoadError, match="refusing to load a pickle"):
            lx.load_model(str(p))
    assert not marker.exists()


def test_unsupported_class(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text('{"_class_name": "UNet2DModel"}')
    with pytest.raises(ModelLoadError, match="not supported yet"):
        lx.load_model(str(tmp_path / "x"))


def test_broadcast_decoder_round_trip(tmp_path):
    torch.manual_seed(0)
    vae = ConvVAE(ConvVAEConfig(image_size=32, channels=3, latent_dim=4, hidden_channels=[8, 8, 8], fc_dim=16,
                                decoder="broadcast"))
    save_convvae(vae, tmp_path / "b")
    m = lx.load_model(str(tmp_path / "b"), device="cpu")
    z = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    out = m.decode(z)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(out, ConvVAEModel(vae).decode(z))
    # the coordinate grid is not a weight: nothing extra in the file
    from safetensors.torch import load_file

    assert "coords" not in load_file(str(tmp_path / "b" / "model.safetensors"))


def test_warm_up_traces_the_decoder_for_small_decodes_with_identical_pixels():
    import latent_explorer as lx

    m = lx.load_model("digits", device="cpu")
    z = m.sample_prior(5, seed=1)
    eager = m.decode(z)
    m.warm_up()
    assert m._graph is not None  # small decodes now run as one TorchScript graph (no GIL between layers)
    np.testing.assert_array_equal(m.decode(z), eager)
    np.testing.assert_array_equal(m.decode(z[2:3]), eager[2:3])
    m.to("cpu")  # moving the model drops the graph (it would hold the old device's tensors)
    assert m._graph is None
