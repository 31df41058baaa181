"""The "Train a VAE" dialog: choose data and settings, watch it learn, cancel, resume.

Left, the settings (data: a bundled dataset or a folder; image size, latent dimensions, β,
epochs, batch size, device; the output folder under the user data folder). Right, while it
trains: loss curves (reconstruction, KL and total per epoch, the batch loss as it goes, the
test −ELBO), a grid of images above their reconstructions and a grid of prior samples, both
redrawn every epoch, the time per epoch and the ETA. A finished run emits ``trained`` and the
window makes the new model the current one. The live view's pieces are in ``train_plots.py``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from .train_plots import GridView, LiveView, LossPlot, heading
from .train_thread import TrainThread, saved_run

__all__ = ["BUNDLED_DATA", "FOLDER", "GridView", "LossPlot", "TrainDialog", "models_dir"]

BUNDLED_DATA = (("mnist-5k", "Digits (mnist-5k, bundled)"), ("shapes", "Shapes (procedural, bundled)"))
FOLDER = "folder"


def models_dir() -> Path:
    """Where in-app training writes models: ``<user data folder>/models`` (LATENT_EXPLORER_DATA overrides)."""
    from ...core.session import data_dir

    return data_dir() / "models"


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class TrainDialog(QDialog):
    #: a finished run: (model folder, the data it was trained on: "mnist-5k", "shapes" or a folder)
    trained = Signal(str, str)
    #: the run stopped (finished, cancelled or failed)
    stopped = Signal()

    def __init__(self, parent=None, folder: str | None = None, devices: list[str] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train a VAE")
        self.resize(1080, 660)
        self.thread: TrainThread | None = None
        self.result = None
        self._epoch_seconds: list[float] = []
        self._epoch_started = 0.0
        self._epochs_total = 0

        # ---- settings
        self.data_box = QComboBox()
        for key, text in BUNDLED_DATA:
            self.data_box.addItem(text, key)
        self.data_box.addItem("A folder of images…", FOLDER)
        self.folder_edit = QLineEdit(folder or "")
        self.folder_edit.setPlaceholderText("folder of images (searched recursively)")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        frow = QHBoxLayout()
        frow.setContentsMargins(0, 0, 0, 0)
        frow.addWidget(self.folder_edit, 1)
        frow.addWidget(self.browse)
        self.folder_row = QWidget()
        self.folder_row.setLayout(frow)
        self.image_size = QSpinBox()
        self.image_size.setRange(0, 256)
        self.image_size.setSingleStep(8)
        self.image_size.setSpecialValueText("dataset's own (folders: 64)")
        self.image_size.setSuffix(" px")
        self.latent_dim = QSpinBox()
        self.latent_dim.setRange(1, 256)
        self.latent_dim.setValue(16)
        self.beta = QDoubleSpinBox()
        self.beta.setRange(0.0, 100.0)
        self.beta.setDecimals(2)
        self.beta.setSingleStep(0.5)
        self.beta.setValue(1.0)
        self.beta.setToolTip("weight of the KL term: 1 is the classic VAE, more than 1 a β-VAE")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setValue(10)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(128)
        self.limit = QSpinBox()
        self.limit.setRange(0, 10_000_000)
        self.limit.setSingleStep(256)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("train on the first N images only (a quick look)")
        self.device = QComboBox()
        for d in devices or ["cpu"]:
            self.device.addItem(d.upper() if d != "cpu" else "CPU", d)
        self.name = QLineEdit()
        self.name.setToolTip("the model's folder name under the models folder")
        self.out_label = QLabel("")
        self.out_label.setProperty("role", "caption")
        self.out_label.setWordWrap(True)
        self.out_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Data", self.data_box)
        form.addRow("", self.folder_row)
        form.addRow("Image size", self.image_size)
        form.addRow("Latent dimensions", self.latent_dim)
        form.addRow("β (KL weight)", self.beta)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Use images", self.limit)
        form.addRow("Device", self.device)
        form.addRow("Model name", self.name)
        form.addRow("", self.out_label)

        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("continue the unfinished run in this model folder")
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        buttons = QGridLayout()
        buttons.addWidget(self.train_button, 0, 0)
        buttons.addWidget(self.resume_button, 0, 1)
        buttons.addWidget(self.cancel_button, 1, 0)
        buttons.addWidget(self.close_button, 1, 1)
        left = QVBoxLayout()
        left.addWidget(heading("Settings"))
        left.addLayout(form)
        left.addStretch(1)
        left.addLayout(buttons)
        self.settings = [self.data_box, self.folder_row, self.image_size, self.latent_dim, self.beta, self.epochs,
                         self.batch_size, self.limit, self.device, self.name]

        # ---- live view (the dialog fills in its parts by their names)
        self.live = LiveView()
        self.plot, self.recon_view, self.sample_view = self.live.plot, self.live.recon_view, self.live.sample_view
        self.progress, self.status, self.timing, self.log = (self.live.progress, self.live.status, self.live.timing,
                                                             self.live.log)

        outer = QHBoxLayout(self)
        lw = QWidget()
        lw.setLayout(left)
        lw.setFixedWidth(340)
        outer.addWidget(lw)
        outer.addWidget(self.live, 1)

        self.data_box.currentIndexChanged.connect(self._on_data_changed)
        self.latent_dim.valueChanged.connect(lambda _: self._suggest_name())
        self.folder_edit.textChanged.connect(lambda _: self._suggest_name())
        self.name.textChanged.connect(lambda _: self._update_out())
        self.train_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        if folder:
            self.data_box.setCurrentIndex(self.data_box.findData(FOLDER))
        self._on_data_changed()

    # ---- settings ----------------------------------------------------------------------
    def data_spec(self) -> str:
        key = self.data_box.currentData()
        return self.folder_edit.text().strip() if key == FOLDER else key

    def _on_data_changed(self, *_):
        self.folder_row.setVisible(self.data_box.currentData() == FOLDER)
        self._suggest_name()

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Train on a folder of images", self.folder_edit.text())
        if d:
            self.folder_edit.setText(d)

    def _suggest_name(self) -> None:
        data = self.data_spec()
        stem = Path(data).name if self.data_box.currentData() == FOLDER else data
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem or "images").strip("-") or "images"
        base = f"{stem}-{self.latent_dim.value()}d"
        root = models_dir()
        name, k = base, 2
        while (root / name / "model.safetensors").exists() and not self._unfinished(root / name):
            name, k = f"{base}-{k}", k + 1  # never overwrite a finished model by default
        self.name.setText(name)

    @staticmethod
    def _unfinished(out: Path) -> bool:
        run = saved_run(out)
        return bool(run) and int(run.get("epoch", 0)) < int(run.get("options", {}).get("epochs", 0))

    def out_dir(self) -> Path:
        return models_dir() / (self.name.text().strip() or "model")

    def _update_out(self) -> None:
        out = self.out_dir()
        run = saved_run(out)
        note = ""
        can_resume = False
        if run:
            done, total = int(run.get("epoch", 0)), int(run.get("options", {}).get("epochs", 0))
            can_resume = done > 0
            note = (f" · an unfinished run is there ({done} of {total} epochs): Resume continues it, "
                    "Train starts afresh" if done < total else f" · a finished model is there ({done} epochs): "
                    "Train replaces it; Resume adds epochs")
        self.out_label.setText(f"saved to {out}{note}")
        self.resume_button.setEnabled(can_resume and self.thread is None)
        if run and can_resume and self.thread is None:
            self.resume_button.setText(f"Resume ({int(run.get('epoch', 0))} done)")
        else:
            self.resume_button.setText("Resume")

    def options(self, resume: bool = False):
        from ...core.train import TrainOptions

        if resume:
            run = saved_run(self.out_dir()) or {}
            epochs = max(self.epochs.value(), int(run.get("epoch", 0)) + 1)  # at least one more
            return TrainOptions(data=run.get("options", {}).get("data", self.data_spec()), out=str(self.out_dir()),
                                epochs=epochs, device=self.device.currentData(), resume=True,
                                command="latent-explorer gui (training dialog, resumed)")
        return TrainOptions(
            data=self.data_spec(), out=str(self.out_dir()), latent_dim=self.latent_dim.value(),
            beta=self.beta.value(), epochs=self.epochs.value(), image_size=self.image_size.value() or None,
            batch_size=self.batch_size.value(), device=self.device.currentData(),
            limit=self.limit.value() or None, command="latent-explorer gui (training dialog)")

    # ---- running -----------------------------------------------------------------------
    def start(self, resume: bool = False) -> bool:
        if self.thread is not None:
            return False
        opts = self.options(resume)
        if self.data_box.currentData() == FOLDER and not resume and not Path(opts.data).is_dir():
            self.status.setText(f"Choose a folder of images first ({opts.data or 'none chosen'}).")
            return False
        self.plot.clear_points()
        self._epoch_seconds = []
        self._epochs_total = opts.epochs
        self._first_epoch = 0
        if resume:  # the curves so far come from the saved run
            run = saved_run(opts.out) or {}
            for h in run.get("history", []):
                self.plot.add_epoch(h)
                self._epoch_seconds.append(float(h.get("seconds", 0.0)))
            self._first_epoch = int(run.get("epoch", 0))
        self.result = None
        self.log.setText("")
        self.thread = TrainThread(opts, self)
        self.thread.batch.connect(self._on_batch)
        self.thread.epoch.connect(self._on_epoch)
        self.thread.message.connect(self._on_message)
        self.thread.done.connect(self._on_done)
        self.thread.failed.connect(self._on_failed)
        self.thread.finished.connect(self._on_thread_finished)
        self._set_running(True)
        what = "resuming" if resume else "training"
        self.status.setText(f"Loading the data, then {what} for {opts.epochs} epochs…")
        self.progress.setRange(0, 0)
        import time

        self._epoch_started = time.perf_counter()
        self.thread.start()
        return True

    def _set_running(self, on: bool) -> None:
        for w in self.settings:
            w.setEnabled(not on)
        self.train_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        if on:
            self.resume_button.setEnabled(False)
        else:
            self._update_out()

    def is_running(self) -> bool:
        return self.thread is not None

    def cancel(self) -> None:
        if self.thread is not None:
            self.thread.cancel()
            self.status.setText("Cancelling after this batch…")

    def _eta(self, epoch: int, frac: float) -> str:
        import time

        per = np.mean(self._epoch_seconds[self._first_epoch:]) if len(self._epoch_seconds) > self._first_epoch \
            else None
        elapsed = time.perf_counter() - self._epoch_started
        if per is None and frac > 0.05:
            per = elapsed / frac
        if per is None:
            return ""
        left = max(0.0, per - elapsed) if frac < 1 else 0.0
        left += per * (self._epochs_total - epoch - 1)
        return f"{per:.1f} s per epoch · ETA {_fmt_time(left)}"

    def _on_batch(self, epoch: int, b: int, nb: int, loss: float) -> None:
        frac = (b + 1) / nb
        self.plot.add_batch(epoch + frac, loss)
        total = max(1, self._epochs_total * nb)
        self.progress.setRange(0, total)
        self.progress.setValue(epoch * nb + b + 1)
        self.status.setText(f"Epoch {epoch + 1} of {self._epochs_total} · batch {b + 1} of {nb} · "
                            f"loss {loss:.1f} nats per image")
        self.timing.setText(self._eta(epoch, frac))

    def _on_epoch(self, rep) -> None:
        import time

        r = rep.result
        self._epoch_seconds.append(r.seconds)
        self._epoch_started = time.perf_counter()
        self.plot.add_epoch(r.to_dict())
        self.recon_view.set_image(rep.recon_grid)
        self.sample_view.set_image(rep.sample_grid)
        test = f" · test −ELBO {r.test_neg_elbo:.1f}" if r.test_neg_elbo is not None else ""
        self.status.setText(f"Epoch {r.epoch} of {r.epochs} done · reconstruction {r.train_recon:.1f} · "
                            f"KL {r.train_kl:.2f} · total {r.train_loss:.1f} nats per image{test}")
        self.timing.setText(f"last epoch {r.seconds:.1f} s · " + self._eta(r.epoch - 1, 1.0))

    def _on_message(self, text: str) -> None:
        lines = (self.log.text().splitlines() + [text])[-3:]
        self.log.setText("\n".join(lines))

    def _on_done(self, result) -> None:
        self.result = result
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if not result.cancelled else 0)
        if result.cancelled:
            kept = f"the model after epoch {result.epochs_done} is saved; Resume continues" \
                if result.epochs_done else "no epoch finished, nothing saved"
            self.status.setText(f"Cancelled: {kept}.")
        else:
            total = sum(self._epoch_seconds[self._first_epoch:])
            self.status.setText(f"Done: {result.epochs_done} epochs in {_fmt_time(total)}; "
                                "the explorer now shows the new model.")
            self.trained.emit(str(result.out), self.thread.options.data)

    def _on_failed(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Training failed: {message}")

    def _on_thread_finished(self) -> None:
        t, self.thread = self.thread, None
        if t is not None:
            t.deleteLater()
        self._set_running(False)
        self.stopped.emit()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel a run and wait for its thread (the window is closing)."""
        t = self.thread
        if t is None:
            return True
        t.cancel()
        if t.wait(timeout_ms):
            return True
        from ..worker import abandon

        abandon(t)  # stuck in native code: app.run_gui ends the process instead
        return False

    def closeEvent(self, ev) -> None:
        if self.thread is not None:
            self.cancel()
        super().closeEvent(ev)
