"""Spatial-latent widgets and the tiered preview on their own (no main window): direction and
channel sliders, the channel view, and approximate-then-final previews on the DecodeWorker with
a slow fake decoder (stale full decodes are stopped and never shown)."""
import threading
import time

import numpy as np
import pytest

from gui_fixtures import qt_leak_guard  # noqa: F401
from latent_explorer.core.latent.directions import fit_directions


def test_spatial_sliders_move_along_directions_and_channels(qtbot, qt_leak_guard):
    from latent_explorer.gui.widgets.spatial_sliders import SpatialSliderPanel

    rng = np.random.default_rng(0)
    lat = rng.standard_normal((20, 4, 6, 6)).astype(np.float32)
    dirs = fit_directions(lat)
    panel = SpatialSliderPanel()
    qtbot.addWidget(panel)
    panel.set_shape((4, 6, 6))
    assert len(panel.channel_rows) == 4 and not panel.direction_rows and panel.hint.isVisibleTo(panel)
    panel.set_directions(dirs)
    assert len(panel.direction_rows) == 19  # at most N − 1 directions
    assert not panel.hint.isVisibleTo(panel)
    lo, hi = dirs.ranges[0]
    assert panel.direction_rows[0].slider.minimum() == pytest.approx(lo, abs=0.01)
    edits = []
    panel.latentEdited.connect(edits.append)
    panel.set_latent(lat[2])  # from elsewhere: no signal
    assert not edits
    assert panel.direction_rows[0].slider.value() == pytest.approx(dirs.coords(lat[2])[0], abs=0.01)
    panel.move_direction(0, 1.0)
    assert len(edits) == 1
    assert dirs.coords(edits[0])[0] == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(dirs.coords(edits[0])[1:], dirs.coords(lat[2])[1:], atol=1e-3)
    panel.channel_rows[1].gain.setValue(2.0)
    z = edits[-1]
    moved = dirs.move(lat[2], 0, float(panel.edit.coords[0]))
    assert z[1].std() == pytest.approx(2 * moved[1].std(), rel=1e-3)
    np.testing.assert_allclose(z[0], moved[0], atol=1e-5)
    panel.reset_edits()
    np.testing.assert_allclose(edits[-1], lat[2], atol=1e-4)


def test_channel_view_shows_one_tile_per_channel(qtbot, qt_leak_guard):
    from latent_explorer.gui.widgets.channel_view import ChannelView, colorize

    v = ChannelView()
    qtbot.addWidget(v)
    v.resize(320, 120)
    v.set_latent(np.random.default_rng(0).standard_normal((16, 8, 8)).astype(np.float32))
    assert v.count == 16
    assert not v.grab().isNull()
    v.set_scales(np.ones(16))
    img = colorize(np.array([[-1.0, 0.0, 1.0]]), 1.0)
    assert img.shape == (1, 3, 3) and img[0, 2, 0] > img[0, 2, 2] and img[0, 0, 2] > img[0, 0, 0]
    # drawn around each channel's centre (its mean over the mapped images): at the centre, the dark grey
    v.set_scales(np.ones(16), np.full(16, 2.0))
    v.set_latent(np.full((16, 8, 8), 2.0, np.float32))
    dark = colorize(np.zeros((1, 1)), 1.0)[0, 0]
    assert v._images[0].pixelColor(0, 0).getRgb()[:3] == tuple(int(c) for c in dark)
    v.set_latent(np.zeros(16))
    assert v.count == 0


class SlowSpatial:
    """A stand-in for a slow decoder: approx_decode paints mean(z) at once; decode runs 25 torch
    layers with a sleep between them (interruptible) and paints mean(z) + 1. With ``gate`` set to a
    threading.Event, decode keeps running layers (each one interruptible) until the gate opens."""

    latent_shape = (2, 4, 4)
    image_size = (8, 8)
    channels = 3
    device = "cpu"
    spec = name = "slow"
    slow_decoder = True
    preview_kind = "linear"

    def __init__(self, layer_s=0.02):
        import torch

        self.layer = torch.nn.Identity()
        self.layer_s = layer_s
        self.started = threading.Event()
        self.full_started: list[float] = []
        self.full_done: list[float] = []
        self.notices = []
        self.gate: threading.Event | None = None

    @staticmethod
    def _paint(z, add):
        v = np.clip(np.round(np.asarray(z, np.float32).reshape(len(z), -1).mean(1) * 10 + 100 + add), 0, 255)
        return np.broadcast_to(v.astype(np.uint8)[:, None, None, None], (len(z), 8, 8, 3)).copy()

    def approx_decode(self, z):
        return self._paint(z, 0)

    def decode(self, z, batch_size=4):
        import torch

        z = np.asarray(z, np.float32).reshape(-1, *self.latent_shape)
        self.full_started.append(float(z.mean()))
        self.started.set()
        x = torch.zeros(1)
        for _ in range(25):
            time.sleep(self.layer_s)
            x = self.layer(x)
        while self.gate is not None and not self.gate.wait(self.layer_s):
            x = self.layer(x)
        self.full_done.append(float(z.mean()))
        return self._paint(z, 1)


@pytest.fixture
def tiered(qtbot, qt_leak_guard):
    from latent_explorer.gui.controllers.tiered import TieredPreviewer
    from latent_explorer.gui.worker import DecodeWorker

    model = SlowSpatial()
    worker = DecodeWorker(model=model)
    worker.start()
    shown = []
    tp = TieredPreviewer(worker, lambda img, rid, cap, s, final: shown.append((int(img[0, 0, 0]), final, s)),
                         pause_ms=100)
    yield model, worker, tp, shown
    tp.stop()
    worker.stop()


def test_tiered_preview_shows_approximate_first_then_final(qtbot, tiered):
    from latent_explorer.gui.widgets.tier_badge import tier_text

    model, worker, tp, shown = tiered
    z = np.full((2, 4, 4), 1.0, np.float32)
    with qtbot.waitSignal(tp.frameShown, timeout=10000) as first:
        tp.request(z, "one")
    assert first.args[1] is False and shown[0][:2] == (110, False)
    with qtbot.waitSignal(tp.frameShown, timeout=5000) as second:
        pass
    assert second.args[1] is True and shown[-1][:2] == (111, True)
    assert tier_text(False, 0.004) == "approximate · 4 ms" and tier_text(True, 2.71) == "final · 2.7 s"


def test_stale_full_decode_is_stopped_and_never_shown(qtbot, tiered):
    model, worker, tp, shown = tiered
    z1 = np.full((2, 4, 4), 1.0, np.float32)
    z2 = np.full((2, 4, 4), 2.0, np.float32)
    gate = model.gate = threading.Event()  # no full decode can finish until it opens
    tp.request(z1, "one")
    qtbot.waitUntil(lambda: model.started.is_set(), timeout=10000)  # z1's full decode is running
    with qtbot.waitSignal(tp.frameShown, timeout=10000) as approx:
        tp.request(z2, "two")
    # z2's approximate frame came while z1's full decode could not finish: it did not wait for it
    assert approx.args[1] is False and shown[-1][:2] == (120, False)
    assert model.full_done == [] and not gate.is_set()
    gate.set()  # now a full decode that is still going finishes
    qtbot.waitUntil(lambda: any(f for _, f, _ in shown), timeout=5000)
    finals = [v for v, f, _ in shown if f]
    assert finals == [121]  # only z2's final frame, never z1's
    assert model.full_done == [2.0]  # z1's decode was stopped part-way
    assert model.full_started[0] == 1.0
    assert tp.final_requests == 2


def test_known_image_schedules_the_final_only_when_approximate(qtbot, tiered):
    model, worker, tp, shown = tiered
    z = np.full((2, 4, 4), 0.5, np.float32)
    tp.request(z, "frame", image=np.zeros((8, 8, 3), np.uint8), final=True, seconds=1.0)
    assert shown[-1][1] is True and not tp.timer.isActive()
    tp.request(z, "frame", image=np.zeros((8, 8, 3), np.uint8), final=False)
    assert tp.timer.isActive()
    qtbot.waitUntil(lambda: tp.finals_shown == 1, timeout=5000)
