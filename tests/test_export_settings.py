"""Exports worth keeping: size, filter, fps, easing, looping and quality, read back from the files."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from latent_explorer.app.jobs import exports as jobs
from latent_explorer.core.export import make_grid, read_png_recipe, save_animation
from latent_explorer.core.export_settings import (ExportSettings, apply_to_frames, gif_frame_ms, recipe_with,
                                                  resize_image)
from latent_explorer.core.latent import ease_t, path_latents
from latent_explorer.core.latent.interpolate import segment_steps


def _digit(rng, h=28, w=28):
    return (rng.random((h, w, 1)) * 255).astype(np.uint8)


def _ctx(model=None):
    return SimpleNamespace(model=model or SimpleNamespace(), checkpoint=lambda: None, progress=lambda *a: None)


def _gif(path):
    """(frames as arrays, per-frame delays in ms, the GIF's info) of a GIF on disk."""
    frames, delays = [], []
    with Image.open(path) as im:
        info = dict(im.info)
        for i in range(im.n_frames):
            im.seek(i)
            delays.append(im.info["duration"])
            frames.append(np.asarray(im.convert("L")))
    return np.stack(frames), delays, info


@pytest.fixture(scope="module")
def digits():
    from latent_explorer.core.models.loading import load_model

    return load_model("digits", device="cpu")


def test_preview_at_x8_is_blocks_with_nearest_and_smooth_with_lanczos(tmp_path, rng):
    img = _digit(rng)
    near, smooth = tmp_path / "near.png", tmp_path / "smooth.png"
    jobs.save_preview(_ctx(), str(near), img, {"kind": "preview"}, ExportSettings(scale=8))
    jobs.save_preview(_ctx(), str(smooth), img, {"kind": "preview"}, ExportSettings(scale=8, filter="lanczos"))
    a = np.asarray(Image.open(near))
    b = np.asarray(Image.open(smooth))
    assert a.shape == b.shape == (224, 224)  # grey stays grey
    blocks = a.reshape(28, 8, 28, 8)
    assert (blocks == img[:, None, :, None, 0]).all()  # every pixel an exact 8×8 block
    assert not np.array_equal(a, b) and np.abs(a.astype(int) - b).mean() > 5
    assert read_png_recipe(near)["export"] == {"scale": 8, "size": None, "filter": "nearest"}
    assert read_png_recipe(smooth)["export"]["filter"] == "lanczos"


def test_size_sets_the_longer_side(rng):
    assert resize_image(_digit(rng), ExportSettings(size=512)).shape == (512, 512, 1)
    wide = (rng.random((20, 28, 3)) * 255).astype(np.uint8)
    assert resize_image(wide, ExportSettings(size=512, filter="lanczos")).shape == (366, 512, 3)  # 20·512/28
    assert resize_image(wide.transpose(1, 0, 2), ExportSettings(size=100)).shape == (100, 71, 3)
    assert resize_image(wide, None) is wide and resize_image(wide, ExportSettings()) is wide
    grid = make_grid(np.zeros((4, 8, 8, 1), np.uint8), cols=2, settings=ExportSettings(scale=3))
    assert grid.shape == (2 * 26 + 2, 2 * 26 + 2, 1)  # tiles 24 px, gutters still 2 px


@pytest.mark.parametrize("bad", [dict(scale=0), dict(scale=17), dict(scale=2.0), dict(size=15), dict(size=4097),
                                 dict(scale=2, size=64), dict(filter="bicubic"), dict(fps=0), dict(fps=61),
                                 dict(ease="cubic"), dict(loop="bounce"), dict(frames=1), dict(frames=2001),
                                 dict(quality=0), dict(quality=11), dict(scale=True)])
def test_settings_are_bounded(bad):
    with pytest.raises(ValueError):
        ExportSettings(**bad)


def test_gif_delays_are_10_ms_units_and_the_loop_flag_is_written(tmp_path, rng):
    assert [gif_frame_ms(f) for f in (1, 10, 12, 25, 30, 40, 50, 60)] == [1000, 100, 80, 40, 30, 30, 20, 20]
    frames = (rng.random((5, 28, 28, 1)) * 255).astype(np.uint8)
    save_animation(tmp_path / "a.gif", frames, settings=ExportSettings(fps=25))
    got, delays, info = _gif(tmp_path / "a.gif")
    assert len(got) == 5 and delays == [40] * 5 and info["loop"] == 0
    save_animation(tmp_path / "b.gif", frames, settings=ExportSettings(fps=12, loop="once"))
    _, delays, info = _gif(tmp_path / "b.gif")
    assert delays == [80] * 5 and "loop" not in info  # no NETSCAPE block: played once
    assert json.loads((tmp_path / "b.gif.json").read_text())["export"]["gif_frame_ms"] == 80
    with pytest.raises(ValueError):
        save_animation(tmp_path / "c.gif", frames, fps=10, settings=ExportSettings(fps=12))


def test_ping_pong_mirrors_the_frames(tmp_path):
    n = 6
    frames = np.stack([np.full((8, 8, 1), 40 * i, np.uint8) for i in range(n)])
    out = apply_to_frames(frames, ExportSettings(loop="ping-pong"))
    assert len(out) == 2 * n - 2
    assert [int(f[0, 0, 0]) for f in out] == [0, 40, 80, 120, 160, 200, 160, 120, 80, 40]
    save_animation(tmp_path / "p.gif", frames, settings=ExportSettings(loop="ping-pong", scale=2))
    got, _, info = _gif(tmp_path / "p.gif")
    assert got.shape == (2 * n - 2, 16, 16) and info["loop"] == 0
    np.testing.assert_allclose(got[:, 0, 0], out[:, 0, 0, 0], atol=1)
    assert len(apply_to_frames(frames[:2], ExportSettings(loop="ping-pong"))) == 2


@pytest.mark.parametrize("method", ["slerp", "lerp"])
def test_a_b_c_a_path_passes_through_every_keyframe(rng, method):
    a, b, c = rng.standard_normal((3, 16)).astype(np.float32)
    keys = np.stack([a, b, c, a])
    for frames, bounds in ((13, (0, 4, 8, 12)), (12, (0, 4, 8, 11))):
        zs = path_latents(keys, frames, method, "ease-in-out")
        assert zs.shape == (frames, 16)
        for i, k in zip(bounds, keys):
            assert np.array_equal(zs[i], k)  # exactly, not to rounding
    assert segment_steps(12, 3) == [4, 4, 3]
    with pytest.raises(ValueError):
        path_latents(keys, 3, method)
    spatial = rng.standard_normal((3, 4, 2, 2)).astype(np.float32)
    assert path_latents(spatial, 7, method).shape == (7, 4, 2, 2)


def test_ease_in_out_starts_and_ends_slower_than_linear():
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(ease_t(t, "ease-in-out"), 3 * t**2 - 2 * t**3)
    keys = np.stack([np.zeros(4), np.ones(4)]).astype(np.float32)
    lin = np.linalg.norm(np.diff(path_latents(keys, 11, "lerp", "linear"), axis=0), axis=1)
    eased = np.linalg.norm(np.diff(path_latents(keys, 11, "lerp", "ease-in-out"), axis=0), axis=1)
    assert eased[0] < lin[0] / 3 and eased[-1] < lin[-1] / 3 and eased[5] > lin[5]
    np.testing.assert_allclose(lin, lin[0], rtol=1e-5)


def test_mp4_has_its_frame_count_fps_and_even_size(tmp_path, rng):
    import imageio_ffmpeg

    frames = (rng.random((7, 28, 28, 1)) * 255).astype(np.uint8)
    for name, s, n, size in (("a.mp4", ExportSettings(fps=10, size=128, quality=5), 7, (128, 128)),
                             ("b.mp4", ExportSettings(fps=20, size=63, loop="ping-pong"), 12, (64, 64))):
        save_animation(tmp_path / name, frames, settings=s)
        reader = imageio_ffmpeg.read_frames(str(tmp_path / name))
        meta = next(reader)
        count = sum(1 for _ in reader)
        assert count == n and meta["fps"] == pytest.approx(s.fps) and tuple(meta["size"]) == size
        assert json.loads((tmp_path / f"{name}.json").read_text())["export"]["quality"] == s.quality


def test_png_strip_is_at_the_output_size_and_carries_the_settings(tmp_path, rng):
    frames = (rng.random((4, 28, 28, 1)) * 255).astype(np.uint8)
    s = ExportSettings(scale=2, fps=8, ease="ease-in-out", frames=4)
    save_animation(tmp_path / "s.png", frames, recipe={"method": "slerp"}, settings=s)
    img = np.asarray(Image.open(tmp_path / "s.png"))
    assert img.shape == (56 + 4, 4 * 58 + 2)
    r = read_png_recipe(tmp_path / "s.png")
    assert r["method"] == "slerp" and ExportSettings.from_recipe(r["export"]) == s
    assert recipe_with({"a": 1}, None) == {"a": 1}


def test_export_jobs_take_settings_and_keep_their_old_calls(tmp_path, digits):
    ctx = _ctx(digits)
    keys = digits.sample_prior(2, seed=1)
    frames = digits.decode(path_latents(keys, 5, "slerp"))
    recipe = {"kind": "morph", "method": "slerp", "keyframes": keys}
    jobs.export_morph(ctx, str(tmp_path / "old.gif"), frames, 12, recipe)  # today's call
    old = json.loads((tmp_path / "old.gif.json").read_text())
    assert "export" not in old and _gif(tmp_path / "old.gif")[0].shape == (5, 28, 28)
    s = ExportSettings(scale=2, fps=20, ease="ease-in-out", frames=9)
    jobs.export_morph(ctx, str(tmp_path / "new.gif"), frames, None, recipe, settings=s)
    got, delays, _ = _gif(tmp_path / "new.gif")
    new = json.loads((tmp_path / "new.gif.json").read_text())
    assert got.shape == (9, 56, 56) and delays == [50] * 9
    assert new["frames"] == 9 and new["export"]["ease"] == "ease-in-out" and len(new["model_hash"]) == 16
    jobs.export_sample_grid(ctx, str(tmp_path / "g.png"), 4, 0, 1.0, {}, settings=ExportSettings(scale=2))
    assert np.asarray(Image.open(tmp_path / "g.png")).shape == (2 * 58 + 2, 2 * 58 + 2)
    jobs.export_traversal_grid(ctx, str(tmp_path / "t.png"), keys[0], [0, 1], 3, 2.0, {}, ["z0", "z1"],
                               settings=ExportSettings(scale=2, filter="lanczos"))
    t = Image.open(tmp_path / "t.png")
    assert t.size[1] == 2 * 58 + 2 and read_png_recipe(tmp_path / "t.png")["export"]["filter"] == "lanczos"


def test_cli_morph_writes_what_it_says(tmp_path, capsys):
    from latent_explorer.cli import main
    from latent_explorer.core.data.datasets import load_mnist_5k

    te = load_mnist_5k("test")
    files = []
    for label in (3, 8, 1):
        files.append(str(tmp_path / f"d{label}.png"))
        Image.fromarray(te.images[te.labels == label][0, ..., 0]).save(files[-1])
    out = tmp_path / "m.gif"
    assert main(["morph", "--model", "digits", *files, "--close", "--frames", "10", "--out-size", "96", "--fps", "20",
                 "--ease", "ease-in-out", "--loop", "once", "--out", str(out)]) == 0
    assert "10 frames of 96×96 at 20 fps" in capsys.readouterr().out
    got, delays, info = _gif(out)
    assert got.shape == (10, 96, 96) and delays == [50] * 10 and "loop" not in info
    r = json.loads((tmp_path / "m.gif.json").read_text())
    assert r["closed"] and len(r["keyframes"]) == 4 and r["keyframes"][0] == r["keyframes"][-1]
    assert r["export"] == {"scale": None, "size": 96, "filter": "nearest", "fps": 20, "ease": "ease-in-out",
                           "loop": "once", "frames": 10, "quality": 8, "gif_frame_ms": 50}
    assert np.abs(got[0].astype(int) - got[-1]).max() <= 2  # ends on A again
    assert main(["morph", "--model", "digits", *files[:2], "--frames", "5", "--scale", "3", "--loop", "ping-pong",
                 "--out", str(tmp_path / "p.gif")]) == 0
    got, _, info = _gif(tmp_path / "p.gif")
    assert got.shape == (8, 84, 84) and info["loop"] == 0
