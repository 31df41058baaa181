"""The "Train a VAE" dialog: choose data and settings, watch it learn, cancel, resume.

Left, the settings (``train_settings.py``: data, image size, latent size, β, the length, which
is about five minutes by default, the batch size and augmentation, automatic by default, device,
and the model's folder name, ``<data>-b<β>-z<latent size>``). Right, while it trains (the live
view, ``train_plots.py``): loss curves (reconstruction, KL and total, the batch loss as it goes,
the held-out −ELBO with the kept epoch ringed), a grid of images above their reconstructions and
a grid of prior samples, both redrawn at every evaluation, the run's plan, progress and ETA, and
a warning line when the reconstructions are still flat or the held-out loss keeps rising. Train
into a folder that holds a run asks before replacing it. A finished run emits ``trained`` and
the window makes the new model (its best epoch) the current one.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QGridLayout, QHBoxLayout, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ...core.train_plan import holds_run
from .train_plots import GridView, LiveView, LossPlot, heading
from .train_settings import BUNDLED_DATA, FOLDER, TrainSettings, models_dir, run_finished
from .train_thread import TrainThread, saved_run

__all__ = ["BUNDLED_DATA", "FOLDER", "GridView", "LossPlot", "TrainDialog", "models_dir"]


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
        self.resize(1080, 700)
        self.thread: TrainThread | None = None
        self.result = None
        self.plan = None
        self.warnings: list[str] = []
        self._t_plan = 0.0
        self._first_epoch = 0

        # ---- settings (the dialog reaches the controls by their names)
        self.form = TrainSettings(folder, devices)
        for name in ("data_box", "folder_edit", "browse", "folder_row", "image_size", "latent_dim", "beta", "length",
                     "length_unit", "batch_size", "augment", "limit", "device", "name", "out_label"):
            setattr(self, name, getattr(self.form, name))
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("continue the run in this model folder from the epoch it keeps")
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
        left.addWidget(self.form)
        left.addStretch(1)
        left.addLayout(buttons)
        self.settings = self.form.controls

        # ---- live view (the dialog fills in its parts by their names)
        self.live = LiveView()
        self.plot, self.recon_view, self.sample_view = self.live.plot, self.live.recon_view, self.live.sample_view
        self.progress, self.status, self.timing, self.log = (self.live.progress, self.live.status, self.live.timing,
                                                             self.live.log)
        self.warning = self.live.warning

        outer = QHBoxLayout(self)
        lw = QWidget()
        lw.setLayout(left)
        lw.setFixedWidth(360)
        outer.addWidget(lw)
        outer.addWidget(self.live, 1)

        self.name.textChanged.connect(lambda _: self._update_out())
        self.train_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self._update_out()

    # ---- settings ----------------------------------------------------------------------
    def data_spec(self) -> str:
        return self.form.data_spec()

    def set_length(self, value: float, unit: str = "minutes") -> None:
        self.form.set_length(value, unit)

    def out_dir(self) -> Path:
        return self.form.out_dir()

    def options(self, resume: bool = False):
        return self.form.options(resume)

    def _update_out(self) -> None:
        out = self.out_dir()
        run = saved_run(out)
        note = ""
        kept = int(run.get("epoch", 0)) if run else 0
        can_resume = kept > 0
        if run:
            last = int(run.get("last_epoch", kept))
            at = f"epoch {kept} kept" + (f", trained to {last}" if last > kept else "")
            note = (f" · a finished model is there ({at}): Train replaces it (it asks first); Resume trains on"
                    if run_finished(run) else
                    f" · an unfinished run is there ({at}): Resume continues it; Train starts afresh (it asks first)")
        elif holds_run(out):
            note = " · the folder holds files of another model: Train replaces them (it asks first)"
        self.out_label.setText(f"saved to {out}{note}")
        self.resume_button.setEnabled(can_resume and self.thread is None)
        self.resume_button.setText(f"Resume ({kept} done)" if can_resume and self.thread is None else "Resume")

    def confirm_replace(self, out: Path) -> bool:
        """Ask before a fresh run replaces the run in ``out`` (tests replace this method)."""
        answer = QMessageBox.question(
            self, "Replace a model?", f"{out} holds a model already. Train a new one in its place?\n\n"
            "(Change the model name to keep both.)", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    # ---- running -----------------------------------------------------------------------
    def start(self, resume: bool = False) -> bool:
        if self.thread is not None:
            return False
        opts = self.options(resume)
        if self.data_box.currentData() == FOLDER and not resume and not Path(opts.data).is_dir():
            self.status.setText(f"Choose a folder of images first ({opts.data or 'none chosen'}).")
            return False
        if not resume and holds_run(Path(opts.out)) and not self.confirm_replace(Path(opts.out)):
            self.status.setText("Not started: choose another model name to keep the model that is there.")
            return False
        self.plot.clear_points()
        self._first_epoch = 0
        if resume:  # the curves so far come from the saved run, up to the epoch it keeps
            run = saved_run(opts.out) or {}
            self._first_epoch = int(run.get("epoch", 0))
            for h in run.get("history", []):
                if int(h.get("epoch", 0)) <= self._first_epoch:
                    self.plot.add_epoch(h)
        self.result, self.plan, self.warnings = None, None, []
        self.live.show_warnings([])
        self.log.setText("")
        self.thread = TrainThread(opts, self)
        self.thread.batch.connect(self._on_batch)
        self.thread.epoch.connect(self._on_epoch)
        self.thread.message.connect(self._on_message)
        self.thread.planned.connect(self._on_plan)
        self.thread.warning.connect(self._on_warning)
        self.thread.done.connect(self._on_done)
        self.thread.failed.connect(self._on_failed)
        self.thread.finished.connect(self._on_thread_finished)
        self._set_running(True)
        self.status.setText(f"Loading the data, then {'resuming' if resume else 'training'}…")
        self.progress.setRange(0, 0)
        self._t_plan = time.perf_counter()
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

    def _on_plan(self, plan) -> None:
        self.plan = plan
        self._t_plan = plan.t0 or time.perf_counter()  # the engine's clock: loading counts in the budget
        self.timing.setText(plan.describe())
        self.progress.setRange(0, 1000)

    def _fraction(self, epoch: float, step: int) -> float:
        return self.plan.progress(epoch, step, time.perf_counter() - self._t_plan) if self.plan else 0.0

    def _eta(self, frac: float) -> str:
        elapsed = time.perf_counter() - self._t_plan
        if frac <= 0.02:
            return f"{_fmt_time(elapsed)} so far"
        return f"{_fmt_time(elapsed)} so far · ETA {_fmt_time(max(0.0, elapsed / frac - elapsed))}"

    def _on_batch(self, epoch: int, b: int, nb: int, loss: float) -> None:
        frac = (b + 1) / nb
        self.plot.add_batch(epoch + frac, loss)
        step = epoch * nb + b + 1
        done = self._fraction(epoch + frac, step)
        self.progress.setValue(int(done * 1000))
        self.status.setText(f"Epoch {epoch + 1} · step {step:,} · loss {loss:.1f} nats per image")
        if self.plan is not None:
            self.timing.setText(f"{self.plan.describe()}\n{self._eta(done)}")

    def _on_epoch(self, rep) -> None:
        r = rep.result
        self.plot.add_epoch(r.to_dict())
        self.recon_view.set_image(rep.recon_grid)
        self.sample_view.set_image(rep.sample_grid)
        test = f" · held-out −ELBO {r.test_neg_elbo:.1f}" if r.test_neg_elbo is not None else ""
        self.status.setText(f"Epoch {r.epoch} · step {r.step:,} · reconstruction {r.train_recon:.1f} · "
                            f"KL {r.train_kl:.2f} · total {r.train_loss:.1f} nats per image{test}")

    def _on_message(self, text: str) -> None:
        lines = (self.log.text().splitlines() + [text])[-3:]
        self.log.setText("\n".join(lines))

    def _on_warning(self, text: str) -> None:
        self.warnings.append(text)
        self.live.show_warnings(self.warnings)

    def _on_done(self, result) -> None:
        self.result = result
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if not result.cancelled else 0)
        kept = getattr(result, "best_epoch", result.epochs_done)
        if result.cancelled:
            what = f"the folder keeps epoch {kept}, the best so far; Resume continues from it" \
                if kept else "no evaluation finished, nothing saved"
            self.status.setText(f"Cancelled: {what}.")
            return
        total = time.perf_counter() - self._t_plan
        best = f"; kept epoch {kept}, the best on held-out images" if kept and kept != result.epochs_done else ""
        self.status.setText(f"Done: {result.epochs_done} epochs ({result.steps_done:,} steps) in "
                            f"{_fmt_time(total)}{best}; the explorer now shows the new model.")
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
