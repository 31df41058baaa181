"""Per-dimension sliders: one superqt labelled slider per latent dimension (up to 64).

Each row: the dimension's name, a badge with its KL in nats (rows sorted by it; dimensions
the model does not use are greyed), a slider over the prior's ±3 with the selected image's
posterior μ ± σ drawn on its groove, and a small traversal strip showing what sweeping that
dimension does to the current latent.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QGraphicsOpacityEffect, QHBoxLayout, QLabel, QLineEdit, QScrollArea, QSlider, QStyle,
                               QStyleOptionSlider, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider

from .. import theme
from .imaging import show_strip, strip_size

MAX_SLIDER_DIMS = 64
SLIDER_RANGE = 3.0
STRIP_HEIGHT = 22


def scrolling_rows() -> tuple[QWidget, QVBoxLayout, QScrollArea]:
    """A frameless scroll area around a column of slider rows: (body, its layout, the scroll area)."""
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.setContentsMargins(0, 0, 4, 0)
    layout.setSpacing(0)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setWidget(body)
    return body, layout, scroll


def lay_out_row(row) -> None:
    """One slider row: name, KL/variance badge, the slider (stretching), the traversal strip."""
    lay = QHBoxLayout(row)
    lay.setContentsMargins(2, 1, 2, 1)
    lay.setSpacing(6)
    lay.addWidget(row.name)
    lay.addWidget(row.badge)
    lay.addWidget(row.slider, 1)
    lay.addWidget(row.strip)


class PosteriorMark(QWidget):
    """Drawn over a slider's groove: the band μ ± σ and a tick at μ (transparent to the mouse)."""

    def __init__(self, slider: QSlider, lo: float, hi: float):
        super().__init__(slider)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.slider = slider
        self.lo, self.hi = lo, hi
        self.mu: float | None = None
        self.sigma = 0.0
        slider.installEventFilter(self)
        self.resize(slider.size())

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Resize:
            self.resize(self.slider.size())
        return False

    def set(self, mu: float | None, sigma: float = 0.0) -> None:
        self.mu, self.sigma = mu, sigma
        self.update()

    def _x(self, v: float, groove: QRectF, handle_w: float) -> float:
        t = (min(max(v, self.lo), self.hi) - self.lo) / (self.hi - self.lo)
        return groove.left() + handle_w / 2 + t * (groove.width() - handle_w)

    def paintEvent(self, ev):
        if self.mu is None:
            return
        opt = QStyleOptionSlider()
        self.slider.initStyleOption(opt)
        st = self.slider.style()
        groove = QRectF(st.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderGroove,
                                          self.slider))
        handle = st.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle,
                                   self.slider)
        hw = float(handle.width())
        x0 = self._x(self.mu - self.sigma, groove, hw)
        x1 = self._x(self.mu + self.sigma, groove, hw)
        xm = self._x(self.mu, groove, hw)
        cy = groove.center().y()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        c = QColor(theme.ACCENT2)
        c.setAlpha(90)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c)
        p.drawRoundedRect(QRectF(x0, cy - 4, max(2.0, x1 - x0), 8), 3, 3)
        p.setPen(QPen(QColor(theme.ACCENT2), 2))
        p.drawLine(int(round(xm)), int(cy - 7), int(round(xm)), int(cy + 7))
        p.end()


class DimensionRow(QWidget):
    valueChanged = Signal(int, float)

    def __init__(self, dim: int, parent=None):
        super().__init__(parent)
        self.dim = dim
        self.name = QLabel(f"z{dim}")
        self.name.setObjectName("DimName")
        self.name.setFixedWidth(30)
        self.badge = QLabel("")
        self.badge.setObjectName("KLBadge")
        self.badge.setFixedWidth(46)
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.hide()
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-SLIDER_RANGE, SLIDER_RANGE)
        self.slider.setDecimals(2)
        self.slider.setSingleStep(0.05)
        self.slider.setPageStep(0.5)
        self.slider.setValue(0.0)
        self.slider.setMinimumWidth(120)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        inner = self.slider.findChild(QSlider)  # superqt's inner QSlider: the μ ± σ mark sits on it
        # superqt's value label (a line edit): it says the real value of a latent beyond ±3
        self.value_label = self.slider.findChild(QLineEdit)
        self.mark = PosteriorMark(inner, -SLIDER_RANGE, SLIDER_RANGE)
        self.strip = QLabel()
        # a fixed size, so the layout does not shift when the strips arrive
        self.strip.setFixedSize(7 * STRIP_HEIGHT + 6, STRIP_HEIGHT)
        self.strip.setToolTip(f"what z{dim} does: the current latent with z{dim} swept from −3 to +3")
        lay_out_row(self)
        self.slider.valueChanged.connect(lambda v: self.valueChanged.emit(self.dim, float(v)))
        inner.installEventFilter(self)  # superqt's float slider has no keyboard stepping of its own
        self.active = True
        self._effect = None

    _KEY_STEPS = {Qt.Key.Key_Left: -1, Qt.Key.Key_Down: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Up: 1}

    def eventFilter(self, obj, ev):
        """Arrow keys nudge by the single step (Shift: a fifth of it), Page Up/Down by the page step."""
        if ev.type() != QEvent.Type.KeyPress:
            return False
        key = ev.key()
        if key in self._KEY_STEPS:
            step = self.slider.singleStep() / (5 if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1)
            delta = self._KEY_STEPS[key] * step
        elif key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            delta = self.slider.pageStep() * (1 if key == Qt.Key.Key_PageUp else -1)
        elif key == Qt.Key.Key_Home:
            delta = -SLIDER_RANGE - self.slider.value()
        elif key == Qt.Key.Key_End:
            delta = SLIDER_RANGE - self.slider.value()
        else:
            return False
        v = float(np.clip(round(self.slider.value() + delta, 4), -SLIDER_RANGE, SLIDER_RANGE))
        self.slider.setValue(v)
        return True

    def set_value(self, v: float) -> None:
        """Show ``v``; beyond the slider's ±3 the handle waits at the end and the label says the real
        value (in the accent colour), never a silently clamped one."""
        self.slider.blockSignals(True)
        self.slider.setValue(float(np.clip(v, -SLIDER_RANGE, SLIDER_RANGE)))
        self.slider.blockSignals(False)
        beyond = abs(v) > SLIDER_RANGE
        if beyond:
            self.value_label.blockSignals(True)
            self.value_label.setText(f"{v:.2f}")
            self.value_label.blockSignals(False)
        self.value_label.setStyleSheet(f"color: {theme.ACCENT};" if beyond else "")
        self.value_label.setToolTip(f"z{self.dim} = {v:.3f}: beyond the slider's ±{SLIDER_RANGE:g}" if beyond else "")

    def set_kl(self, kl: float, active: bool, kl_max: float) -> None:
        self.badge.setText(f"{kl:.2f}")
        self.badge.setToolTip(f"KL(q(z{self.dim}|x) ‖ N(0,1)) averaged over the map's images: {kl:.3f} nats"
                              + ("" if active else " — this dimension is inactive (the decoder ignores it)"))
        t = 0.0 if kl_max <= 0 else min(1.0, kl / kl_max)
        c = QColor(theme.ACCENT)
        c.setAlphaF(0.25 + 0.75 * t if active else 0.12)
        self.badge.setStyleSheet(f"background: rgba({c.red()},{c.green()},{c.blue()},{c.alphaF():.2f});"
                                 f" color: {'#10131a' if active and t > 0.3 else theme.TEXT};")
        self.badge.show()
        self.active = active
        self.setProperty("inactive", "false" if active else "true")
        self.style().unpolish(self)
        self.style().polish(self)
        if active:
            self.setGraphicsEffect(None)
            self._effect = None
        elif self._effect is None:
            self._effect = QGraphicsOpacityEffect(self)
            self._effect.setOpacity(0.4)
            self.setGraphicsEffect(self._effect)

    def set_strip(self, images: np.ndarray) -> None:
        self.strip_images = images
        show_strip(self.strip, images)

    def set_strip_width(self, px: int) -> None:
        """A narrower (or wider) strip, same aspect: 7 frames side by side."""
        self.strip.setFixedSize(*strip_size(px))
        images = getattr(self, "strip_images", None)
        if images is not None:
            show_strip(self.strip, images)


class SliderPanel(QWidget):
    """All rows in a scroll area; emits ``valueEdited(dim, value)`` for user edits only."""

    valueEdited = Signal(int, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[DimensionRow] = []
        self.order: list[int] = []
        self.body, self.body_layout, self.scroll = scrolling_rows()
        self.note = QLabel("")
        self.note.setProperty("role", "muted")
        self.note.setWordWrap(True)
        self.note.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.note)
        lay.addWidget(self.scroll, 1)

    def refit_labels(self) -> None:
        """After a change of type size: superqt sizes a slider's value label when its range is set."""
        for r in self.rows:
            r.slider.setRange(r.slider.minimum(), r.slider.maximum())
            # room for the sign and the line edit's margins at this type size (else "−0.34" shows "0.34")
            r.value_label.setFixedWidth(r.value_label.fontMetrics().horizontalAdvance("-3.00") + 9)

    def set_strip_width(self, px: int) -> None:
        self.strip_width = px
        for r in self.rows:
            r.set_strip_width(px)

    def set_strips_visible(self, on: bool) -> None:
        """The traversal strips (off where width is scarce: presentation mode on a small screen)."""
        self.strips_visible = on
        for r in self.rows:
            r.strip.setVisible(on)

    def set_dims(self, n: int) -> None:
        for r in self.rows:
            r.setParent(None)
            r.deleteLater()
        self.rows = []
        if n > MAX_SLIDER_DIMS:
            self.note.setText(f"This model's latent has {n:,} numbers; sliders are shown for latents of up to "
                              f"{MAX_SLIDER_DIMS} dimensions. Use the map, morphs and random samples instead.")
            self.note.show()
            self.order = []
            return
        self.note.hide()
        for d in range(n):
            row = DimensionRow(d)
            row.strip.setVisible(getattr(self, "strips_visible", True))
            if getattr(self, "strip_width", None):
                row.set_strip_width(self.strip_width)
            row.valueChanged.connect(self.valueEdited)
            self.rows.append(row)
        self.order = list(range(n))
        self._relayout()

    def _relayout(self) -> None:
        while self.body_layout.count():
            self.body_layout.takeAt(0)
        for d in self.order:
            self.body_layout.addWidget(self.rows[d])
        self.body_layout.addStretch(1)

    def set_values(self, z: np.ndarray | None) -> None:
        if z is None or not self.rows:
            return
        flat = np.asarray(z).reshape(-1)
        for row in self.rows:
            row.set_value(float(flat[row.dim]))

    def value(self, dim: int) -> float:
        return float(self.rows[dim].slider.value())

    def set_posterior(self, mu: np.ndarray | None, logvar: np.ndarray | None) -> None:
        if not self.rows:
            return
        if mu is None:
            for r in self.rows:
                r.mark.set(None)
            return
        mu = np.asarray(mu).reshape(-1)
        sigma = np.exp(0.5 * np.asarray(logvar).reshape(-1)) if logvar is not None else np.zeros_like(mu)
        for r in self.rows:
            r.mark.set(float(mu[r.dim]), float(sigma[r.dim]))

    def set_kl(self, kl: np.ndarray | None, active: np.ndarray | None) -> None:
        """Badge each row with its KL and order rows by it, most informative first."""
        if kl is None or not self.rows:
            return
        kl = np.asarray(kl).reshape(-1)
        active = np.ones(len(kl), bool) if active is None else np.asarray(active).reshape(-1)
        kmax = float(kl.max()) if len(kl) else 1.0
        for r in self.rows:
            r.set_kl(float(kl[r.dim]), bool(active[r.dim]), kmax)
        self.order = [int(i) for i in np.argsort(-kl, kind="stable")]
        self._relayout()

    def set_traversals(self, strips: np.ndarray) -> None:
        """uint8 D×steps×H×W×C: one strip per dimension."""
        for r in self.rows:
            if r.dim < len(strips):
                r.set_strip(strips[r.dim])
