"""The Theory panel: the selected image in the numbers of the VAE's theory, live.

Left: the −ELBO split as a stacked bar (reconstruction + β·KL, in nats), the edited latent's
log p(z) under the prior and the reconstruction term of the image from it ("moving off the
data", in numbers), and the reparameterisation step by step: ε, σ·ε and z = μ + σ·ε for the
top dimensions, and a grid of 16 posterior samples. Right, in the sliders' order: μ with ±σ
and ±2σ bars over the prior N(0, 1) (grey bands at ±1 and ±2), the edited z (orange), and the
KL of each dimension (an empty bar is a collapsed dimension).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout,
                               QWidget)

from .. import theme
from .imaging import to_pixmap

RECON_COLOR, KL_COLOR = "#5ec8ff", "#ffb347"
TOP_DIMS = 5


class ElboBar(QWidget):
    """reconstruction | β·KL as one horizontal bar, each part labelled with its nats."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.parts: list[tuple[str, float, str]] = []
        self.setMinimumHeight(26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_parts(self, parts: list[tuple[str, float, str]]) -> None:
        self.parts = [(name, max(0.0, v), color) for name, v, color in parts]
        self.update()

    def paintEvent(self, ev):
        p = QPainter(self)
        total = sum(v for _, v, _ in self.parts)
        x, w, h = 0.0, float(self.width()), float(self.height())
        for name, v, color in self.parts:
            if total <= 0:
                break
            seg = w * v / total
            p.fillRect(QRectF(x, 0, seg, h), QColor(color))
            p.setPen(QColor("#10131a"))
            text = f"{name} {v:.1f}"
            if p.fontMetrics().horizontalAdvance(text) + 8 < seg:
                p.drawText(QRectF(x, 0, seg, h), Qt.AlignmentFlag.AlignCenter, text)
            x += seg
        p.end()


def _plot(title: str, height: int) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setMenuEnabled(False)
    w.setMouseEnabled(False, False)
    w.hideButtons()
    w.setMinimumHeight(height)
    w.getPlotItem().setTitle(title, size="9pt")
    return w


class TheoryPanel(QWidget):
    #: "Sample z = μ + σ·ε" (one draw) and "×16"
    sampleRequested = Signal()
    manyRequested = Signal()
    #: "Prior, data and holes on the map" toggled
    priorToggled = Signal(bool)
    #: the 2-d manifold figure asked for: "linear" or "icdf"
    manifoldRequested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.order: list[int] = []
        self.numbers = None
        self.heading = QLabel("Select an image on the map to see it in numbers")
        self.heading.setProperty("role", "heading")
        self.heading.setWordWrap(True)
        self.elbo = ElboBar()
        self.elbo_text = QLabel("")
        self.elbo_text.setProperty("role", "caption")
        self.elbo_text.setWordWrap(True)
        self.live = QLabel("")
        self.live.setWordWrap(True)
        self.live.setToolTip("log p(z): how likely the prior N(0, I) finds the latent; reconstruction: "
                             "−log p(x | z), how badly z explains the selected image")
        self.sample_button = QPushButton("Sample z = μ + σ·ε")
        self.sample_button.setToolTip("draw ε ~ N(0, I) and decode z = μ + σ·ε for the selected image")
        self.many_button = QPushButton("×16")
        self.many_button.setToolTip("decode 16 posterior samples: the spread of q(z|x)")
        self.sample_button.clicked.connect(self.sampleRequested)
        self.many_button.clicked.connect(self.manyRequested)
        self.steps = QLabel("")
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.note = QLabel("")
        self.note.setProperty("role", "caption")
        self.note.setWordWrap(True)
        self.note.hide()
        self.grid = QLabel()
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.prior_check = QCheckBox("Prior, data and holes on the map")
        self.prior_check.setToolTip("dashed: the prior N(0, I) at 1σ, 2σ, 3σ · green: where the encoded images are · "
                                    "shaded: holes, which the prior covers and no image reaches (click one to decode it)")
        self.prior_check.toggled.connect(self.priorToggled)
        self.save_button = QPushButton("Save figures…")
        self.save_button.setToolTip("the two plots as PNG and SVG, for slides")
        self.save_button.clicked.connect(self._save_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(self.sample_button)
        buttons.addWidget(self.many_button)
        buttons.addStretch(1)
        buttons.addWidget(self.prior_check)
        buttons.addWidget(self.save_button)
        left = QVBoxLayout()
        for w in (self.heading, self.elbo, self.elbo_text, self.live):
            left.addWidget(w)
        left.addLayout(buttons)
        left.addWidget(self.note)
        left.addStretch(1)
        self.manifold_box = QComboBox()
        self.manifold_box.addItem("manifold figure…", "")
        self.manifold_box.addItem("linear grid, ±3", "linear")
        self.manifold_box.addItem("equal prior mass (inverse CDF, Kingma & Welling)", "icdf")
        self.manifold_box.setToolTip("a 2-d latent's decodes on a 15 × 15 grid: evenly spaced, or spaced by the "
                                     "prior's inverse CDF so that every tile holds the same prior mass")
        self.manifold_box.currentIndexChanged.connect(
            lambda i: self.manifold_box.itemData(i) and self.manifoldRequested.emit(self.manifold_box.itemData(i)))
        self.manifold_box.hide()
        steps = QVBoxLayout()
        steps.addWidget(self.manifold_box)
        steps.addWidget(self.steps)
        steps.addWidget(self.grid, 1)
        self.post_plot = _plot("posterior q(z|x): μ ± σ, ± 2σ over the prior N(0, 1)", 150)
        self.kl_plot = _plot("KL per dimension (nats)", 150)
        self._build_items()
        lay = QGridLayout(self)  # four columns side by side: the dock is wide and short
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addLayout(left, 0, 0)
        lay.addLayout(steps, 0, 1)
        lay.addWidget(self.post_plot, 0, 2)
        lay.addWidget(self.kl_plot, 0, 3)
        for col, stretch in enumerate((5, 3, 5, 4)):
            lay.setColumnStretch(col, stretch)
        self.set_enabled_for(False, "")

    def _build_items(self) -> None:
        pi = self.post_plot.getPlotItem()
        for lo, alpha in ((-2, 28), (-1, 45)):
            band = pg.LinearRegionItem((lo, -lo), orientation="horizontal", movable=False,
                                       brush=pg.mkBrush(200, 205, 215, alpha), pen=pg.mkPen(None))
            pi.addItem(band)
        self.bars2 = pg.ErrorBarItem(pen=pg.mkPen(RECON_COLOR + "66", width=2), beam=0.0)
        self.bars1 = pg.ErrorBarItem(pen=pg.mkPen(RECON_COLOR, width=4), beam=0.0)
        self.mu = pg.ScatterPlotItem(size=7, brush=pg.mkBrush("#ffffff"), pen=pg.mkPen(None))
        self.zdots = pg.ScatterPlotItem(size=10, symbol="x", brush=pg.mkBrush(theme.ACCENT), pen=pg.mkPen(theme.ACCENT))
        for item in (self.bars2, self.bars1, self.mu, self.zdots):
            pi.addItem(item)
        pi.setYRange(-3.2, 3.2, padding=0)
        self.kl_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=KL_COLOR)
        self.kl_plot.addItem(self.kl_bars)

    # ---- what the controller shows ------------------------------------------------------
    def set_enabled_for(self, on: bool, reason: str) -> None:
        """On for a vector-latent model; off (with the reason in words) otherwise."""
        for w in (self.sample_button, self.many_button):
            w.setEnabled(on and self.numbers is not None)
        if not on:
            self.clear()
            self.heading.setText(reason)

    def clear(self) -> None:
        self.numbers = None
        self.set_note("")
        self.elbo.set_parts([])
        for w in (self.elbo_text, self.live, self.steps):
            w.setText("")
        self.grid.clear()
        for item in (self.mu, self.zdots):
            item.setData([], [])
        for item in (self.bars1, self.bars2):
            item.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
        self.kl_bars.setOpts(x=[], height=[])
        for w in (self.sample_button, self.many_button):
            w.setEnabled(False)

    def set_order(self, order: list[int]) -> None:
        """The dimensions in the sliders' order (most informative first)."""
        self.order = list(order)
        ticks = [(i, f"z{d}") for i, d in enumerate(self.order)]
        for plot in (self.post_plot, self.kl_plot):
            plot.getPlotItem().getAxis("bottom").setTicks([ticks])
            plot.getPlotItem().enableAutoRange(x=False)
            plot.setXRange(-0.6, max(0.6, len(self.order) - 0.4), padding=0)

    def set_image(self, numbers, label: str) -> None:
        self.numbers = numbers
        o = self.order or list(range(len(numbers.mean)))
        x = np.arange(len(o), dtype=float)
        mu, sd = numbers.mean[o].astype(float), np.sqrt(numbers.var[o]).astype(float)
        self.mu.setData(x, mu)
        self.bars1.setData(x=x, y=mu, height=2 * sd)
        self.bars2.setData(x=x, y=mu, height=4 * sd)
        self.kl_bars.setOpts(x=x, height=numbers.kl_per_dim[o].astype(float), width=0.6)
        self.heading.setText(f"{label}: its posterior q(z|x) = N(μ, σ²) and its −ELBO")
        b, kl = numbers.beta, numbers.kl_nats
        if numbers.recon_nats is None:
            self.elbo.set_parts([("KL", kl, KL_COLOR)])
            self.elbo_text.setText(f"KL(q(z|x) ‖ N(0, I)) = {kl:.2f} nats (this model has no reconstruction "
                                   "likelihood, so no −ELBO)")
        else:
            r = numbers.recon_nats
            self.elbo.set_parts([("reconstruction", r, RECON_COLOR), (f"{b:g}·KL" if b != 1 else "KL", b * kl, KL_COLOR)])
            beta = "" if b == 1 else f" · trained on reconstruction + {b:g}·KL = {r + b * kl:.1f}"
            self.elbo_text.setText(f"−ELBO = reconstruction {r:.1f} + KL {kl:.2f} = {r + kl:.1f} nats{beta} "
                                   "(reconstruction scored at one z = μ + σ·ε, as training does) · KL per "
                                   "dimension on the right: an empty bar is a dimension the image does not use")
        for w in (self.sample_button, self.many_button):
            w.setEnabled(True)
        self._table()

    def set_latent(self, z: np.ndarray, numbers) -> None:
        """The edited latent: its place on the bars, and (``numbers``) log p(z) and the reconstruction term."""
        o = self.order or list(range(z.size))
        flat = np.asarray(z, float).reshape(-1)
        self.zdots.setData(np.arange(len(o), dtype=float), flat[o])
        if numbers is None:
            return
        text = f"edited z: log p(z) = {numbers.log_prior:.1f} nats under N(0, I) (at most {numbers.log_prior_peak:.1f}, at z = 0)"
        if numbers.recon_nats is not None and self.numbers is not None and self.numbers.recon_nats is not None:
            text += (f" · reconstruction of the image from this z: {numbers.recon_nats:.1f} nats "
                     f"(at a posterior sample: {self.numbers.recon_nats:.1f})")
        self.live.setText(text)

    def set_draw(self, draws) -> None:
        """One draw of the reparameterisation, for the top dimensions: ε, σ·ε and z = μ + σ·ε."""
        self._table(draws)

    def _table(self, draws=None) -> None:
        """The top dimensions in numbers: μ, σ², log σ², KL; after a draw also ε, σ·ε and z = μ + σ·ε."""
        n = self.numbers
        if n is None:
            self.steps.setText("")
            return
        o = (self.order or list(range(len(n.mean))))[:TOP_DIMS]
        head = "".join(f"<th>&nbsp;z{d}&nbsp;</th>" for d in o)

        def row(name, values, fmt="{:+.2f}"):
            return f"<tr><td>{name}</td>" + "".join(f"<td align='right'>{fmt.format(v)}</td>" for v in values) + "</tr>"

        rows = [row("μ", n.mean[o]), row("σ²", n.var[o], "{:.3f}"), row("log σ²", n.logvar[o]),
                row("KL, nats", n.kl_per_dim[o], "{:.2f}")]
        first = f"seed {draws.seed}" if draws is not None else ""
        if draws is not None:
            z = draws.z.reshape(len(draws.z), -1)[0]
            rows += [row("ε ~ N(0, 1)", draws.eps[0][o]), row("σ·ε", draws.sigma_eps[0][o]), row("z = μ + σ·ε", z[o])]
        self.steps.setText(f"<table cellspacing='2'><tr><td>{first}</td>{head}</tr>" + "".join(rows) + "</table>")

    def set_note(self, text: str) -> None:
        """Why the map shows no ellipse (t-SNE / UMAP), or nothing."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def save_figures(self, stem: str) -> list[str]:
        from .figures import save_plot

        return save_plot(self.post_plot, f"{stem}-posterior") + save_plot(self.kl_plot, f"{stem}-kl")

    def _save_dialog(self) -> None:
        from .figures import ask_stem

        stem = ask_stem(self, "Save the Theory panel's plots (PNG and SVG)", "theory")
        if stem:
            self.save_figures(stem)

    def set_manifold(self, mosaic: np.ndarray, spacing: str) -> None:
        self.grid.setPixmap(to_pixmap(mosaic, min_side=240))
        self.grid.setToolTip("15 × 15 decodes, top row z1 largest; " + (
            "spaced by the prior's inverse CDF: each tile holds 1/225 of the prior's mass" if spacing == "icdf"
            else "evenly spaced over ±3"))

    def set_many(self, draws) -> None:
        from ...core.export import make_grid

        grid = make_grid(draws.images, cols=8, pad=1, pad_value=40)
        self.grid.setPixmap(to_pixmap(grid, min_side=min(240, 8 * max(28, draws.images.shape[2]))))
        self.grid.setToolTip(f"16 decodes of z = μ + σ·ε (seed {draws.seed}): the spread of q(z|x)")
