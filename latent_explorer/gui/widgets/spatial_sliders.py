"""Sliders for spatial latents (C × h × w): principal directions, then per-channel offset and gain.

A spatial latent has thousands of numbers, so instead of one slider per number:
(a) one slider per principal direction of the encoded images (up to 32, most variance first),
    each spanning ±3 standard deviations of the images' projections on it, with the share of
    the variance it explains, and a traversal strip of what it does;
(b) per channel an offset (shift the whole channel) and a gain (its contrast about its mean).
The sliders edit a ``core.latent.directions.SpatialEdit``; ``latentEdited(z)`` carries the new
latent. ``set_latent(z)`` (a click, a morph, an undo) starts a fresh edit from ``z`` without
emitting anything.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from ...core.latent.directions import Directions, SpatialEdit
from .imaging import show_strip
from .sliders import lay_out_row, scrolling_rows

STRIP_HEIGHT = 22
OFFSET_RANGE = 3.0
GAIN_RANGE = (0.0, 3.0)
NO_IMAGES_HINT = ("Open a folder of your images (File → Open images folder…, or drop it on the window) "
                  "to get principal-direction sliders fitted to them.")


def labeled_slider(lo: float, hi: float, value: float, decimals: int = 2) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setDecimals(decimals)
    span = hi - lo
    s.setSingleStep(round(span / 120, 4) or 0.01)
    s.setPageStep(round(span / 12, 4) or 0.1)
    s.setValue(value)
    s.setMinimumWidth(110)
    return s


def set_quietly(slider: QLabeledDoubleSlider, value: float) -> None:
    lo, hi = slider.minimum(), slider.maximum()
    slider.blockSignals(True)
    slider.setValue(float(np.clip(value, lo, hi)))
    slider.blockSignals(False)


class DirectionRow(QWidget):
    valueChanged = Signal(int, float)

    def __init__(self, k: int, lo: float, hi: float, explained: float, parent=None):
        super().__init__(parent)
        self.k = k
        self.name = QLabel(f"PC{k + 1}")
        self.name.setObjectName("DimName")
        self.name.setFixedWidth(38)
        self.badge = QLabel(f"{explained * 100:.1f}%")
        self.badge.setObjectName("KLBadge")
        self.badge.setFixedWidth(46)
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setToolTip(f"PC{k + 1} explains {explained * 100:.1f}% of the variance of the encoded images")
        a = 0.25 + 0.75 * min(1.0, explained / 0.25)
        self.badge.setStyleSheet(f"background: rgba(255,179,71,{a:.2f}); color: #10131a;")
        self.slider = labeled_slider(lo, hi, 0.0)
        self.slider.setToolTip(f"move along principal direction {k + 1}; the range is ±3 standard deviations "
                               f"of the images along it")
        self.strip = QLabel()
        self.strip.setFixedSize(7 * STRIP_HEIGHT + 6, STRIP_HEIGHT)
        lay_out_row(self)
        self.slider.valueChanged.connect(lambda v: self.valueChanged.emit(self.k, float(v)))

    def set_strip(self, images: np.ndarray) -> None:
        show_strip(self.strip, images)


class ChannelRow(QWidget):
    offsetChanged = Signal(int, float)
    gainChanged = Signal(int, float)

    def __init__(self, c: int, parent=None):
        super().__init__(parent)
        self.c = c
        name = QLabel(f"c{c}")
        name.setObjectName("DimName")
        name.setFixedWidth(38)
        self.offset = labeled_slider(-OFFSET_RANGE, OFFSET_RANGE, 0.0)
        self.offset.setToolTip(f"offset: add this to every value of channel {c}")
        self.gain = labeled_slider(*GAIN_RANGE, 1.0)
        self.gain.setToolTip(f"gain: scale channel {c} about its mean (its contrast); 1 leaves it as it is")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 1, 2, 1)
        lay.setSpacing(6)
        lay.addWidget(name)
        for label, s in (("offset", self.offset), ("gain", self.gain)):
            lab = QLabel(label)
            lab.setProperty("role", "caption")
            lay.addWidget(lab)
            lay.addWidget(s, 1)
        self.offset.valueChanged.connect(lambda v: self.offsetChanged.emit(self.c, float(v)))
        self.gain.valueChanged.connect(lambda v: self.gainChanged.emit(self.c, float(v)))


def _section(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setProperty("role", "heading")
    return lab


class SpatialSliderPanel(QWidget):
    """Direction and channel sliders in one scroll area; ``latentEdited(z)`` for user edits only."""

    latentEdited = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.edit: SpatialEdit | None = None
        self.directions: Directions | None = None
        self.direction_rows: list[DirectionRow] = []
        self.channel_rows: list[ChannelRow] = []
        self.hint = QLabel(NO_IMAGES_HINT)
        self.hint.setProperty("role", "muted")
        self.hint.setWordWrap(True)
        self.summary = QLabel("")
        self.summary.setProperty("role", "caption")
        self.summary.setWordWrap(True)
        self.reset_button = QPushButton("Reset edits")
        self.reset_button.setToolTip("undo the direction and channel edits since the last image or click")
        self.reset_button.clicked.connect(self.reset_edits)
        self.body, self.body_layout, self.scroll = scrolling_rows()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(self.reset_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.hint)
        lay.addLayout(top)
        lay.addWidget(self.scroll, 1)
        self.dir_heading = _section("Principal directions")
        self.chan_heading = _section("Channels: offset and gain")

    # ---- building
    def set_shape(self, latent_shape: tuple) -> None:
        """A new model: channel rows for its C channels, no directions until images are encoded."""
        self.edit = SpatialEdit(tuple(latent_shape))
        self.directions = None
        self._clear_rows(self.direction_rows)
        self._clear_rows(self.channel_rows)
        self.direction_rows, self.channel_rows = [], []
        for c in range(self.edit.channels):
            row = ChannelRow(c)
            row.offsetChanged.connect(self._on_offset)
            row.gainChanged.connect(self._on_gain)
            self.channel_rows.append(row)
        self.hint.setText(NO_IMAGES_HINT)
        self.hint.show()
        self.summary.setText("")
        self._relayout()

    def set_directions(self, directions: Directions | None, hint: str | None = None) -> None:
        if self.edit is None:
            return
        current = self.edit.latent()
        self.directions = directions
        self._clear_rows(self.direction_rows)
        self.direction_rows = []
        self.edit.set_directions(directions)
        self.edit.reset(current)
        if directions is not None:
            ranges = directions.ranges
            for k in range(len(directions)):
                row = DirectionRow(k, float(ranges[k, 0]), float(ranges[k, 1]), float(directions.explained[k]))
                row.valueChanged.connect(self._on_direction)
                self.direction_rows.append(row)
            total = float(directions.explained.sum()) * 100
            what = "encoded images" if directions.source == "images" else "random latents"
            self.summary.setText(f"{len(directions)} principal directions of {directions.n_fitted:,} {what} "
                                 f"({total:.0f}% of their variance) · sliders span ±3 std of the images")
        if hint is not None:
            self.hint.setText(hint)
        self.hint.setVisible(directions is None or directions.source != "images" or hint is not None)
        self._relayout()
        self._sync()

    def _clear_rows(self, rows) -> None:
        for r in rows:
            r.setParent(None)
            r.deleteLater()

    def _relayout(self) -> None:
        while self.body_layout.count():
            self.body_layout.takeAt(0)
        if self.direction_rows:
            self.body_layout.addWidget(self.dir_heading)
            for r in self.direction_rows:
                self.body_layout.addWidget(r)
            self.body_layout.addSpacing(8)
        self.dir_heading.setVisible(bool(self.direction_rows))
        self.body_layout.addWidget(self.chan_heading)
        for r in self.channel_rows:
            self.body_layout.addWidget(r)
        self.body_layout.addStretch(1)

    # ---- the model -> the sliders
    def set_latent(self, z: np.ndarray | None) -> None:
        """The latent changed elsewhere: a fresh edit from it (no signal)."""
        if self.edit is None or z is None or np.asarray(z).shape != self.edit.latent_shape:
            return
        self.edit.reset(z)
        self._sync()

    def _sync(self) -> None:
        if self.edit is None:
            return
        for r in self.direction_rows:
            if r.k < len(self.edit.coords):
                set_quietly(r.slider, float(self.edit.coords[r.k]))
        for r in self.channel_rows:
            set_quietly(r.offset, float(self.edit.offset[r.c]))
            set_quietly(r.gain, float(self.edit.gain[r.c]))

    def set_traversals(self, strips: np.ndarray) -> None:
        """uint8 K×steps×H×W×C: one strip per direction row."""
        for r in self.direction_rows:
            if r.k < len(strips):
                r.set_strip(strips[r.k])

    def latent(self) -> np.ndarray | None:
        return None if self.edit is None else self.edit.latent()

    # ---- the sliders -> the model
    def _on_direction(self, k: int, v: float) -> None:
        if self.edit is not None:
            self.latentEdited.emit(self.edit.set_direction(k, v))

    def _on_offset(self, c: int, v: float) -> None:
        if self.edit is not None:
            self.latentEdited.emit(self.edit.set_offset(c, v))

    def _on_gain(self, c: int, v: float) -> None:
        if self.edit is not None:
            self.latentEdited.emit(self.edit.set_gain(c, v))

    def reset_edits(self) -> None:
        if self.edit is None or not self.edit.edited:
            return
        self.edit.reset(self.edit.base)
        self._sync()
        self.latentEdited.emit(self.edit.latent())

    def move_direction(self, k: int, value: float) -> None:
        """Programmatic slider move (tests, keyboard): as if the user dragged row ``k`` to ``value``."""
        self.direction_rows[k].slider.setValue(value)
