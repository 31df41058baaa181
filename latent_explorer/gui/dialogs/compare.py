"""Compare models: what β does, side by side (View → Compare models…).

Left, the rate–distortion plane: every bundled and user-trained model evaluated on the same
data, KL nats (rate) across, reconstruction nats (distortion) up, β on each label; the window's
model is ringed and the checked models are filled. Right, the checked models on one image (its
reconstruction and −ELBO terms) and, for 2-d latents, their maps of the same images over the
prior's 1σ / 2σ / 3σ circles, where a plain autoencoder's holes show. The plane and the maps
save as PNG or SVG for slides.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QGridLayout, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from .. import theme
from ..widgets.imaging import to_pixmap

RING, FILLED, PLAIN = theme.ACCENT, "#5ec8ff", "#8a909c"


def _plot(title: str) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setMenuEnabled(False)
    w.hideButtons()
    w.getPlotItem().setTitle(title, size="9pt")
    return w


class CompareDialog(QDialog):
    #: the checked models or the dataset changed: compare again
    selectionChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Compare models: what β does")
        self.resize(1180, 760)
        self.points, self.current = [], ""
        self.data_box = QComboBox()
        self.data_box.currentIndexChanged.connect(lambda _: self._fill_list())
        self.models = QListWidget()
        self.models.itemChanged.connect(lambda _: (self._draw_plane(), self.selectionChanged.emit()))
        self.plane = _plot("rate (KL nats) against distortion (reconstruction nats), test split")
        self.plane.setLabel("bottom", "rate: KL(q(z|x) ‖ N(0, I)), nats")
        self.plane.setLabel("left", "distortion: reconstruction, nats")
        self.save_button = QPushButton("Save figures…")
        self.save_button.clicked.connect(self.save_dialog)
        self.status = QLabel("")
        self.status.setProperty("role", "caption")
        self.status.setWordWrap(True)
        self.recons = QHBoxLayout()
        self.maps = QGridLayout()
        left = QVBoxLayout()
        head = QHBoxLayout()
        head.addWidget(QLabel("data"))
        head.addWidget(self.data_box, 1)
        left.addLayout(head)
        left.addWidget(self.plane, 3)
        left.addWidget(QLabel("models (checked: compared on the right)"))
        left.addWidget(self.models, 1)
        left.addWidget(self.save_button)
        right = QVBoxLayout()
        right.addWidget(QLabel("one image, reconstructed by each model (−ELBO = reconstruction + KL, nats)"))
        rw = QWidget()
        rw.setLayout(self.recons)
        right.addWidget(rw)
        right.addWidget(QLabel("their maps of the same images over the prior N(0, I) (2-d latents)"))
        mw = QWidget()
        mw.setLayout(self.maps)
        right.addWidget(mw, 1)
        right.addWidget(self.status)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 2)
        lay.addLayout(right, 3)

    # ---- the rate–distortion plane -----------------------------------------------------------
    def set_points(self, points: list, current: str, default_checked) -> None:
        """All models with metrics; ``current`` is the window's; ``default_checked(point)`` picks the
        models compared at first."""
        self.points, self.current, self._default = list(points), current, default_checked
        datas = sorted({p.data for p in points}, key=lambda d: (d != "mnist-5k", d))
        self.data_box.blockSignals(True)
        self.data_box.clear()
        for d in datas:
            self.data_box.addItem(d, d)
        cur = next((p.data for p in points if p.spec == current or p.name == current), None)
        if cur in datas:
            self.data_box.setCurrentIndex(datas.index(cur))
        self.data_box.blockSignals(False)
        self._fill_list()

    def _shown(self) -> list:
        d = self.data_box.currentData()
        return [p for p in self.points if p.data == d]

    def _fill_list(self) -> None:
        self.models.blockSignals(True)
        self.models.clear()
        for p in self._shown():
            it = QListWidgetItem(f"{p.name} · β = {p.beta:g} · {p.latent_dim}-d · KL {p.kl_nats:.1f} · "
                                 f"reconstruction {p.recon_nats:.1f}" + ("" if p.bundled else " · yours"))
            it.setData(Qt.ItemDataRole.UserRole, p)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked if self._default(p) else Qt.CheckState.Unchecked)
            self.models.addItem(it)
        self.models.blockSignals(False)
        self._draw_plane()
        self.selectionChanged.emit()

    def checked(self) -> list:
        return [self.models.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.models.count())
                if self.models.item(i).checkState() == Qt.CheckState.Checked]

    def _draw_plane(self) -> None:
        pi = self.plane.getPlotItem()
        pi.clear()
        chosen = {p.spec for p in self.checked()}
        for p in self._shown():
            on = p.spec in chosen
            dot = pg.ScatterPlotItem([p.kl_nats], [p.recon_nats], size=13 if on else 9,
                                     brush=pg.mkBrush(FILLED if on else PLAIN),
                                     pen=pg.mkPen(RING, width=3) if p.spec == self.current or p.name == self.current
                                     else pg.mkPen(None))
            pi.addItem(dot)
            label = pg.TextItem(f"{p.name} (β = {p.beta:g})", color=theme.TEXT, anchor=(0, 1))
            label.setPos(p.kl_nats, p.recon_nats)
            pi.addItem(label)

    # ---- one image and the maps --------------------------------------------------------------
    def set_comparisons(self, image: np.ndarray, results: list) -> None:
        for layout in (self.recons, self.maps):
            while layout.count():
                w = layout.takeAt(0).widget()
                if w is not None:
                    w.deleteLater()
        self.recons.addWidget(self._thumb(image, "the image"))
        col = 0
        from ...core.latent.posterior_map import ellipse

        for r in results:
            p = r.point
            words = f"{p.name} (β = {p.beta:g})"
            if r.recon_nats is not None:
                words += f"\n{r.recon_nats:.0f} + {r.kl_nats:.1f} = {r.recon_nats + r.kl_nats:.0f}"
            self.recons.addWidget(self._thumb(r.reconstruction, words))
            if r.map_xy is None:
                continue
            plot = _plot(words.split("\n")[0])
            plot.setAspectLocked(True)
            brushes = None
            if r.labels is not None:
                brushes = [pg.mkBrush(theme.LABEL_COLORS[int(lab) % len(theme.LABEL_COLORS)]) for lab in r.labels]
            plot.addItem(pg.ScatterPlotItem(r.map_xy[:, 0], r.map_xy[:, 1], size=4, pen=pg.mkPen(None),
                                            brush=brushes or pg.mkBrush(FILLED)))
            for k in (1.0, 2.0, 3.0):
                e = ellipse(np.zeros(2), np.eye(2), k)
                plot.addItem(pg.PlotCurveItem(e[:, 0], e[:, 1], pen=pg.mkPen((235, 235, 240, 160), width=1.2,
                                                                            style=Qt.PenStyle.DashLine)))
            self.maps.addWidget(plot, 0, col)
            col += 1
        self.recons.addStretch(1)
        plots = self.map_plots()
        if plots:  # one scale for all: the prior's circles are the same size in every map
            xy = np.concatenate([r.map_xy for r in results if r.map_xy is not None])
            reach = float(max(3.5, np.percentile(np.abs(xy), 99.5)))
            for plot in plots:
                plot.setXRange(-reach, reach, padding=0.02)
                plot.setYRange(-reach, reach, padding=0.02)
                if plot is not plots[0]:
                    plot.setXLink(plots[0])
                    plot.setYLink(plots[0])

    @staticmethod
    def _thumb(img: np.ndarray, text: str) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        pic = QLabel()
        pic.setPixmap(to_pixmap(img, min_side=96))
        cap = QLabel(text)
        cap.setProperty("role", "caption")
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(pic, 0, Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(cap)
        return w

    # ---- figures for slides ------------------------------------------------------------------
    def map_plots(self) -> list:
        return [self.maps.itemAt(i).widget() for i in range(self.maps.count())]

    def save_figures(self, stem: str) -> list[str]:
        """The plane and each map as ``stem``-plane.png/.svg, ``stem``-map-<k>.png/.svg."""
        from ..widgets.figures import save_plot

        plots = [("plane", self.plane)] + [(f"map-{k + 1}", w) for k, w in enumerate(self.map_plots())]
        return [path for name, w in plots for path in save_plot(w, f"{stem}-{name}")]

    def save_dialog(self) -> None:
        from ..widgets.figures import ask_stem

        stem = ask_stem(self, "Save the figures (PNG and SVG)", "beta-compare")
        if stem:
            self.status.setText("saved " + ", ".join(self.save_figures(stem)))
