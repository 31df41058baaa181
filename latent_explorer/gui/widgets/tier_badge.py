"""The tier badge over the preview: which decode is on screen and how long it took.

"approximate: linear · 4 ms" (orange) while a slow decoder's fast preview is shown — it names
which one: ``linear`` (the per-pixel colour map), ``learned`` (the small network fitted to the
map's images), ``TAESD`` (a paired tiny decoder) — and "final · 2.7 s" (green) once its full
decode is.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QLabel, QWidget


def format_seconds(seconds: float) -> str:
    ms = seconds * 1000.0
    if ms < 1000:
        return f"{ms:.0f} ms" if ms >= 1 else f"{ms:.1f} ms"
    return f"{seconds:.1f} s"


PREVIEW_NAMES = {"linear": "linear", "learned": "learned", "taesd": "TAESD"}


def tier_text(final: bool, seconds: float, preview: str = "") -> str:
    """"final · 2.7 s", "approximate: learned · 4 ms" (or "approximate · 4 ms" when it is not known which)."""
    name = "final" if final else "approximate" + (f": {PREVIEW_NAMES[preview]}" if preview in PREVIEW_NAMES else "")
    return f"{name} · {format_seconds(seconds)}"


class TierBadge(QLabel):
    """A small label over the preview's top-left corner: which tier is shown, and its time."""

    def __init__(self, host: QWidget):
        super().__init__(host)
        self.setObjectName("TierBadge")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.final: bool | None = None
        host.installEventFilter(self)
        self.hide()

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Resize:
            self.move(8, 8)
        return False

    def set_tier(self, final: bool, seconds: float, pending: bool = False, preview: str = "") -> None:
        self.final = final
        text = tier_text(final, seconds, preview)
        host = self.parentWidget()
        if pending and not final:
            longer = text + " · full decode when you pause"
            # the hint only where it fits over the preview (a narrow window keeps the tier and the time)
            if host is None or self.fontMetrics().horizontalAdvance(longer) + 32 <= host.width():
                text = longer
        self.setText(text)
        fg, bg = ("#10131a", "rgba(126, 217, 140, 220)") if final else ("#10131a", "rgba(255, 179, 71, 220)")
        self.setStyleSheet(f"QLabel#TierBadge {{ color: {fg}; background: {bg}; border-radius: 3px;"
                           f" padding: 1px 6px; font-size: 8pt; }}")
        self.adjustSize()
        self.move(8, 8)
        self.show()
        self.raise_()

    def clear(self) -> None:
        self.final = None
        self.hide()
