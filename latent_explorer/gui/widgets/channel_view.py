"""ChannelView: a spatial latent's channels (C × h × w) as small images, one tile per channel.

Each tile is one channel of the current latent in a diverging colour map around the channel's
centre (its mean over the mapped images; 0 before there are any): the centre is the panel's
dark grey, values above it turn orange, below it blue, full colour at the channel's scale (3
standard deviations over the mapped images, or the tile's own largest deviation before there
are any). A trained VAE's channels have means of their own; drawn around 0, each tile was one
flat tint. Tiles are drawn nearest-neighbour, so one latent pixel is one visible block.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from .. import theme
from .imaging import to_qimage


def _lut() -> np.ndarray:
    """256×3 uint8: blue (−) → dark (0) → orange (+)."""
    neg = np.array(QColor(theme.ACCENT2).getRgb()[:3], np.float32)
    pos = np.array(QColor(theme.ACCENT).getRgb()[:3], np.float32)
    mid = np.array(QColor("#24272e").getRgb()[:3], np.float32)
    t = np.linspace(-1, 1, 256, dtype=np.float32)[:, None]
    a = np.abs(t) ** 0.8
    out = np.where(t < 0, mid + (neg - mid) * a, mid + (pos - mid) * a)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


LUT = _lut()


def colorize(channel: np.ndarray, scale: float) -> np.ndarray:
    """h×w float -> uint8 h×w×3 through the diverging LUT, ±scale at full colour."""
    s = float(scale) if scale and scale > 0 else float(np.abs(channel).max() or 1.0)
    idx = np.clip(np.round((np.asarray(channel, np.float32) / s + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(LUT[idx])


class ChannelView(QWidget):
    """Tiles of the latent's channels; ``set_latent(z)`` with z C×h×w."""

    LABEL_H = 13
    MAX_TILE = 88

    def __init__(self, parent=None):
        super().__init__(parent)
        self._images = []
        self.scales: np.ndarray | None = None
        self.centres: np.ndarray | None = None
        self.latent: np.ndarray | None = None
        self.setMinimumHeight(40)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("the latent's channels: orange above the channel's mean over the mapped images, blue "
                        "below it, dark at it (full colour at 3 standard deviations of that channel)")

    @property
    def count(self) -> int:
        return len(self._images)

    def set_scales(self, scales: np.ndarray | None, centres: np.ndarray | None = None) -> None:
        self.scales = None if scales is None else np.asarray(scales, np.float32).reshape(-1)
        self.centres = None if centres is None else np.asarray(centres, np.float32).reshape(-1)
        if self.latent is not None:
            self.set_latent(self.latent)

    def set_latent(self, z: np.ndarray | None) -> None:
        if z is None or np.asarray(z).ndim != 3:
            self.latent = None
            self._images = []
            self.update()
            return
        z = np.asarray(z, np.float32)
        self.latent = z
        c = len(z)
        sc = self.scales if self.scales is not None and len(self.scales) == c else [0.0] * c
        mid = self.centres if self.centres is not None and len(self.centres) == c else [0.0] * c
        resized = len(self._images) != c
        self._images = [to_qimage(colorize(z[i] - mid[i], sc[i])) for i in range(c)]
        if resized:
            self._fit_height()
        self.update()

    def _grid(self) -> tuple[int, int, float]:
        n = max(1, len(self._images))
        cols = n if n <= 8 else int(math.ceil(n / math.ceil(n / 8)))
        rows = int(math.ceil(n / cols))
        gap = 4.0
        side = min(self.MAX_TILE, (self.width() - gap * (cols - 1)) / cols,
                   (self.height() - rows * (self.LABEL_H + gap)) / rows)
        return cols, rows, max(8.0, side)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._fit_height()

    def _fit_height(self) -> None:
        """Tall enough for tiles of up to MAX_TILE px at this width (the layout gives the rest away)."""
        n = max(1, len(self._images))
        cols = n if n <= 8 else int(math.ceil(n / math.ceil(n / 8)))
        rows = int(math.ceil(n / cols))
        side = min(self.MAX_TILE, (self.width() - 4.0 * (cols - 1)) / cols)
        h = int(rows * (side + self.LABEL_H + 4))
        if h != self.minimumHeight():
            self.setMinimumHeight(max(40, h))

    def paintEvent(self, ev):
        p = QPainter(self)
        if not self._images:
            p.setPen(QColor(theme.MUTED))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no spatial latent")
            p.end()
            return
        cols, rows, side = self._grid()
        gap = 4.0
        x0 = (self.width() - (cols * side + (cols - 1) * gap)) / 2
        f = QFont(p.font())
        f.setPointSizeF(7.5)
        p.setFont(f)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for i, img in enumerate(self._images):
            r, c = divmod(i, cols)
            x = x0 + c * (side + gap)
            y = r * (side + self.LABEL_H + gap)
            p.setPen(QColor(theme.MUTED))
            p.drawText(QRectF(x, y, side, self.LABEL_H), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       f"c{i}")
            p.drawImage(QRectF(x, y + self.LABEL_H, side, side), img)
        p.end()
