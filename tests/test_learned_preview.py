"""The learned approximate preview: it starts as the linear map, beats it on held-out pairs of the
bundled spatial VAE, survives a cache round trip, names itself on the tier badge, and fitting it on
the worker never keeps a slider preview waiting (the preview runs nested inside a fitting chunk)."""
import threading

import numpy as np
import pytest

pytest.importorskip("diffusers")

from latent_explorer.app.jobs import learned as jobs  # noqa: E402
from latent_explorer.core.data import photos  # noqa: E402
from latent_explorer.core.models.learned_preview import (LearnedPreview, PreviewFitter, PreviewNet,  # noqa: E402
                                                         fit_linear, psnr)
from latent_explorer.core.models.loading import load_model  # noqa: E402


@pytest.fixture(scope="module")
def pairs():
    """photos-sd at 64 px and 96 (latent, image) pairs of photo crops."""
    model = load_model("photos-sd", device="cpu", size=64)
    images = photos.crops("all", 96, 64, seed=2, augment=False)
    return model, model.encode(images)[0], images


class Released(Exception):
    pass


class Ctx:
    """What a job sees of the worker: the model and checkpoints."""

    def __init__(self, model):
        self.model = model
        self.checks = 0

    def checkpoint(self):
        self.checks += 1


def test_net_starts_as_the_linear_map(pairs):
    model, z, images = pairs
    w, b = fit_linear(z, images, model.factor)
    net = PreviewNet(4, model.factor)
    net.set_linear(w, b)
    lin = PreviewNet(4, model.factor, width=1, depth=0)
    lin.set_linear(w, b)
    assert np.array_equal(LearnedPreview(net).decode(z[:3]), LearnedPreview(lin).decode(z[:3]))
    assert LearnedPreview(net).decode(z[:1], size=(80, 80)).shape == (1, 80, 80, 3)


def test_learned_beats_linear_on_held_out_pairs(pairs):
    model, z, images = pairs
    model.fit_preview()
    fitter = PreviewFitter(z, images, model.factor, linear=model.linear_decode, steps=250)
    assert fitter.run(seconds=None) and fitter.done
    result = fitter.result()
    assert result.psnr > result.linear_psnr + 2.0, (result.psnr, result.linear_psnr)
    assert len(fitter.test_idx) >= 10 and not set(fitter.test_idx) & set(fitter.train_idx)
    assert 5_000 < result.parameters < 500_000


def test_fit_runs_in_resumable_chunks_with_checkpoints(pairs):
    model, z, images = pairs
    fitter = PreviewFitter(z[:40], images[:40], model.factor, steps=7)
    calls = []
    assert not fitter.run(steps=3, checkpoint=lambda: calls.append(1)) and fitter.step == 3
    assert fitter.run(steps=10, checkpoint=lambda: calls.append(1)) and fitter.step == 7 and len(calls) == 7
    with pytest.raises(ValueError):
        PreviewFitter(z[:3], images[:3], model.factor)


def test_cache_round_trip_installs_on_the_next_opening(pairs, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    model, z, images = pairs
    ctx = Ctx(model)
    assert jobs.supports(model) and not jobs.install_cached(ctx).installed
    state = jobs.FitState()
    report = jobs.fit_chunk(ctx, state, z, images, steps=3)
    assert not report.done and 0 < report.fraction < 1 and ctx.checks >= 3
    state.fitter.steps = state.fitter.step + 200  # a short fit for the test
    report = jobs.fit_chunk(ctx, state, z, images, steps=10_000)
    assert report.done and report.installed and report.psnr > report.linear_psnr
    assert model.preview_kind == "learned" and report.tiers.preview == "learned"
    assert jobs.cache_path(model).exists()
    again = load_model("photos-sd", device="cpu", size=64)  # a second opening: from the cache, at once
    cached = jobs.install_cached(Ctx(again))
    assert cached.installed and cached.cached and again.preview_kind == "learned"
    assert np.array_equal(again.approx_decode(z[:2]), model.approx_decode(z[:2]))
    jobs.cache_path(model).write_bytes(b"not a safetensors file")
    third = load_model("photos-sd", device="cpu", size=64)
    assert not jobs.install_cached(Ctx(third)).installed and third.preview_kind != "learned"
    with pytest.raises(ValueError):
        LearnedPreview.load(jobs.cache_path(model))
    model.set_learned_preview(None)


def test_badge_names_the_preview():
    from latent_explorer.gui.widgets.tier_badge import tier_text

    assert tier_text(False, 0.004, "learned") == "approximate: learned · 4 ms"
    assert tier_text(False, 0.004, "linear") == "approximate: linear · 4 ms"
    assert tier_text(True, 2.71, "learned") == "final · 2.7 s"
    assert tier_text(False, 0.004) == "approximate · 4 ms"


def test_fitting_never_keeps_a_preview_waiting(qtbot, pairs, monkeypatch, tmp_path):
    """A preview asked for while a fitting chunk runs is served inside it (nested), not after it."""
    from latent_explorer.app.jobs import tiers
    from latent_explorer.gui.worker import DecodeWorker

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    model, z, images = pairs
    model.set_learned_preview(None)
    started, release = threading.Event(), threading.Event()
    w = DecodeWorker(torch_threads=None, model=model)
    w.start()
    try:
        state = jobs.FitState()

        def endless_fit(ctx):
            """A fitting chunk that runs until released (it checkpoints between its steps)."""
            def checkpoint():
                started.set()
                ctx.checkpoint()
                if release.is_set():
                    raise Released()

            state.fitter = PreviewFitter(z, images, model.factor, steps=10 ** 6)
            try:
                state.fitter.run(checkpoint=checkpoint)
            except Released:
                return "released"

        ends = []
        w.submit(jobs.KIND, endless_fit, on_result=ends.append)
        assert started.wait(20)
        shown = []
        with qtbot.waitSignal(w.finished, check_params_cb=lambda kind, *a: kind == "preview", timeout=20000):
            w.submit("preview", tiers.approx, z[0], on_result=shown.append)
        assert shown and not ends and w.is_busy(jobs.KIND)  # served while the fit still runs
        release.set()
        qtbot.waitUntil(lambda: ends == ["released"], timeout=20000)
    finally:
        release.set()
        w.stop(5000)


def test_fitted_to_full_decodes_it_is_closer_to_the_full_decode():
    """Real weights: the preview stands in for the full decode, and fitted to the full decodes of its
    latents it is closer to the full decodes of held-out latents than fitted to the images, with the
    same budget. Measured first (48 crops at 64 px, 300 steps, 64 held-out crops, crop seeds 4-9):
    +0.0 to +0.4 dB on crops of the training photographs, +0.06 to +0.58 dB on the held-out
    photographs; at 256 px (bench/preview_quality.py) +0.65 dB. One fit's gain depends on its seed
    (fitter seeds 0-3 on crop seed 4: +0.29, +0.56, +0.42, −0.00 dB), so the test takes the mean
    gain of three fitter seeds."""
    model = load_model("photos-sd", device="cpu", size=64)
    model.fit_preview()
    train = photos.crops("train", 48, 64, seed=4, augment=False)
    held_out = np.concatenate([photos.crops("train", 32, 64, seed=54, augment=False),
                               photos.crops("test", 32, 64, seed=104, augment=False)])
    z, z_held = model.encode(train)[0], model.encode(held_out)[0]
    decodes = np.concatenate([model.decode(zi[None]) for zi in z])  # one by one, as the app makes them
    full = np.concatenate([model.decode(zi[None]) for zi in z_held])
    gains = []
    for seed in (0, 1, 2):
        scores = {}
        for targets, images in (("images", train), ("decodes", decodes)):
            fitter = PreviewFitter(z, images, model.factor, linear=model.linear_decode, steps=300, targets=targets,
                                   seed=seed)
            fitter.run()
            scores[targets] = psnr(LearnedPreview(fitter.net).decode(z_held), full)
        gains.append(scores["decodes"] - scores["images"])
    assert np.mean(gains) > 0.1, gains
