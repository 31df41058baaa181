"""Level of detail for the latent map: any number of points, drawn at the cost of a few thousand.

A small map (at most ``LOD_POINTS`` points) draws every point, as it always did. A larger one
draws what is in view (with a margin, so a pan shows something before the view is redone):
every point when at most ``LOD_POINTS`` are there, else a log-density raster (an ImageItem,
one bin per ``RASTER_PX`` screen pixels, each bin in the majority colour of its points for a
colouring by label, the mean of the ramp for error or density) with a stratified sample of
``SAMPLE_POINTS`` points on top: random (a fixed random priority per point, never "the first
N"), plus the first point of every occupied cell of a ``CELLS`` × ``CELLS`` grid, so sparse
regions and outliers always show. The view is redone ``DEBOUNCE_MS`` after panning or
zooming stops. Picking uses a KD-tree over *all* points (``PointIndex``), exact at a million.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer

LOD_POINTS = 25_000
SAMPLE_POINTS = 6_000
CELLS = 64
RASTER_PX = 2
DEBOUNCE_MS = 90
#: the drawn region reaches this fraction of the view's size beyond each edge
MARGIN = 0.25
#: a colour list this long is a ramp (map_colors' viridis), shorter ones are categories
RAMP_STEPS = 64


class PointIndex:
    """Exact nearest-point picking in screen pixels over any number of points (scipy's cKDTree)."""

    def __init__(self, xy: np.ndarray):
        from scipy.spatial import cKDTree

        self.xy = np.asarray(xy, np.float64)
        self.tree = cKDTree(self.xy) if len(self.xy) else None

    def nearest(self, p: QPointF, pixel_size, radius_px: float) -> int | None:
        """The point nearest to ``p`` in screen pixels (``pixel_size``: the view's size of one pixel),
        within ``radius_px``, else None; among equally near points the lowest index."""
        px, py = pixel_size
        if self.tree is None or not px or not py:
            return None
        q = (p.x(), p.y())
        scale = max(abs(px), abs(py))
        r = radius_px * scale

        def pixel_d2(idx):
            return ((self.xy[idx, 0] - q[0]) / px) ** 2 + ((self.xy[idx, 1] - q[1]) / py) ** 2

        # the 32 nearest in data units bound the pixel-nearest's distance; all points within that
        # bound (a small ball in a dense region) are then compared exactly
        k = min(32, len(self.xy))
        dist, idx = self.tree.query(q, k=k, distance_upper_bound=r)
        idx = np.atleast_1d(idx)[np.isfinite(np.atleast_1d(dist))]
        if not len(idx):
            return None
        bound = min(r, float(np.sqrt(pixel_d2(idx).min())) * scale * (1 + 1e-9))
        cand = np.asarray(self.tree.query_ball_point(q, bound, return_sorted=True), int)
        if not len(cand):
            return None
        d2 = pixel_d2(cand)
        j = int(np.argmin(d2))
        return int(cand[j]) if d2[j] <= radius_px * radius_px else None


def stratified_sample(xy_by_priority: np.ndarray, rect, budget: int, cells: int = CELLS):
    """Positions (into ``xy_by_priority``, points in a random order) of the points inside ``rect``
    = (x0, x1, y0, y1): all of them when at most ``budget``, else the first ``budget`` in the
    random order plus the first of each occupied grid cell. Also returns how many are inside."""
    x0, x1, y0, y1 = rect
    xs, ys = xy_by_priority[:, 0], xy_by_priority[:, 1]
    pos = np.flatnonzero((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))
    if len(pos) <= budget:
        return pos, len(pos)
    cx = np.clip(((xs[pos] - x0) * (cells / max(x1 - x0, 1e-30))).astype(np.int64), 0, cells - 1)
    cy = np.clip(((ys[pos] - y0) * (cells / max(y1 - y0, 1e-30))).astype(np.int64), 0, cells - 1)
    first = np.full(cells * cells, -1, np.int64)
    first[(cy * cells + cx)[::-1]] = pos[::-1]  # the last write wins: each cell's first point
    return np.union1d(pos[:budget], first[first >= 0]), len(pos)


def density_rgba(xy: np.ndarray, codes: np.ndarray, colors: np.ndarray, rect, shape, blur: float = 0.8) -> np.ndarray:
    """An RGBA raster (rows × cols = ``shape``, row 0 at y0) of the points in ``rect``: alpha the log
    of each bin's count, colour its points' majority category or mean ramp colour; the counts are
    smoothed over ``blur`` bins (a Gaussian), so a sparse region reads as a soft cloud, not specks."""
    from scipy.ndimage import gaussian_filter

    x0, x1, y0, y1 = rect
    rows, cols = shape
    xs, ys = xy[:, 0], xy[:, 1]
    inside = np.flatnonzero((xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1))
    out = np.zeros((rows, cols, 4), np.uint8)
    if not len(inside):
        return out
    ix = ((xs[inside] - x0) * (cols / (x1 - x0))).astype(np.int64).clip(0, cols - 1)
    iy = ((ys[inside] - y0) * (rows / (y1 - y0))).astype(np.int64).clip(0, rows - 1)
    b = iy * cols + ix
    nb = rows * cols

    def smooth(a, sigma):
        return gaussian_filter(a.astype(np.float32), sigma) if blur > 0 else a.astype(np.float32)

    count = smooth(np.bincount(b, minlength=nb).reshape(rows, cols), blur)
    c = codes[inside]
    k = len(colors)
    if k == RAMP_STEPS:  # a ramp: the mean step in each bin
        mean = smooth(np.bincount(b, weights=c, minlength=nb).reshape(rows, cols), blur) / np.maximum(count, 1e-6)
        rgb = colors[np.clip(mean.round().astype(np.int64), 0, k - 1)]
    else:  # categories: the most frequent in each bin
        per = smooth(np.bincount(b * k + c, minlength=nb * k).reshape(rows, cols, k), (blur, blur, 0))
        rgb = colors[per.argmax(2)]
    # a floor that fades in over the first point's worth of count: sparse regions show, with soft edges
    alpha = 70 * np.minimum(count / 0.25, 1.0) + 185 * np.log1p(count) / np.log1p(count.max())
    out[..., :3] = rgb
    out[..., 3] = alpha.astype(np.uint8)
    return out


class DetailLayer:
    """Decides what the map's scatter draws, keeps the density raster and the picking index."""

    def __init__(self, plot, view_box, scatter, thumbs, point_size: int):
        self.plot, self.vb, self.scatter, self.thumbs = plot, view_box, scatter, thumbs
        self.point_size = point_size
        self.raster = pg.ImageItem(axisOrder="row-major")
        self.raster.setZValue(-5)  # above a 2-d model's decoded grid (-10), below the points
        self.raster.hide()
        plot.addItem(self.raster, ignoreBounds=True)
        self.xy = np.zeros((0, 2), np.float32)
        self.index = PointIndex(self.xy)
        self.codes = np.zeros(0, np.int64)
        self.colors = np.zeros((0, 3), np.uint8)
        self.brushes: list = []
        self.drawn = np.zeros(0, np.int64)   # the data indices the scatter draws now
        self.in_view = 0                     # points in the drawn region at the last refresh
        self.sampled = False                 # the raster + a sample (rather than every point)
        self.refreshes = 0
        self._timer = QTimer(view_box)   # (goes with the view: it never fires into a deleted map)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        view_box.sigRangeChanged.connect(self._on_range)

    @property
    def large(self) -> bool:
        return len(self.xy) > LOD_POINTS

    def set_data(self, xy: np.ndarray, codes: np.ndarray, colors: list) -> None:
        self.xy = np.asarray(xy, np.float32)
        self.index = PointIndex(self.xy)
        order = np.random.default_rng(0).permutation(len(self.xy)) if self.large else np.arange(len(self.xy))
        self._order, self._by_priority = order, self.xy[order]
        self.set_colors(codes, colors, draw=False)
        if not self.large:
            self._timer.stop()
            self.raster.hide()
            self.sampled = False
            self._draw(np.arange(len(self.xy)))

    def set_colors(self, codes: np.ndarray, colors: list, draw: bool = True) -> None:
        self.codes = np.asarray(codes, np.int64)
        self.colors = np.array([c.getRgb()[:3] for c in colors], np.uint8).reshape(-1, 3)
        self.brushes = [pg.mkBrush(c) for c in colors]
        if draw and not self.large:
            self.scatter.setBrush([self.brushes[i] for i in self.codes])
        elif draw:
            self.refresh()

    def bounds(self) -> tuple[float, float, float, float]:
        lo, hi = self.xy.min(0), self.xy.max(0)
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])

    def fit_view(self, padding: float = 0.04) -> None:
        """Show all points: the view box's auto-range for a small map; a large map's scatter holds a
        sample only, so its range comes from all the points."""
        if not self.large:
            self.vb.autoRange(padding=padding)
            return
        x0, x1, y0, y1 = self.bounds()
        self.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=padding)
        self.refresh()

    def is_drawn(self, i: int) -> bool:
        return not self.large or bool(np.isin(i, self.drawn))

    def _on_range(self, *args) -> None:
        if self.large:
            self._timer.start()
        else:
            self.thumbs.update_view()

    def refresh(self) -> None:
        """Redo a large map for the view: every point in it, or the raster and a sample."""
        self._timer.stop()
        if not self.large:
            return
        self.refreshes += 1
        (x0, x1), (y0, y1) = self.vb.viewRange()
        mx, my = (x1 - x0) * MARGIN, (y1 - y0) * MARGIN
        rect = (x0 - mx, x1 + mx, y0 - my, y1 + my)
        pos, self.in_view = stratified_sample(self._by_priority, rect, LOD_POINTS)
        self.sampled = self.in_view > LOD_POINTS
        if self.sampled:
            pos = pos[:SAMPLE_POINTS] if len(pos) <= SAMPLE_POINTS else \
                stratified_sample(self._by_priority, rect, SAMPLE_POINTS)[0]
            w_px = max(1.0, self.vb.width()) * (1 + 2 * MARGIN)
            h_px = max(1.0, self.vb.height()) * (1 + 2 * MARGIN)
            shape = (int(np.clip(h_px / RASTER_PX, 8, 1024)), int(np.clip(w_px / RASTER_PX, 8, 1024)))
            self.raster.setImage(density_rgba(self.xy, self.codes, self.colors, rect, shape),
                                 autoLevels=False, levels=(0, 255))
            self.raster.setRect(QRectF(rect[0], rect[2], rect[1] - rect[0], rect[3] - rect[2]))
        self.raster.setVisible(self.sampled)
        self._draw(self._order[pos])
        self.thumbs.update_view()

    def _draw(self, idx: np.ndarray) -> None:
        self.drawn = np.sort(idx)
        xy = self.xy[self.drawn]
        size = self.point_size - 1 if self.sampled else self.point_size
        self.scatter.setData(x=xy[:, 0], y=xy[:, 1], brush=[self.brushes[i] for i in self.codes[self.drawn]],
                             size=size, pen=None)

    def stop(self) -> None:
        self._timer.stop()
