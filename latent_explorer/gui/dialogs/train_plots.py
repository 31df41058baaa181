"""The training dialog's live view: the loss curves, the image grids, the progress and the status lines.

``LossPlot`` draws the per-epoch reconstruction, KL, total and test −ELBO and the running batch
loss, its legend in a row of its own and its axes without SI prefixes; ``GridView`` shows a uint8
image grid with crisp pixels; ``LiveView`` lays them out with a progress bar, the status line, a
warning line (flat reconstructions, overfitting) and the timing and log lines. The dialog fills
them in as the run reports.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from .. import theme
from ..widgets.imaging import to_pixmap

WARNING = "#e8c547"
KEPT = "#59a14f"


def heading(text: str) -> QLabel:
    """A section heading label."""
    lab = QLabel(text)
    lab.setProperty("role", "heading")
    return lab


class GridView(QLabel):
    """A uint8 image grid, nearest-neighbour scaled to fit (pixels stay crisp)."""

    def __init__(self, placeholder: str, parent=None):
        super().__init__(placeholder, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(240, 90)
        self.setMaximumHeight(200)
        self.setProperty("role", "muted")
        self.setStyleSheet(f"background: {theme.BASE}; border-radius: 4px;")
        self.image: np.ndarray | None = None

    def set_image(self, img: np.ndarray) -> None:
        self.image = img
        self._redraw()

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._redraw()

    def _redraw(self) -> None:
        if self.image is None:
            return
        pm = to_pixmap(self.image)
        self.setPixmap(pm.scaled(self.width() - 4, self.height() - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.FastTransformation))


class LossPlot(pg.GraphicsLayoutWidget):
    """Per-epoch reconstruction, total (train) and test −ELBO above, the running batch loss behind
    them; the KL below on its own scale (it is often a tenth of the reconstruction or less).

    The legend has a row of its own above the plots, so it never covers a curve; the axes show
    plain numbers (no SI prefix, no "(x0.001)" scale); a ring marks the kept epoch (the best
    held-out −ELBO, the model the folder holds)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(260)
        self.legend = pg.LegendItem(colCount=3, labelTextColor=theme.TEXT, labelTextSize="8pt", frame=False,
                                    horSpacing=14)
        self.ci.addItem(self.legend, row=0, col=0)
        self.main = self.addPlot(row=1, col=0)
        self.klp = self.addPlot(row=2, col=0)
        self.ci.layout.setRowStretchFactor(1, 3)
        self.ci.layout.setRowStretchFactor(2, 1)
        self.klp.setXLink(self.main)
        for p in (self.main, self.klp):
            p.showGrid(x=True, y=True, alpha=0.15)
            p.getAxis("left").setWidth(56)
            for side in ("left", "bottom"):
                p.getAxis(side).enableAutoSIPrefix(False)  # 8,000 nats stay 8000, not "8 (x1000)"
        self.main.setLabel("left", "nats per image")
        self.klp.setLabel("left", "KL")
        self.klp.setLabel("bottom", "epoch")
        self.batch_curve = self.main.plot([], [], pen=pg.mkPen("#5d626c", width=1))
        sym = dict(symbol="o", symbolSize=6, symbolPen=None)
        self.total_curve = self.main.plot([], [], pen=pg.mkPen(theme.TEXT, width=2), symbolBrush=theme.TEXT, **sym)
        self.recon_curve = self.main.plot([], [], pen=pg.mkPen(theme.ACCENT2, width=2), symbolBrush=theme.ACCENT2,
                                          **sym)
        self.test_curve = self.main.plot([], [], pen=pg.mkPen("#b07aa1", width=2, style=Qt.PenStyle.DashLine),
                                         symbolBrush="#b07aa1", **sym)
        self.kept_mark = self.main.plot([], [], pen=None, symbol="o", symbolSize=14, symbolBrush=None,
                                        symbolPen=pg.mkPen(KEPT, width=2))
        self.kl_curve = self.klp.plot([], [], pen=pg.mkPen(theme.ACCENT, width=2), symbolBrush=theme.ACCENT, **sym)
        for curve, name in ((self.batch_curve, "total (batches)"), (self.total_curve, "total"),
                            (self.recon_curve, "reconstruction"), (self.test_curve, "held-out −ELBO"),
                            (self.kept_mark, "kept (best held-out)"), (self.kl_curve, "KL (below)")):
            self.legend.addItem(curve, name)
        self.clear_points()

    def clear_points(self) -> None:
        self.batches: list[tuple[float, float]] = []
        self.epochs: list[dict] = []
        for c in (self.batch_curve, self.total_curve, self.recon_curve, self.kl_curve, self.test_curve,
                  self.kept_mark):
            c.setData([], [])

    def add_batch(self, x: float, loss: float) -> None:
        self.batches.append((x, loss))
        a = np.asarray(self.batches)
        self.batch_curve.setData(a[:, 0], a[:, 1])

    def add_epoch(self, r: dict) -> None:
        self.epochs.append(r)
        x = np.array([e["epoch"] for e in self.epochs], float)
        self.total_curve.setData(x, [e["train_loss"] for e in self.epochs])
        self.recon_curve.setData(x, [e["train_recon"] for e in self.epochs])
        self.kl_curve.setData(x, [e["train_kl"] for e in self.epochs])
        test = [(e["epoch"], e["test_neg_elbo"]) for e in self.epochs if e.get("test_neg_elbo") is not None]
        if test:
            t = np.asarray(test, float)
            self.test_curve.setData(t[:, 0], t[:, 1])
            k = int(np.argmin(t[:, 1]))
            self.kept_mark.setData([t[k, 0]], [t[k, 1]])

    def point_count(self) -> int:
        return len(self.batches) + len(self.epochs)


class LiveView(QWidget):
    """The right-hand side of the dialog: the loss plot above the two grids, then the progress bar,
    the status line, the time per epoch and ETA, and the last lines of the run's log."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = LossPlot()
        self.recon_view = GridView("reconstructions appear after the first evaluation")
        self.sample_view = GridView("prior samples appear after the first evaluation")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.status = QLabel("Choose the data and press Train.")
        self.status.setWordWrap(True)
        self.timing = QLabel("")
        self.timing.setProperty("role", "caption")
        self.log = QLabel("")
        self.log.setProperty("role", "caption")
        self.log.setWordWrap(True)
        self.warning = QLabel("")  # flat reconstructions, overfitting: in words, where it is seen
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {WARNING}; background: {theme.PANEL}; border-left: 3px solid {WARNING};"
                                   " padding: 4px 8px;")
        self.warning.setVisible(False)
        self.save_button = QPushButton("Save figure…")
        self.save_button.setToolTip("the loss curves as PNG and SVG, for slides")
        self.save_button.clicked.connect(self._save_dialog)
        right = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading("Loss"), 1)
        top.addWidget(self.save_button)
        right.addLayout(top)
        right.addWidget(self.plot, 3)
        grids = QHBoxLayout()
        gl, gr = QVBoxLayout(), QVBoxLayout()
        gl.addWidget(heading("Images (top) and their reconstructions"))
        gl.addWidget(self.recon_view, 1)
        gr.addWidget(heading("Samples from the prior z ~ N(0, I)"))
        gr.addWidget(self.sample_view, 1)
        grids.addLayout(gl, 1)
        grids.addLayout(gr, 1)
        right.addLayout(grids, 2)
        right.addWidget(self.progress)
        right.addWidget(self.status)
        right.addWidget(self.warning)
        right.addWidget(self.timing)
        right.addWidget(self.log)

    def show_warnings(self, lines: list[str]) -> None:
        """The run's warnings on their own line under the status (hidden when there are none)."""
        self.warning.setText("\n".join(f"⚠ {line}" for line in lines))
        self.warning.setVisible(bool(lines))

    def save_figure(self, stem: str) -> list[str]:
        from ..widgets.figures import save_plot

        return save_plot(self.plot, stem)

    def _save_dialog(self) -> None:
        from ..widgets.figures import ask_stem

        stem = ask_stem(self, "Save the loss curves (PNG and SVG)", "training-loss")
        if stem:
            self.save_figure(stem)
