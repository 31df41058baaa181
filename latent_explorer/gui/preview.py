"""The large live preview, and the reconstruction view (selected image beside its decode)."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .imaging import for_display, to_pixmap



class PreviewView(QWidget):
    """A pyqtgraph ImageItem showing the decode of the current latent, nearest-neighbour scaled."""

    #: the request id of the image now on screen (emitted after its pixels are set)
    updated = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = pg.GraphicsView(background=None)
        self.view.setMinimumSize(220, 220)
        self.vb = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False, defaultPadding=0.0)
        self.vb.setMenuEnabled(False)
        self.view.setCentralItem(self.vb)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.item)
        self.caption = QLabel("")
        self.caption.setProperty("role", "caption")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        self.placeholder = QLabel("Loading model…", self.view)
        self.placeholder.setProperty("role", "muted")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.caption)
        self._shape = None
        self.image: np.ndarray | None = None
        self.shown_at = 0.0
        self.request_id = 0

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self.placeholder.setGeometry(self.view.rect())

    def set_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text))

    def show_image(self, img: np.ndarray, request_id: int = 0, caption: str | None = None) -> None:
        """Show a uint8 H×W×C image (the original; display scaling happens here)."""
        self.image = img
        # native resolution: the view scales it up, without smoothing (nearest neighbour)
        disp = for_display(img)
        self.item.setImage(disp, autoLevels=False, levels=(0, 255))
        if disp.shape[:2] != self._shape:
            self._shape = disp.shape[:2]
            self.vb.setRange(QRectF(0, 0, disp.shape[1], disp.shape[0]), padding=0.0)
        if self.placeholder.isVisible():
            self.placeholder.hide()
        if caption is not None:
            self.caption.setText(caption)
        self.shown_at = time.perf_counter()
        self.request_id = request_id
        self.updated.emit(request_id)


class _Thumb(QFrame):
    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(112, 112)
        self.image.setStyleSheet("background: #121418; border-radius: 3px;")
        self.title = QLabel(title)
        self.title.setProperty("role", "caption")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.image, 0, Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.title)

    def set(self, img: np.ndarray | None) -> None:
        if img is None:
            self.image.clear()
            return
        pm = to_pixmap(img, 112)
        self.image.setPixmap(pm.scaled(112, 112, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation))


class ReconstructionView(QWidget):
    """The selected image beside its reconstruction decode(μ), with the error between them."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.original = _Thumb("selected image")
        self.recon = _Thumb("reconstruction")
        self.info = QLabel("Click a point on the map to select an image")
        self.info.setProperty("role", "caption")
        self.info.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.info.setWordWrap(True)
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addStretch(1)
        row.addWidget(self.original)
        arrow = QLabel("→")
        arrow.setProperty("role", "muted")
        row.addWidget(arrow)
        row.addWidget(self.recon)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.info)
        self.index: int | None = None

    def set_selected(self, index: int, image: np.ndarray, text: str) -> None:
        self.index = index
        self.original.set(image)
        self.recon.set(None)
        self.info.setText(text)

    def set_reconstruction(self, index: int, image: np.ndarray, text: str | None = None) -> None:
        if index != self.index:
            return
        self.recon.set(image)
        if text:
            self.info.setText(text)

    def clear(self) -> None:
        self.index = None
        self.original.set(None)
        self.recon.set(None)
        self.info.setText("Click a point on the map to select an image")
