"""The window's building blocks: a panel (a framed column of widgets), a heading, a placeholder."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout


def panel(*widgets, stretch=None) -> QFrame:
    f = QFrame()
    f.setProperty("role", "panel")
    lay = QVBoxLayout(f)
    lay.setContentsMargins(10, 8, 10, 8)
    lay.setSpacing(6)
    for i, w in enumerate(widgets):
        lay.addWidget(w, (stretch or [0] * len(widgets))[i])
    return f


def heading(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setProperty("role", "heading")
    return lab


def placeholder(text: str) -> QFrame:
    ph = QLabel(text)
    ph.setAlignment(Qt.AlignmentFlag.AlignCenter)
    ph.setProperty("role", "muted")
    return panel(ph)
