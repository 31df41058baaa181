"""The images themselves as the map's points, like a contact sheet.

When few points are in view (a small folder, or a large map zoomed in far enough), each is drawn
as its own thumbnail (``THUMB_PX`` on screen, whatever the zoom), centred on its point; further
out the coloured dots stand alone. The selection and current-latent rings stay above the pictures.
The map's level of detail (``map_lod.DetailLayer``) calls ``update_view`` when the view changes
(a large map: once panning or zooming stops). ``images`` may be lazy (a collection's thumbnails,
read from its shards): only the few shown are indexed.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

#: at most this many thumbnails at once (a pool of image items, reused)
MAX_THUMBS = 160
THUMB_PX = 30


class ThumbnailLayer:
    def __init__(self, plot, view_box):
        self.plot, self.vb = plot, view_box
        self.xy = np.zeros((0, 2), np.float32)
        self.images = None
        self.pool: list[pg.ImageItem] = []
        self.shown: list[int] = []   # the data indices drawn now
        self.enabled = True

    def set_data(self, xy: np.ndarray, images: np.ndarray | None) -> None:
        self.xy = np.asarray(xy, np.float32)
        self.images = images
        self.update_view()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.update_view()

    def _item(self, k: int) -> pg.ImageItem:
        while len(self.pool) <= k:
            item = pg.ImageItem()
            item.setZValue(5)  # above the dots, below the selection (z 10 and up)
            self.plot.addItem(item, ignoreBounds=True)
            self.pool.append(item)
        return self.pool[k]

    def update_view(self) -> None:
        """Thumbnails for the points in view when there are few enough of them, else none."""
        idx = self._visible()
        for k, item in enumerate(self.pool):
            item.setVisible(k < len(idx))
        self.shown = list(idx)
        if not len(idx):
            return
        (x0, x1), (y0, y1) = self.vb.viewRange()
        w_px, h_px = max(1.0, self.vb.width()), max(1.0, self.vb.height())
        sx, sy = THUMB_PX * (x1 - x0) / w_px, THUMB_PX * (y1 - y0) / h_px  # a thumbnail, in view units
        for k, i in enumerate(idx):
            img = self.images[i]
            item = self._item(k)
            # row-major images: flip vertically so the picture is upright on a y-up plot
            item.setImage(np.ascontiguousarray(img[::-1, :, 0] if img.shape[-1] == 1 else img[::-1]),
                          autoLevels=False, levels=(0, 255))
            x, y = float(self.xy[i, 0]), float(self.xy[i, 1])
            item.setRect(pg.QtCore.QRectF(x - sx / 2, y - sy / 2, sx, sy))
            item.setVisible(True)

    def _visible(self) -> np.ndarray:
        if not self.enabled or self.images is None or not len(self.xy):
            return np.zeros(0, int)
        (x0, x1), (y0, y1) = self.vb.viewRange()
        inside = (self.xy[:, 0] >= x0) & (self.xy[:, 0] <= x1) & (self.xy[:, 1] >= y0) & (self.xy[:, 1] <= y1)
        idx = np.flatnonzero(inside)
        return idx if len(idx) <= MAX_THUMBS else np.zeros(0, int)
