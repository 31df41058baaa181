"""The main window on a tiny random diffusers AutoencoderKL (spatial latents, a slow decoder):
principal-direction sliders fitted on a folder of images, approximate-then-final previews that
never show a stale full decode, the latent-channel panel, morphs between encoded images, and a
failed model open that keeps the current model."""
import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication, QMessageBox

from gui_fixtures import close_windows, qt_leak_guard  # noqa: F401

pytest.importorskip("diffusers")

from latent_explorer.gui.app import launch  # noqa: E402
from latent_explorer.gui.main_window import LaunchOptions  # noqa: E402

pytestmark = pytest.mark.usefixtures("qt_leak_guard")
N_IMAGES = 10


@pytest.fixture(scope="module")
def kl_folder(tmp_path_factory):
    """A tiny random AutoencoderKL (factor 2, 4 latent channels) saved as a diffusers folder,
    and a folder of small colour images to map."""
    import torch
    from diffusers import AutoencoderKL, AutoencoderTiny

    from latent_explorer.core.models.approx_preview import synthetic_images

    root = tmp_path_factory.mktemp("spatial")
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[32, 64], down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=8,
                        layers_per_block=1, scaling_factor=0.18215, sample_size=16)
    vae.save_pretrained(str(root / "vae"), safe_serialization=True)
    tiny = AutoencoderTiny(encoder_block_out_channels=[16, 16], decoder_block_out_channels=[16, 16],
                           num_encoder_blocks=[1, 1], num_decoder_blocks=[1, 1], latent_channels=4)
    tiny.save_pretrained(str(root / "taesd"), safe_serialization=True)
    imgs = root / "images"
    imgs.mkdir()
    for i, im in enumerate(synthetic_images(N_IMAGES, 16, seed=1)):
        Image.fromarray(im).save(imgs / f"img{i:02d}.png")
    bad = root / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{ not json")
    return root


@pytest.fixture
def window(qtbot, kl_folder):
    wins = []

    def open_(demo=False):
        opts = LaunchOptions(model=str(kl_folder / "vae"), images=str(kl_folder / "images"), device="cpu",
                             demo=demo, autosave=False, size=16, map_limit=300)
        _, win = launch(opts)
        wins.append(win)
        win.previews.tiered.set_pause(60)
        qtbot.waitUntil(lambda: win.maps.data is not None and bool(win.views.spatial.direction_rows), timeout=30000)
        return win

    yield open_
    close_windows(wins)


def idle(qtbot, win):
    qtbot.waitUntil(lambda: not any(win.worker.is_busy(k) for k in ("preview", "final", "strip", "strip-final",
                                                                     "map", "recon", "traversal", "directions")),
                    timeout=20000)
    return win.worker._model


def wait_final(qtbot, win):
    qtbot.waitUntil(lambda: win.views.tier_badge.final is True and not win.previews.tiered.timer.isActive()
                    and not win.worker.is_busy("final"), timeout=20000)


def test_spatial_model_gets_direction_sliders_channels_and_tiered_previews(qtbot, window):
    win = window()
    assert win.models.summary.latent_shape == (4, 8, 8)
    assert win.views.slider_stack.currentWidget() is win.views.spatial
    assert len(win.views.spatial.direction_rows) == N_IMAGES - 1       # PCA on the encoded images
    assert len(win.views.spatial.channel_rows) == 4
    assert win.views.channels.count == 4 and win.views.channel_panel.isVisible()
    from latent_explorer.app.jobs.tiers import lowp_default

    assert win.views.menus.lowp.isChecked() == lowp_default("cpu")[0]
    win.maps.select(0)
    wait_final(qtbot, win)
    model = idle(qtbot, win)
    before = win.views.preview.image.copy()
    frames = []
    win.previews.tiered.frameShown.connect(lambda rid, final: frames.append((final, win.views.preview.image.copy(),
                                                                    win.views.tier_badge.text())))
    row = win.views.spatial.direction_rows[0]
    lo, hi = row.slider.minimum(), row.slider.maximum()
    target = hi * 0.9 if row.slider.value() < 0 else lo * 0.9
    row.slider.setValue(target)
    assert win.views.spatial.directions.coords(win.state.z)[0] == pytest.approx(target, abs=0.02)
    qtbot.waitUntil(lambda: any(f for f, _, _ in frames), timeout=20000)
    assert frames[0][0] is False and frames[0][2].startswith("approximate: linear · ")  # first frame: approximate
    assert not np.array_equal(frames[0][1], before)
    final = [img for f, img, _ in frames if f]
    assert len(final) == 1 and win.views.tier_badge.text().startswith("final · ")
    np.testing.assert_array_equal(final[0], model.decode(win.state.z[None])[0])
    # the channel panel follows the latent
    np.testing.assert_allclose(win.views.channels.latent, win.state.z)


def test_a_prior_sample_of_an_sd_style_vae_says_why_it_is_texture(qtbot, window):
    win = window()
    win.views.random_button.click()
    qtbot.waitUntil(lambda: win.state.source.startswith("random sample"), timeout=20000)
    caption = win.views.preview.caption.text()
    assert caption.startswith("random sample (T 1.00") and "N(0, I)" in caption and "KL" in caption


def test_stale_full_decode_is_never_shown_in_the_window(qtbot, window):
    import torch

    win = window()
    win.maps.select(0)
    wait_final(qtbot, win)
    model = idle(qtbot, win)
    started, layer, orig = threading.Event(), torch.nn.Identity(), model.decode
    decoded = []

    def slow_decode(z, *a, **kw):  # a slow decoder: 30 layers of 20 ms, then the real decode
        started.set()
        for _ in range(30):
            time.sleep(0.02)
            layer(torch.zeros(1))
        decoded.append(np.array(z))
        return orig(z, *a, **kw)

    model.decode = slow_decode
    finals = []
    win.previews.tiered.frameShown.connect(lambda rid, final: final and finals.append(win.state.z.copy()))
    rows = win.views.spatial.direction_rows
    rows[0].slider.setValue(rows[0].slider.maximum() * 0.5)
    qtbot.waitUntil(started.is_set, timeout=10000)          # the first full decode is running
    rows[1].slider.setValue(rows[1].slider.minimum() * 0.5)  # the user moves on
    z_last = win.state.z.copy()
    qtbot.waitUntil(lambda: len(finals) == 1, timeout=20000)
    idle(qtbot, win)
    assert len(finals) == 1 and np.allclose(finals[0], z_last)
    assert len(decoded) == 1 and np.allclose(decoded[0].reshape(z_last.shape), z_last)  # the stale one stopped
    del model.decode


def test_failed_model_open_keeps_the_current_model(qtbot, window, kl_folder):
    win = window()
    model, spec = win.worker._model, win.models.summary.spec
    with qtbot.waitSignal(win.ctx.errorShown, timeout=20000) as err:
        win.models.load(str(kl_folder / "bad"))
    msg = err.args[0]
    assert "not valid JSON" in msg and "\n" not in msg
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert boxes and "not valid JSON" in boxes[0].text()
    for b in boxes:
        b.close()
    assert win.worker._model is model and win.models.summary.spec == spec
    assert not win.views.preview.placeholder.isVisible()
    # still usable: a slider edit still reaches the preview
    win.maps.select(1)
    wait_final(qtbot, win)
    idle(qtbot, win)
    before = win.views.preview.image.copy()
    row = win.views.spatial.direction_rows[0]
    row.slider.setValue(row.slider.maximum() * 0.8 if row.slider.value() < 0 else row.slider.minimum() * 0.8)
    qtbot.waitUntil(lambda: not np.array_equal(win.views.preview.image, before), timeout=10000)


def test_morph_between_two_encoded_images(qtbot, window, tmp_path):
    win = window()
    strips = []
    win.morphs.stripReady.connect(strips.append)
    win.morphs.make(0, 3)
    qtbot.waitUntil(lambda: bool(strips) and getattr(strips[-1], "final", True), timeout=30000)
    model = idle(qtbot, win)
    s = win.views.morph.strip
    assert s.final and s.frames.shape == (win.views.morph.frame_count, 16, 16, 3)
    assert not strips[0].final  # approximate frames came first
    np.testing.assert_allclose(s.latents[0], win.maps.data.mean[0], atol=1e-6)
    np.testing.assert_allclose(s.latents[-1], win.maps.data.mean[3], atol=1e-6)
    np.testing.assert_array_equal(s.frames[0], model.decode(win.maps.data.mean[0][None])[0])
    win.views.morph.scrub.setValue(2)  # scrubbing shows the strip's (final) frame at once
    np.testing.assert_array_equal(win.views.preview.image, s.frames[2])
    assert win.views.tier_badge.final is True
    with qtbot.waitSignal(win.exports.exported, timeout=20000):
        win.exports.export_morph(str(tmp_path / "morph.gif"))
    assert Image.open(tmp_path / "morph.gif").n_frames == len(s.frames)
    # saving while the approximate preview is on screen saves the full decode
    win.previews.tiered.set_pause(60_000)  # the approximate frame stays on screen
    win.views.spatial.direction_rows[0].slider.setValue(win.views.spatial.direction_rows[0].slider.maximum() * 0.7)
    qtbot.waitUntil(lambda: win.views.tier_badge.final is False, timeout=10000)
    with qtbot.waitSignal(win.exports.exported, timeout=20000):
        win.exports.save_preview(str(tmp_path / "preview.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "preview.png").convert("RGB")),
                                  model.decode(win.state.z[None])[0])
    win.previews.tiered.set_pause(60)
    # a click on the map decodes a Delaunay blend of encoded latents
    x, y = win.maps.data.xy[:3].mean(0)
    win.views.map.placeClicked.emit(float(x), float(y))
    wait_final(qtbot, win)
    np.testing.assert_allclose(win.state.z, win.maps.data.interpolator.latent_at((x, y)), atol=1e-6)


def test_taesd_pairing_direction_grid_export_and_switching_to_a_small_model(qtbot, window, kl_folder, tmp_path):
    win = window()
    win.models.pair_preview_decoder(str(kl_folder / "taesd"))
    qtbot.waitUntil(lambda: win.models.summary.tiers.preview == "taesd", timeout=20000)
    assert "TAESD" in win.views.model_label.text()
    model = idle(qtbot, win)
    z = win.maps.data.mean[2]
    frames = []
    win.previews.tiered.frameShown.connect(lambda rid, final: frames.append((final, win.views.preview.image.copy())))
    win.maps.select(2)
    qtbot.waitUntil(lambda: len(frames) >= 1, timeout=10000)
    assert frames[0][0] is False
    np.testing.assert_array_equal(frames[0][1], model._paired.decode(z[None])[0])  # the TAESD's decode
    # the traversal export of a spatial latent sweeps its principal directions, with full decodes
    with qtbot.waitSignal(win.exports.exported, timeout=30000):
        win.exports.export_traversal(str(tmp_path / "grid.png"), steps=3)
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    rows = min(8, len(win.views.spatial.directions))
    assert grid.shape[0] == rows * 16 + (rows + 1) * 2 or grid.shape[0] == rows * 16 + (rows - 1) * 2
    # back to a small model: per-dimension sliders, no channel panel, no tiers
    win.models.load("digits")
    qtbot.waitUntil(lambda: win.models.summary.spec == "digits" and win.maps.data is not None
                    and win.previews.first_preview_at is not None, timeout=30000)
    assert win.views.slider_stack.currentWidget() is win.views.sliders and win.views.sliders.rows
    assert not win.views.channel_panel.isVisible() and not win.models.slow and not win.views.tier_badge.isVisible()
    assert not win.views.menus.lowp.isEnabled() and not win.views.menus.pair.isEnabled()


def test_full_decodes_use_every_core_and_give_the_thread_back(monkeypatch):
    import os
    from types import SimpleNamespace

    import torch

    from latent_explorer.app.jobs.tiers import all_cores

    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.2, 0.2))  # an idle machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the GUI worker runs
    try:
        ctx = SimpleNamespace(model=SimpleNamespace(device="cpu"))
        with all_cores(ctx):
            assert torch.get_num_threads() == max(1, os.cpu_count() or 1)
        assert torch.get_num_threads() == 1
        with pytest.raises(RuntimeError):
            with all_cores(ctx):
                raise RuntimeError("a failed decode")
        assert torch.get_num_threads() == 1
        with all_cores(SimpleNamespace(model=SimpleNamespace(device="cuda:0"))):
            assert torch.get_num_threads() == 1  # the GPU decodes; the CPU threads stay as they are
        monkeypatch.setattr(os, "getloadavg", lambda: (float(os.cpu_count() or 1), 1.0, 1.0))  # busy
        with all_cores(ctx):
            assert torch.get_num_threads() == 1  # a loaded CPU: more threads would only spin
    finally:
        torch.set_num_threads(before)


def test_working_size_changes_the_latent_and_maps_again(qtbot, window, tmp_path):
    win = window()
    assert win.views.menus.size_menu.isEnabled() and win.models.summary.image_size == (16, 16)
    old_shape = win.models.summary.latent_shape
    assert win.models.set_working_size(32) > 0
    qtbot.waitUntil(lambda: win.models.summary.image_size == (32, 32) and win.maps.data is not None
                    and not win.models.is_loading, timeout=30000)
    assert win.models.summary.latent_shape == (old_shape[0], old_shape[1] * 2, old_shape[2] * 2)
    assert win.maps.data.mean.shape[1:] == win.models.summary.latent_shape and len(win.maps.data.mean) == N_IMAGES
    assert win.state.z.shape == win.models.summary.latent_shape
    qtbot.waitUntil(lambda: win.views.preview.image is not None and win.views.preview.image.shape[:2] == (32, 32),
                    timeout=30000)
    assert win.models.set_working_size(32) == -1  # the size it has already: nothing to do
    assert not any(a.isChecked() for a in win.views.menus.size_group.actions())  # 32 px is not one of the presets
    # a session keeps the working size: its latents have that shape
    idle(qtbot, win)
    path = win.sessions.save(str(tmp_path / "big.lexplore"))
    z32 = win.state.z.copy()
    win.models.set_working_size(16)
    qtbot.waitUntil(lambda: win.models.summary.image_size == (16, 16) and win.maps.data is not None, timeout=30000)
    assert win.sessions.open(path)
    qtbot.waitUntil(lambda: win.sessions.pending is None and win.models.summary.image_size == (32, 32), timeout=30000)
    np.testing.assert_array_equal(win.state.z, z32)


def test_working_size_is_only_for_resizable_models(qtbot, qt_leak_guard):  # noqa: F811
    _, win = launch(LaunchOptions(model="digits", device="cpu", demo=False, map_limit=100, autosave=False))
    try:
        qtbot.waitUntil(lambda: win.maps.data is not None, timeout=60000)
        assert not win.views.menus.size_menu.isEnabled() and win.models.set_working_size(256) == -1
    finally:
        win.close()
