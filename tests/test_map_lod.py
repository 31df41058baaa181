"""The map's level of detail: exact KD-tree picking, stratified samples, and a large map in the widget."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from latent_explorer.gui.widgets.map_lod import (CELLS, LOD_POINTS, SAMPLE_POINTS, PointIndex, density_rgba,
                                                 stratified_sample)


def _brute(xy, p, px, py, r):
    d2 = ((xy[:, 0] - p[0]) / px) ** 2 + ((xy[:, 1] - p[1]) / py) ** 2
    i = int(np.argmin(d2))
    return i if d2[i] <= r * r else None


def test_kdtree_pick_equals_brute_force_with_unequal_pixels():
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(0, 1, (20000, 2)), rng.normal(4, 0.01, (2000, 2))]).astype(np.float32)
    index = PointIndex(xy)
    for px, py in ((0.01, 0.01), (0.002, 0.03), (0.05, 0.001)):
        for p in rng.uniform(-3, 5, (150, 2)):
            assert index.nearest(QPointF(*p), (px, py), 7.0) == _brute(xy.astype(np.float64), p, px, py, 7.0)


def test_stratified_sample_keeps_outliers_and_is_not_the_first_n():
    rng = np.random.default_rng(1)
    xy = np.concatenate([rng.normal(0, 0.1, (50000, 2)), [[9.0, 9.0]]]).astype(np.float32)
    order = rng.permutation(len(xy))
    pos, inside = stratified_sample(xy[order], (-10, 10, -10, 10), 1000)
    picked = order[pos]
    assert inside == len(xy)
    assert 1000 <= len(picked) <= 1000 + CELLS * CELLS
    assert len(xy) - 1 in picked               # the lone outlier is a stratum of its own
    assert picked.max() > 40000 and picked.min() < 10000  # spread over the data, not its head
    pos, inside = stratified_sample(xy[order], (8, 10, 8, 10), 1000)
    assert inside == 1 and list(order[pos]) == [len(xy) - 1]


def test_density_raster_colours_by_majority():
    xy = np.array([[0.1, 0.1]] * 5 + [[0.1, 0.1]] * 2 + [[0.9, 0.9]], np.float32)
    codes = np.array([1] * 5 + [0] * 2 + [0])
    colors = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    img = density_rgba(xy, codes, colors, (0, 1, 0, 1), (2, 2), blur=0)
    assert tuple(img[0, 0, :3]) == (0, 0, 255) and tuple(img[1, 1, :3]) == (255, 0, 0)
    assert img[0, 0, 3] > img[1, 1, 3] > 0 and img[0, 1, 3] == 0


@pytest.fixture
def big_map(qtbot):
    from latent_explorer.app.jobs.mapping import MapData
    from latent_explorer.core.latent.project import fit_projection, point_density
    from latent_explorer.gui.widgets.latent_map import LatentMapWidget

    rng = np.random.default_rng(2)
    n = 60_000
    labels = rng.integers(0, 3, n)
    mean = (rng.normal(0, 1, (n, 4)) + labels[:, None] * 3).astype(np.float32)
    proj = fit_projection(mean, "pca")

    class Thumbs:
        def __getitem__(self, i):
            return np.full((8, 8, 1), i % 255, np.uint8)

    err = rng.random(n).astype(np.float32)
    data = MapData("big", Thumbs(), labels, mean, None, err, proj, None, point_density(proj.xy), None)
    w = LatentMapWidget()
    qtbot.addWidget(w)
    w.resize(700, 520)
    w.show()
    w.set_data(data)
    yield w, data
    w.lod.stop()


def _wait_refresh(qtbot, w, before):
    qtbot.waitUntil(lambda: w.lod.refreshes > before and not w.lod._timer.isActive(), timeout=10000)


def test_large_map_draws_a_raster_and_a_sample_then_every_point_zoomed_in(qtbot, big_map):
    w, data = big_map
    lod = w.lod
    assert lod.sampled and lod.raster.isVisible()
    assert len(lod.drawn) <= SAMPLE_POINTS + CELLS * CELLS
    assert len(w.scatter.data) == len(lod.drawn)
    # picking is exact over all points, drawn or not
    hidden = int(np.setdiff1d(np.arange(len(data.xy)), lod.drawn)[0])
    at = QPointF(*map(float, data.xy[hidden]))
    got = w.point_at(at)
    px, py = w.vb.viewPixelSize()
    assert got == _brute(data.xy.astype(np.float64), (at.x(), at.y()), px, py, 7.0)
    # the colour mode works at this level: the raster is redone in the ramp's colours
    before = lod.refreshes
    w.set_color_mode("error")
    assert lod.refreshes > before and len(lod.colors) == 64
    # zoom far in around one point: few enough in view, every one of them is drawn
    before = lod.refreshes
    cx, cy = map(float, data.xy[hidden])
    w.vb.setRange(xRange=(cx - 0.05, cx + 0.05), yRange=(cy - 0.05, cy + 0.05), padding=0)
    _wait_refresh(qtbot, w, before)
    assert not lod.sampled and not lod.raster.isVisible()
    assert lod.in_view <= LOD_POINTS and hidden in lod.drawn
    w.set_selected(hidden)
    assert len(w.selected_mark.data) == 1


def test_small_map_draws_every_point_without_a_raster(qtbot):
    from latent_explorer.app.jobs.mapping import MapData
    from latent_explorer.core.latent.project import fit_projection, point_density
    from latent_explorer.gui.widgets.latent_map import LatentMapWidget

    rng = np.random.default_rng(3)
    mean = rng.normal(0, 1, (5000, 4)).astype(np.float32)
    proj = fit_projection(mean, "pca")
    data = MapData("small", np.zeros((5000, 8, 8, 1), np.uint8), None, mean, None, np.zeros(5000, np.float32),
                   proj, None, point_density(proj.xy), None)
    w = LatentMapWidget()
    qtbot.addWidget(w)
    w.set_data(data)
    assert len(w.scatter.data) == 5000 and not w.lod.raster.isVisible() and not w.lod._timer.isActive()
