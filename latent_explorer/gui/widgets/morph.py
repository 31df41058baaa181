"""MorphStrip: the frames of a morph between two (or more) latents, a scrub handle, and export."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QSpinBox,
                               QVBoxLayout, QWidget)

from .. import theme
from .imaging import to_qimage


class StripView(QWidget):
    """Paints the frames in a row (nearest-neighbour) and outlines the scrubbed one; click/drag scrubs."""

    scrubbed = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.frames: np.ndarray | None = None
        self._images = []
        self.current = 0
        self.setMinimumHeight(64)
        self.setMouseTracking(False)

    def set_frames(self, frames: np.ndarray | None) -> None:
        self.frames = frames
        self._images = [] if frames is None else [to_qimage(f) for f in frames]
        self.current = min(self.current, max(0, len(self._images) - 1))
        self.update()

    def set_current(self, k: int) -> None:
        self.current = k
        self.update()

    def _cell(self) -> tuple[float, float, float]:
        n = max(1, len(self._images))
        gap = 2.0
        side = min((self.width() - gap * (n - 1)) / n, float(self.height()))
        x0 = (self.width() - (side * n + gap * (n - 1))) / 2
        return side, gap, x0

    def frame_at(self, x: float) -> int:
        side, gap, x0 = self._cell()
        k = int((x - x0) // (side + gap))
        return int(np.clip(k, 0, max(0, len(self._images) - 1)))

    def paintEvent(self, ev):
        p = QPainter(self)
        if not self._images:
            p.setPen(QColor(theme.MUTED))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       "Drag from one point to another on the map to morph between them")
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        side, gap, x0 = self._cell()
        y0 = (self.height() - side) / 2
        for i, img in enumerate(self._images):
            p.drawImage(QRectF(x0 + i * (side + gap), y0, side, side), img)
        p.setPen(QPen(QColor(theme.ACCENT), 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(x0 + self.current * (side + gap) - 1, y0 - 1, side + 2, side + 2))
        p.end()

    def mousePressEvent(self, ev):
        if self._images and ev.button() == Qt.MouseButton.LeftButton:
            self.scrubbed.emit(self.frame_at(ev.position().x()))

    def mouseMoveEvent(self, ev):
        if self._images and ev.buttons() & Qt.MouseButton.LeftButton:
            self.scrubbed.emit(self.frame_at(ev.position().x()))


class MorphStrip(QWidget):
    frameScrubbed = Signal(int)
    settingsChanged = Signal()       # method or frame count changed: recompute the strip
    exportRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Morph")
        self.title.setProperty("role", "heading")
        # a long title (a dataset or morph name) must not widen the window: it is clipped instead
        self.title.setMinimumWidth(60)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.method = QComboBox()
        self.method.addItem("slerp", "slerp")
        self.method.addItem("lerp", "lerp")
        self.method.setToolTip("slerp follows the sphere where Gaussian latents live; lerp is a straight line")
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(3, 64)
        self.frames_spin.setValue(12)
        self.frames_spin.setSuffix(" frames")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("save as GIF, MP4 or a PNG strip, with its recipe")
        self.export_button.setEnabled(False)
        self.view = StripView()
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.setEnabled(False)
        self.caption = QLabel("")
        self.caption.setProperty("role", "caption")
        head = QHBoxLayout()
        head.addWidget(self.title, 1)  # the title takes the spare width (and is clipped, not the controls)
        head.addWidget(self.method)
        head.addWidget(self.frames_spin)
        head.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addLayout(head)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.scrub)
        lay.addWidget(self.caption)
        self.strip = None          # tasks.Strip now shown
        self.description = ""
        self.view.scrubbed.connect(self.scrub.setValue)
        self.scrub.valueChanged.connect(self._on_scrub)
        self.method.currentIndexChanged.connect(lambda _: self.settingsChanged.emit())
        self.frames_spin.valueChanged.connect(lambda _: self.settingsChanged.emit())
        self.export_button.clicked.connect(self.exportRequested)

    @property
    def method_name(self) -> str:
        return self.method.currentData()

    @property
    def frame_count(self) -> int:
        return self.frames_spin.value()

    def set_settings(self, method: str, frames: int) -> None:
        """Method and frame count from elsewhere (a session), without a settingsChanged echo."""
        for w in (self.method, self.frames_spin):
            w.blockSignals(True)
        i = self.method.findData(method)
        if i >= 0:
            self.method.setCurrentIndex(i)
        self.frames_spin.setValue(int(frames))
        for w in (self.method, self.frames_spin):
            w.blockSignals(False)

    def set_strip(self, strip, description: str) -> None:
        self.strip = strip
        self.description = description
        self.view.set_frames(strip.frames)
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, len(strip.frames) - 1)
        self.scrub.setValue(0)
        self.scrub.blockSignals(False)
        self.scrub.setEnabled(True)
        self.view.set_current(0)
        self.export_button.setEnabled(True)
        self.title.setText(f"Morph  {description}")
        self.caption.setText(f"{len(strip.frames)} frames, {strip.method} · drag the handle or the strip to scrub")

    def clear(self) -> None:
        self.strip = None
        self.view.set_frames(None)
        self.scrub.setRange(0, 0)
        self.scrub.setEnabled(False)
        self.export_button.setEnabled(False)
        self.title.setText("Morph")
        self.caption.setText("")

    def _on_scrub(self, k: int) -> None:
        self.view.set_current(k)
        self.frameScrubbed.emit(k)
