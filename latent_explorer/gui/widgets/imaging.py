"""numpy images for Qt: nearest-neighbour upscaling, QImage conversion, strips and mosaics."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def upscale(img: np.ndarray, min_side: int) -> np.ndarray:
    """Nearest-neighbour upscale by a whole factor so the longer side is at least ``min_side``."""
    h, w = img.shape[:2]
    s = max(1, int(np.ceil(min_side / max(h, w))))
    if s == 1:
        return np.ascontiguousarray(img)
    return np.ascontiguousarray(img.repeat(s, 0).repeat(s, 1))


def for_display(img: np.ndarray) -> np.ndarray:
    """uint8 H×W×C -> what ImageItem wants: C-contiguous H×W (grey) or H×W×3."""
    img = np.asarray(img, np.uint8)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    return np.ascontiguousarray(img)


def to_qimage(img: np.ndarray) -> QImage:
    """uint8 H×W, H×W×1 or H×W×3 -> an independent QImage."""
    img = for_display(img)
    h, w = img.shape[:2]
    if img.ndim == 2:
        q = QImage(img.data, w, h, img.strides[0], QImage.Format.Format_Grayscale8)
    else:
        q = QImage(img.data, w, h, img.strides[0], QImage.Format.Format_RGB888)
    return q.copy()


def to_pixmap(img: np.ndarray, min_side: int = 0) -> QPixmap:
    if min_side:
        img = upscale(img, min_side)
    return QPixmap.fromImage(to_qimage(img))


def hstack(images: np.ndarray, gap: int = 1, fill: int = 0) -> np.ndarray:
    """N×H×W×C -> one H×(N·W + gaps)×C row."""
    n, h, w, c = images.shape
    out = np.full((h, n * w + (n - 1) * gap, c), fill, np.uint8)
    for i in range(n):
        out[:, i * (w + gap):i * (w + gap) + w] = images[i]
    return out


def strip_size(px: int) -> tuple[int, int]:
    """(width, height) of a 7-frame strip ``px`` wide: square frames, a pixel between them."""
    return px, max(8, round((px - 6) / 7))


def show_strip(label, images: np.ndarray) -> None:
    """Put a traversal strip (images side by side) on a QLabel, scaled to fit it."""
    from PySide6.QtCore import Qt

    pm = to_pixmap(hstack(images, gap=1))
    label.setPixmap(pm.scaled(label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                              Qt.TransformationMode.SmoothTransformation))
