"""Full decodes as the learned preview's targets (``app/jobs/learned_decodes.py``, kind ``learn-decode``).

On a tiny random AutoencoderKL, where exactness matters: the background decodes are the model's
own full decodes, capped, made only for the model they were planned for; a refit learns from
them and is judged against them; the cache says which targets a preview was fitted on. On the
worker: a decode chunk ranks below everything, and a preview arriving while it decodes is served
before the decode goes on (the chunk gives way). The meaning on real weights is in
``test_learned_preview.py`` and ``bench/preview_quality.py``."""
import threading

import numpy as np
import pytest

pytest.importorskip("diffusers")

from gui_fixtures import qt_leak_guard  # noqa: E402,F401  (fixture)

from latent_explorer.app import requests  # noqa: E402
from latent_explorer.app.jobs import learned as jobs  # noqa: E402
from latent_explorer.app.jobs import learned_decodes as decodes  # noqa: E402
from latent_explorer.core.models.learned_preview import LearnedPreview, psnr  # noqa: E402

N = 40  # map images (≥ MIN_PAIRS)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random AutoencoderKL (factor 2, 4 × 8 × 8 latents at 16 px), its linear preview
    fitted, and the latents of N small colour images."""
    import torch
    from diffusers import AutoencoderKL

    from latent_explorer.core.models.approx_preview import synthetic_images
    from latent_explorer.core.models.loading import load_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[32, 64], down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=8,
                        layers_per_block=1, scaling_factor=0.18215, sample_size=16)
    root = tmp_path_factory.mktemp("tiny-kl")
    vae.save_pretrained(str(root / "a"), safe_serialization=True)
    torch.manual_seed(1)
    other = AutoencoderKL(**vae.config)
    other.save_pretrained(str(root / "b"), safe_serialization=True)
    model = load_model(str(root / "a"), device="cpu", size=16)
    model.fit_preview()
    images = synthetic_images(N, 16, seed=3)
    yield model, model.encode(images)[0], images, str(root / "b")
    torch.set_num_threads(threads)


class Ctx:
    """What a job sees of the worker: the model, checkpoints, and whether another request waits."""

    cancelled = False

    def __init__(self, model, waiting=lambda: False):
        self.model = model
        self.checks = self.looks = 0
        self._waiting = waiting

    def checkpoint(self):  # would serve waiting previews nested in the job
        self.checks += 1

    def waiting(self):
        self.looks += 1
        return self._waiting()


def _decodes(model, z):
    targets = decodes.new_targets(z, model.image_size)
    while not decodes.decode_chunk(Ctx(model), targets, z, count=N).done:
        pass
    return decodes.pairs(targets, z)


def test_decode_targets_are_capped_and_sample_the_map():
    assert decodes.cap(1000, (256, 256)) == decodes.MAX_DECODES == 64
    assert decodes.cap(20, (256, 256)) == 20
    assert decodes.cap(1000, (1024, 1024)) == decodes.MAX_BYTES // (1024 * 1024 * 3)  # the bytes cap
    order = decodes.plan(240, 64)
    assert len(order) == len(set(order)) == 64 and all(0 <= i < 240 for i in order)
    assert order != sorted(order) and order == decodes.plan(240, 64)  # spread over the map, reproducibly
    t = decodes.new_targets(np.zeros((50, 4, 8, 8), np.float32), (16, 16), max_decodes=33)
    assert len(t.order) == 33 and t.latent_shape == (4, 8, 8) and not t.done and t.model_hash == ""


def test_background_decodes_are_the_full_decodes_and_stop_at_the_cap(tiny):
    model, z, _, _ = tiny
    targets = decodes.new_targets(z, model.image_size, max_decodes=36)
    ctx = Ctx(model)
    r = decodes.decode_chunk(ctx, targets, z, count=1)
    assert (r.decoded, r.total, r.done, r.yielded) == (1, 36, False, False) and ctx.looks >= 1
    assert ctx.checks == 0  # nothing runs nested inside a background decode: it gives way instead
    assert targets.model_hash == model.weights_hash()
    while not decodes.decode_chunk(ctx, targets, z, count=10).done:
        pass
    assert len(targets.images) == 36 and set(targets.images) == set(targets.order)
    r = decodes.decode_chunk(ctx, targets, z, count=10)  # done: no more, memory stays bounded
    assert r.done and r.decoded == 36 and len(targets.images) == 36
    latents, full = decodes.pairs(targets, z)
    assert np.array_equal(latents, z[targets.order]) and full.dtype == np.uint8
    final = np.concatenate([model.decode(z[i:i + 1]) for i in targets.order])  # as tiers.final decodes
    assert np.array_equal(full, final)  # exactly what the final decode shows


def test_a_decode_gives_way_when_another_request_waits(tiny, monkeypatch):
    from latent_explorer.app.jobs import tiers

    model, z, _, _ = tiny
    monkeypatch.setattr(tiers, "CHECK_EVERY_S", 0.0)  # look between every two layers
    targets = decodes.new_targets(z, model.image_size)
    asked = []

    def waiting():  # nothing waits when the chunk starts; a request arrives while it decodes
        asked.append(1)
        return len(asked) > 1

    r = decodes.decode_chunk(Ctx(model, waiting), targets, z, count=1)
    assert r.yielded and r.decoded == 0 and not targets.images and targets.yields == 1
    r = decodes.decode_chunk(Ctx(model, lambda: True), targets, z)  # a request waits before it starts
    assert r.yielded and r.decoded == 0


def test_a_model_change_stops_the_decodes(tiny):
    from latent_explorer.core.models.loading import load_model

    model, z, _, other_spec = tiny
    targets = decodes.new_targets(z, model.image_size)
    decodes.decode_chunk(Ctx(model), targets, z, count=2)
    other = load_model(other_spec, device="cpu", size=16)  # other weights, same architecture
    assert decodes.decode_chunk(Ctx(other), targets, z, count=2).stopped
    model.set_size(32)  # another working size: the planned latents are of the old one
    try:
        assert decodes.decode_chunk(Ctx(model), targets, z, count=2).stopped
    finally:
        model.set_size(16)
    assert len(targets.images) == 2


def test_a_paired_taesd_ends_the_decodes_with_a_report(tiny, monkeypatch):
    model, z, _, _ = tiny
    targets = decodes.new_targets(z, model.image_size)
    decodes.decode_chunk(Ctx(model), targets, z, count=1)
    monkeypatch.setattr(decodes, "supports", lambda m: False)  # a TAESD now previews it
    r = decodes.decode_chunk(Ctx(model), targets, z, count=1)  # a report (not a silent Cancelled)
    assert r.stopped and not r.done and r.decoded == 1


def test_a_decode_gives_way_inside_one_large_layer(tiny, monkeypatch):
    """A layer long enough to keep a preview waiting is computed in bands, with a look between two."""
    import torch

    from latent_explorer.app.jobs import banded, tiers

    model, z, _, _ = tiny
    monkeypatch.setattr(tiers, "CHECK_EVERY_S", 0.0)
    monkeypatch.setattr(banded, "BAND_FLOPS", 2e5)
    conv = torch.nn.Conv2d(8, 8, 3, padding=1)
    monkeypatch.setattr(model, "decode", lambda zz, batch_size=4: conv(torch.zeros(1, 8, 32, 32)))
    asked = []

    def waiting():  # the layer has started (the module's own look said no); then a request arrives
        asked.append(1)
        return len(asked) > 2

    targets = decodes.new_targets(z, model.image_size)
    r = decodes.decode_chunk(Ctx(model, waiting), targets, z, count=1)
    assert r.yielded and not targets.images and len(asked) == 3


def test_banded_layers_compute_the_same_and_look_between_bands(monkeypatch):
    import torch
    import torch.nn.functional as F

    from latent_explorer.app.jobs.banded import banded

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 5, (3, 5), padding=(1, 2))
    x = torch.randn(2, 6, 17, 11)
    q, k, v = torch.randn(1, 2, 50, 8), torch.randn(1, 2, 40, 8), torch.randn(1, 2, 40, 8)
    want_conv, want_att = conv(x), F.scaled_dot_product_attention(q, k, v)
    looks = []
    with torch.no_grad(), banded(lambda: looks.append(1), band_flops=2 * (2 * 2 * 11 * 5 * 6 * 15)):  # 2 rows a band
        got_conv = conv(x)
        assert len(looks) == 8  # 17 rows in 9 bands
        got_att = F.scaled_dot_product_attention(q, k, v)
    assert len(looks) > 8
    assert torch.allclose(got_conv, want_conv, atol=1e-5) and torch.allclose(got_att, want_att, atol=1e-5)
    assert torch.nn.Conv2d.forward is not None and conv(x).shape == want_conv.shape  # unpatched after
    n = len(looks)
    conv(x)
    F.scaled_dot_product_attention(q, k, v)
    assert len(looks) == n


def test_the_refit_learns_the_decodes_and_is_judged_on_them(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    model, z, _, _ = tiny
    ctx = Ctx(model)
    latents, full = _decodes(model, z)
    state = jobs.FitState()
    jobs.fit_chunk(ctx, state, latents, full, steps=1, targets="decodes")
    state.fitter.steps = 60  # a short fit: the test is about what it learns from and is judged on
    r = jobs.fit_chunk(ctx, state, latents, full, steps=10 ** 6, targets="decodes")
    fitter = state.fitter
    assert fitter.done and r.done and r.targets == "decodes"
    assert np.array_equal(fitter.images, full)  # the targets are the full decodes, not the images
    test = fitter.test_idx
    assert r.linear_psnr == pytest.approx(psnr(model.linear_decode(latents[test]), full[test]))
    assert r.psnr == pytest.approx(psnr(LearnedPreview(fitter.net).decode(latents[test]), full[test]))
    model.set_learned_preview(None)


def test_the_cache_notes_which_targets_a_preview_was_fitted_on(tiny, tmp_path):
    model, z, images, _ = tiny
    learned = _image_fit(model, z, images)
    assert learned.targets == "images"
    learned.save(tmp_path / "images.safetensors")
    assert LearnedPreview.load(tmp_path / "images.safetensors").targets == "images"
    learned.targets = "decodes"
    learned.save(tmp_path / "decodes.safetensors")
    assert LearnedPreview.load(tmp_path / "decodes.safetensors").targets == "decodes"


# ---------------------------------------------------------------- on the worker
def test_learn_decode_is_the_lowest_rank_and_gives_way():
    rule = requests.rule(decodes.KIND)
    assert rule.policy == "coalesce" and rule.nesting == "normal"
    assert all(r.rank < rule.rank for k, r in requests.RULES.items() if k != decodes.KIND)


@pytest.fixture
def worker(qtbot, tiny):
    from latent_explorer.gui.worker import DecodeWorker

    w = DecodeWorker(torch_threads=None, model=tiny[0])
    w.start()
    yield w
    w.stop(5000)


@pytest.mark.usefixtures("qt_leak_guard")
def test_waiting_requests_run_before_a_decode_chunk(qtbot, worker, tiny):
    from latent_explorer.app.jobs import tiers

    model, z, _, _ = tiny
    release, busy = threading.Event(), threading.Event()
    worker.submit("final", lambda ctx: (busy.set(), release.wait(10)))
    assert busy.wait(5)
    order = []
    targets = decodes.new_targets(z, model.image_size)
    worker.submit(decodes.KIND, decodes.decode_chunk, targets, z, count=1, on_result=lambda r: order.append("decode"))
    worker.submit("map", lambda ctx: None, on_result=lambda r: order.append("map"))
    worker.submit("preview", tiers.approx, z[0], on_result=lambda d: order.append("preview"))
    release.set()
    qtbot.waitUntil(lambda: len(order) == 3, timeout=10000)
    assert order == ["preview", "map", "decode"]


@pytest.mark.usefixtures("qt_leak_guard")
def test_a_preview_arriving_during_a_decode_is_served_before_the_decode_goes_on(qtbot, worker, tiny,
                                                                                monkeypatch):
    """The chunk's decode runs layer after layer until it gives way; the preview asked for meanwhile
    runs as its own request, then the next chunk decodes."""
    import torch

    from latent_explorer.app.jobs import tiers

    model, z, _, _ = tiny
    monkeypatch.setattr(tiers, "CHECK_EVERY_S", 0.0)
    layer, started, log = torch.nn.Identity(), threading.Event(), []
    real = model.decode

    def endless_decode(zz, batch_size=4):
        """A full decode that only a yield (or the test's give-up) ends: layers, one after another."""
        log.append("decode-start")
        for _ in range(10 ** 6):
            layer(torch.zeros(1))
            started.set()
        log.append("decode-end")  # not reached: the chunk gave way
        return real(zz)

    monkeypatch.setattr(model, "decode", endless_decode)
    targets = decodes.new_targets(z, model.image_size)
    reports = []
    worker.submit(decodes.KIND, decodes.decode_chunk, targets, z, count=1, on_result=reports.append)
    assert started.wait(10)
    worker.submit("preview", tiers.approx, z[0], on_result=lambda d: log.append("preview"))
    qtbot.waitUntil(lambda: len(reports) == 1 and "preview" in log, timeout=10000)
    assert reports[0].yielded and reports[0].decoded == 0 and log == ["decode-start", "preview"]
    monkeypatch.setattr(model, "decode", lambda zz, batch_size=4: (log.append("decoded"), real(zz))[1])
    worker.submit(decodes.KIND, decodes.decode_chunk, targets, z, count=1, on_result=reports.append)
    qtbot.waitUntil(lambda: len(reports) == 2, timeout=10000)
    assert not reports[1].yielded and reports[1].decoded == 1 and log[-1] == "decoded"


def _image_fit(model, z, images):
    """A learned preview fitted on the images, one step (the first fit, in short)."""
    state = jobs.FitState()
    jobs.fit_chunk(Ctx(model), state, z, images, steps=1)
    state.fitter.steps = 5
    return state.fitter.result()


def test_a_refit_on_decodes_that_loses_is_remembered(tiny, tmp_path, monkeypatch):
    """The cached preview it did not beat is saved again marked ``decodes_checked``: a later opening
    installs it and knows the decodes were tried (minutes of CPU on a real VAE)."""
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    model, z, images, _ = tiny
    first = _image_fit(model, z, images)
    model.set_learned_preview(first)
    first.save(jobs.cache_path(model))
    try:
        assert not jobs.install_cached(Ctx(model)).decodes_checked
        latents, full = _decodes(model, z)
        monkeypatch.setattr(jobs, "MIN_GAIN_DB", 1e6)  # the refit loses
        state = jobs.FitState()
        jobs.fit_chunk(Ctx(model), state, latents, full, steps=1, targets="decodes")
        state.fitter.steps = 5
        r = jobs.fit_chunk(Ctx(model), state, latents, full, steps=10 ** 6, targets="decodes")
        assert r.done and not r.installed and r.decodes_checked
        again = jobs.install_cached(Ctx(model))
        assert again.installed and again.targets == "images" and again.decodes_checked
    finally:
        model.set_learned_preview(None)


class FirstStep(Ctx):
    """A Ctx that keeps the fit's weights at its first checkpoint, just before its first training step."""

    def __init__(self, model, state):
        super().__init__(model)
        self.state, self.first = state, None

    def checkpoint(self):
        super().checkpoint()
        if self.first is None and self.state.fitter is not None:
            self.first = {k: v.clone() for k, v in self.state.fitter.net.state_dict().items()}


def test_the_refit_starts_from_the_installed_preview(tiny, tmp_path, monkeypatch):
    """Warm start: the refit on decodes begins at the installed preview's weights (a copy: the preview in
    use is not trained in place), runs ``WARM_STEPS``, and is still judged against the preview in use."""
    import torch

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    model, z, images, _ = tiny
    installed = _image_fit(model, z, images)
    model.set_learned_preview(installed)
    before = {k: v.clone() for k, v in installed.net.state_dict().items()}
    try:
        latents, full = _decodes(model, z)
        state = jobs.FitState()
        ctx = FirstStep(model, state)
        jobs.fit_chunk(ctx, state, latents, full, steps=1, targets="decodes")
        fitter = state.fitter
        assert fitter.warm and fitter.steps == jobs.WARM_STEPS < jobs.FIT_STEPS and fitter.net is not installed.net
        assert ctx.first.keys() == before.keys() and all(torch.equal(ctx.first[k], v) for k, v in before.items())
        after = installed.net.state_dict()
        assert all(torch.equal(after[k], v) for k, v in before.items())  # the preview in use is untouched
        assert not all(torch.equal(fitter.net.state_dict()[k], v) for k, v in before.items())  # the copy learns
        fitter.steps = 3
        r = jobs.fit_chunk(ctx, state, latents, full, steps=10 ** 6, targets="decodes")
        test = fitter.test_idx
        assert r.previous_psnr == pytest.approx(psnr(installed.decode(latents[test]), full[test]))
        assert r.installed == (r.psnr >= r.linear_psnr + jobs.MIN_GAIN_DB and r.psnr > r.previous_psnr)
    finally:
        model.set_learned_preview(None)


def test_the_refit_starts_afresh_without_a_preview_of_its_shape(tiny, tmp_path, monkeypatch):
    """Nothing installed (the image fit lost to the linear map), or a preview of another shape: a fresh
    fit of ``FIT_STEPS`` from the least-squares linear map, its detail layer at zero."""
    import torch

    from latent_explorer.core.models.learned_preview import PreviewNet, fit_linear

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    model, z, _, _ = tiny
    latents, full = _decodes(model, z)
    try:
        for installed in (None, LearnedPreview(PreviewNet(4, 2, width=8, depth=1))):
            model.set_learned_preview(installed)
            state = jobs.FitState()
            ctx = FirstStep(model, state)
            jobs.fit_chunk(ctx, state, latents, full, steps=1, targets="decodes")
            fitter = state.fitter
            assert not fitter.warm and fitter.steps == jobs.FIT_STEPS
            w, b = fit_linear(latents[fitter.train_idx], full[fitter.train_idx], model.factor)
            assert np.allclose(ctx.first["linear.weight"].view(3, -1).numpy(), w)
            assert np.allclose(ctx.first["linear.bias"].numpy(), b)
            last = len(fitter.net.body) - 1
            assert not torch.count_nonzero(ctx.first[f"body.{last}.weight"])
    finally:
        model.set_learned_preview(None)
