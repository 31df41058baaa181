"""The large live preview, and the reconstruction view (selected image beside its decode)."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .imaging import to_pixmap


class ImageCanvas(QWidget):
    """Paints one image as large as fits, aspect kept, nearest-neighbour (a pixel stays a square)."""

    #: the image's tag (a request id) each time it has been painted: when the user sees it
    painted = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.qimage: QImage | None = None
        self.tag = 0
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_qimage(self, qimage: QImage | None, tag: int = 0) -> None:
        self.tag = tag
        # RGB32 is what the raster engine scales fastest (grey or RGB888 would be converted per paint)
        self.qimage = None if qimage is None else qimage.convertToFormat(QImage.Format.Format_RGB32)
        self.update()

    def target_rect(self) -> QRect:
        """Where the image is drawn: centred, scaled to fit, aspect kept."""
        if self.qimage is None or self.qimage.isNull():
            return QRect()
        w, h = self.qimage.width(), self.qimage.height()
        s = min(self.width() / w, self.height() / h)
        tw, th = max(1, int(w * s)), max(1, int(h * s))
        return QRect((self.width() - tw) // 2, (self.height() - th) // 2, tw, th)

    def paintEvent(self, ev):
        p = QPainter(self)
        target = self.target_rect()
        bg = self.palette().window()
        if target.isEmpty():
            p.fillRect(self.rect(), bg)
        else:  # only the margins: the image covers the rest
            w, h = self.width(), self.height()
            for r in (QRect(0, 0, w, target.top()), QRect(0, target.bottom() + 1, w, h - target.bottom() - 1),
                      QRect(0, target.top(), target.left(), target.height()),
                      QRect(target.right() + 1, target.top(), w - target.right() - 1, target.height())):
                if not r.isEmpty():
                    p.fillRect(r, bg)
            p.drawImage(target, self.qimage)  # no SmoothPixmapTransform: nearest neighbour
        p.end()
        if not target.isEmpty():
            self.painted.emit(self.tag)


class PreviewView(QWidget):
    """The decode of the current latent, as large as the panel allows, nearest-neighbour scaled.

    Plain Qt (no pyqtgraph): it exists before the heavy panels are built, so the first preview
    can be shown as soon as the model is loaded, and a new frame costs one small QImage.
    """

    #: the request id of the image now on screen (emitted after its pixels are set)
    updated = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = ImageCanvas()
        self.view.setMinimumSize(220, 220)
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
        self.image = None  # the uint8 H×W×C image on screen (numpy), or None
        self.shown_at = 0.0
        self.request_id = 0

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self.placeholder.setGeometry(self.view.rect())

    def set_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text))

    def show_image(self, img, request_id: int = 0, caption: str | None = None) -> None:
        """Show a uint8 H×W×C image (the original; display scaling happens at paint time)."""
        from .imaging import to_qimage

        self.image = img
        self.view.set_qimage(to_qimage(img), request_id)
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
        self.side = 112
        self.shown = None
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(self.side, self.side)
        self.image.setStyleSheet("background: #121418; border-radius: 3px;")
        self.title = QLabel(title)
        self.title.setProperty("role", "caption")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)  # large type on a narrow column: two lines, not a clipped word
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.image, 0, Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.title)

    def set(self, img: np.ndarray | None) -> None:
        self.shown = img
        if img is None:
            self.image.clear()
            return
        pm = to_pixmap(img, self.side)
        self.image.setPixmap(pm.scaled(self.side, self.side, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation))

    def set_side(self, px: int) -> None:
        self.side = px
        self.image.setFixedSize(px, px)
        self.set(self.shown)


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

    def set_thumb_side(self, px: int) -> None:
        """Smaller thumbnails where width is scarce (presentation mode on a small screen)."""
        for thumb in (self.original, self.recon):
            thumb.set_side(px)

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
