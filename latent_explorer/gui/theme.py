"""The look: a dark Fusion palette, one accent colour, and pyqtgraph's matching defaults."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

BACKGROUND = "#16181d"
PANEL = "#1e2128"
BASE = "#121418"
TEXT = "#e3e6ec"
MUTED = "#8a909c"
ACCENT = "#ffb347"      # current latent, scrub handle, selection
ACCENT2 = "#5ec8ff"     # morph / blend drawing
ERROR = "#ff6b6b"

# Tableau 10: distinct on a dark background, the usual palette for class labels
LABEL_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

def stylesheet(scale: float = 1.0) -> str:
    """The app's style sheet; ``scale`` enlarges every font and padding (presentation mode)."""
    def pt(v: float) -> str:
        return f"{v * scale:.1f}pt"

    pad = f"{round(4 * scale)}px {round(10 * scale)}px"
    return f"""
QMainWindow, QWidget {{ font-size: {pt(10)}; }}
QToolTip {{ color: {TEXT}; background: {PANEL}; border: 1px solid #3a3f4b; }}
QLabel[role="heading"] {{ font-weight: 600; color: {TEXT}; font-size: {pt(10)}; }}
QLabel[role="muted"] {{ color: {MUTED}; }}
QLabel[role="caption"] {{ color: {MUTED}; font-size: {pt(9)}; }}
QFrame[role="panel"] {{ background: {PANEL}; border-radius: 6px; }}
QFrame#ErrorBanner {{ background: #4a1f24; border: 1px solid {ERROR}; border-radius: 4px; }}
QFrame#ErrorBanner QLabel {{ color: #ffd9d9; }}
QFrame#HoverCard {{ background: rgba(30, 33, 40, 235); border: 1px solid #4a505e; border-radius: 5px; }}
QLabel#KLBadge {{ border-radius: 3px; padding: 0px 4px; font-size: {pt(8)}; color: #10131a; }}
QLabel#DimName {{ font-family: monospace; }}
QWidget[inactive="true"] QLabel#DimName {{ color: #5d626c; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QPushButton {{ padding: {pad}; }}
"""


STYLESHEET = stylesheet()


def dark_palette() -> QPalette:
    p = QPalette()
    c = QColor
    p.setColor(QPalette.ColorRole.Window, c(BACKGROUND))
    p.setColor(QPalette.ColorRole.WindowText, c(TEXT))
    p.setColor(QPalette.ColorRole.Base, c(BASE))
    p.setColor(QPalette.ColorRole.AlternateBase, c(PANEL))
    p.setColor(QPalette.ColorRole.ToolTipBase, c(PANEL))
    p.setColor(QPalette.ColorRole.ToolTipText, c(TEXT))
    p.setColor(QPalette.ColorRole.Text, c(TEXT))
    p.setColor(QPalette.ColorRole.Button, c("#2a2e37"))
    p.setColor(QPalette.ColorRole.ButtonText, c(TEXT))
    p.setColor(QPalette.ColorRole.BrightText, c(ERROR))
    p.setColor(QPalette.ColorRole.Highlight, c("#3d7bd9"))
    p.setColor(QPalette.ColorRole.HighlightedText, c("#ffffff"))
    p.setColor(QPalette.ColorRole.Link, c(ACCENT2))
    p.setColor(QPalette.ColorRole.PlaceholderText, c(MUTED))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, c("#5d626c"))
    return p


def apply(app, scale: float = 1.0) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(stylesheet(scale))


def configure_pyqtgraph() -> None:
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background=BASE, foreground=MUTED)
