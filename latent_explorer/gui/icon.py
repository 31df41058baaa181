"""The app's icon: ``resources/icons/latent-explorer.svg`` and its 256 px PNG rendering.

``app_icon()`` is the window and task-bar icon (``QApplication.setWindowIcon``); the desktop
launcher (``latent-explorer install-launcher``) points at the PNG. The PNG is made from the SVG
by Qt's SVG renderer: ``python -m latent_explorer.gui.icon`` writes it again after an edit.
"""
from __future__ import annotations

from pathlib import Path

from ..core.paths import resources_dir

NAME = "latent-explorer"
PNG_SIZE = 256


def icon_path(kind: str = "png") -> Path:
    """The bundled icon file, ``kind`` "png" or "svg"."""
    return resources_dir() / "icons" / f"{NAME}.{kind}"


def app_icon():
    """The app's QIcon, from the 256 px PNG (Qt scales it down for title bars and task bars)."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    icon = QIcon()
    png = icon_path("png")
    if png.is_file():
        icon.addFile(str(png), QSize(PNG_SIZE, PNG_SIZE))
    return icon


def render(size: int = PNG_SIZE, svg: Path | None = None):
    """The SVG drawn into a ``size``×``size`` QImage (ARGB, transparent corners). Needs a QGuiApplication."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg or icon_path("svg")))
    if not renderer.isValid():
        raise ValueError(f"{svg or icon_path('svg')}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def main() -> int:
    """Write the PNG from the SVG (run after editing the SVG)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])  # QPainter needs one
    app.setApplicationName(NAME)
    out = icon_path("png")
    if not render(PNG_SIZE).save(str(out), "PNG"):
        print(f"could not write {out}")
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
