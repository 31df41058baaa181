"""The window's building blocks: a panel (a framed column of widgets), a heading, a placeholder,
and the slider column's controls."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


LEGEND_DIMS = ("sliders span the prior's ±3 · blue band: selected image's μ ± σ · "
               "badge: KL in nats (sorted; grey = unused) · strip: that dimension swept −3 → +3")
LEGEND_SPATIAL = ("PC sliders: principal directions of the encoded images, each spanning ±3 std of the images "
                  "along it · badge: share of their variance · strip: that direction swept · channels: offset "
                  "shifts a channel, gain scales it about its mean")


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


def slider_column(v) -> QFrame:
    """The right column: model caption, Random / temperature / Reset / Copy, the slider stack, the legend
    (its widgets are set on ``v``, the window's Views; ``v.slider_stack`` exists already)."""
    v.model_label = QLabel("loading model…")
    v.model_label.setProperty("role", "caption")
    v.model_label.setWordWrap(True)
    v.random_button = QPushButton("Random")
    v.random_button.setToolTip("decode z ~ N(0, T²·I) (Space)")
    v.temperature = t = QDoubleSpinBox()
    t.setRange(0.0, 3.0)
    t.setSingleStep(0.1)
    t.setValue(1.0)
    t.setPrefix("T ")
    t.setToolTip("temperature: the prior's standard deviation for random samples")
    v.reset_button = QPushButton("Reset to μ")
    v.reset_button.setToolTip("back to the selected image's posterior mean μ")
    v.copy_button = QPushButton("Copy z")
    v.copy_button.setToolTip("copy the current latent to the clipboard as text")
    buttons = QHBoxLayout()
    buttons.setSpacing(6)
    buttons.setContentsMargins(0, 0, 0, 0)
    for w in (v.random_button, v.temperature, None, v.reset_button, v.copy_button):
        buttons.addStretch(1) if w is None else buttons.addWidget(w)
    bw = QWidget()
    bw.setLayout(buttons)
    v.legend = QLabel(LEGEND_DIMS)
    v.legend.setProperty("role", "caption")
    v.legend.setWordWrap(True)
    v.sliders_heading = heading("Latent dimensions")
    right = panel(v.sliders_heading, v.model_label, bw, v.user_directions, v.slider_stack, v.legend,
                  stretch=[0, 0, 0, 0, 1, 0])
    right.setMinimumWidth(380)
    return right
