"""The training dialog's settings: data, image size, latent size, β, length, batch, augmentation, name.

Defaults that work from 20 images to thousands: the length is a time budget (about
``DEFAULT_MINUTES`` minutes; steps or epochs on request), the batch size is automatic
(``min(64, n)``) and augmentation is automatic (small folders: flips, crops and colour jitter for
photos). The model's name is ``<data>-b<β>-z<latent size>``, with ``-2``, ``-3``, … when a folder
of that name holds another run; the suggestion keeps an unfinished run of the same data, β and
latent size, so Resume can continue it. ``options()`` turns the controls into ``TrainOptions``.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QWidget)

from ...core.train_plan import DEFAULT_MINUTES, MAX_MINUTES, MAX_STEPS, default_name, free_folder
from .train_thread import saved_run

BUNDLED_DATA = (("mnist-5k", "Digits (mnist-5k, bundled)"), ("shapes", "Shapes (procedural, bundled)"))
FOLDER = "folder"
#: the length's units: (key, shown, decimals, lowest, highest, first value)
UNITS = (("minutes", "minutes", 1, 0.1, MAX_MINUTES, DEFAULT_MINUTES),
         ("steps", "steps", 0, 1, MAX_STEPS, 3000),
         ("epochs", "epochs", 0, 1, 100_000, 30))
AUGMENT = (("auto", "Auto (small folders)", "folders under 2,000 images: photo-style, or digit-style when grey"),
           ("photo", "Photos", "flips, random crops and a little colour jitter"),
           ("affine", "Digits", "small shifts, rotations and zoom (no flips)"),
           ("off", "Off", "the images as they are"))


def models_dir() -> Path:
    """Where in-app training writes models: ``<user data folder>/models`` (LATENT_EXPLORER_DATA overrides)."""
    from ...core.session import data_dir

    return data_dir() / "models"


def run_finished(run: dict) -> bool:
    """Whether a saved run reached its length (older runs: their epochs)."""
    if "finished" in run:
        return bool(run["finished"])
    return int(run.get("epoch", 0)) >= int(run.get("options", {}).get("epochs") or 0)


class TrainSettings(QWidget):
    """The form on the dialog's left; the dialog reaches its controls by name."""

    def __init__(self, folder: str | None = None, devices: list[str] | None = None, parent=None):
        super().__init__(parent)
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
        self.length = QDoubleSpinBox()
        self.length_unit = QComboBox()
        for key, shown, *_ in UNITS:
            self.length_unit.addItem(shown, key)
        self._lengths = {key: first for key, *_, first in UNITS}
        self.length_unit.currentIndexChanged.connect(self._on_unit)
        self.length.valueChanged.connect(lambda v: self._lengths.__setitem__(self.length_unit.currentData(), v))
        self._on_unit()
        self.length.setToolTip("how long to train: about so many minutes, optimisation steps, "
                               "or passes over the images")
        lrow = QHBoxLayout()
        lrow.setContentsMargins(0, 0, 0, 0)
        lrow.addWidget(self.length, 1)
        lrow.addWidget(self.length_unit, 1)
        self.length_row = QWidget()
        self.length_row.setLayout(lrow)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(0, 4096)
        self.batch_size.setSpecialValueText("auto (64 or fewer)")
        self.batch_size.setToolTip("auto: 64, or the number of training images when fewer; never more than them")
        self.augment = QComboBox()
        for i, (key, text, tip) in enumerate(AUGMENT):
            self.augment.addItem(text, key)
            self.augment.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.augment.setToolTip("random variations of the training images: fewer images need more of them")
        self.limit = QSpinBox()
        self.limit.setRange(0, 10_000_000)
        self.limit.setSingleStep(256)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("train on the first N images only (a quick look)")
        self.device = QComboBox()
        for d in devices or ["cpu"]:
            self.device.addItem(d.upper() if d != "cpu" else "CPU", d)
        self.name = QLineEdit()
        self.name.setToolTip("the model's folder name under the models folder: <data>-b<β>-z<latent size>")
        self.out_label = QLabel("")
        self.out_label.setProperty("role", "caption")
        self.out_label.setWordWrap(True)
        self.out_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, w in (("Data", self.data_box), ("", self.folder_row), ("Image size", self.image_size),
                         ("Latent dimensions", self.latent_dim), ("β (KL weight)", self.beta),
                         ("Length", self.length_row), ("Batch size", self.batch_size),
                         ("Augmentation", self.augment), ("Use images", self.limit), ("Device", self.device),
                         ("Model name", self.name), ("", self.out_label)):
            form.addRow(label, w)
        self.controls = [self.data_box, self.folder_row, self.image_size, self.latent_dim, self.beta,
                         self.length_row, self.batch_size, self.augment, self.limit, self.device, self.name]

        self.data_box.currentIndexChanged.connect(self._on_data_changed)
        self.latent_dim.valueChanged.connect(lambda _: self.suggest_name())
        self.beta.valueChanged.connect(lambda _: self.suggest_name())
        self.folder_edit.textChanged.connect(lambda _: self.suggest_name())
        if folder:
            self.data_box.setCurrentIndex(self.data_box.findData(FOLDER))
        self._on_data_changed()

    # ---- the length ------------------------------------------------------------------------
    def _on_unit(self, *_) -> None:
        key = self.length_unit.currentData()
        _, _, decimals, lo, hi, _ = next(u for u in UNITS if u[0] == key)
        value = self._lengths[key]
        self.length.blockSignals(True)
        self.length.setDecimals(decimals)
        self.length.setRange(lo, hi)
        self.length.setSingleStep(1 if key == "minutes" else (100 if key == "steps" else 5))
        self.length.setValue(value)
        self.length.blockSignals(False)

    def set_length(self, value: float, unit: str = "minutes") -> None:
        self.length_unit.setCurrentIndex(self.length_unit.findData(unit))
        self.length.setValue(value)

    def length_options(self) -> dict:
        """``{"minutes": 5.0}``, ``{"steps": 3000}`` or ``{"epochs": 30}``."""
        key, v = self.length_unit.currentData(), self.length.value()
        return {key: float(v) if key == "minutes" else int(round(v))}

    # ---- data and name ---------------------------------------------------------------------
    def data_spec(self) -> str:
        key = self.data_box.currentData()
        return self.folder_edit.text().strip() if key == FOLDER else key

    def _on_data_changed(self, *_) -> None:
        self.folder_row.setVisible(self.data_box.currentData() == FOLDER)
        self.suggest_name()

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Train on a folder of images", self.folder_edit.text())
        if d:
            self.folder_edit.setText(d)

    def suggest_name(self) -> None:
        base = default_name(self.data_spec() or "images", self.beta.value(), self.latent_dim.value())
        self.name.setText(free_folder(models_dir(), base, reuse=self._same_unfinished_run).name)

    def _same_unfinished_run(self, folder: Path) -> bool:
        """An unfinished run of the same data, β and latent size: the suggestion keeps it (Resume)."""
        run = saved_run(folder)
        if not run or run_finished(run):
            return False
        o = run.get("options", {})
        return (o.get("data") == self.data_spec() and float(o.get("beta", -1)) == float(self.beta.value())
                and int(o.get("latent_dim", -1)) == self.latent_dim.value())

    def out_dir(self) -> Path:
        return models_dir() / (self.name.text().strip() or "model")

    def options(self, resume: bool = False):
        from ...core.train import TrainOptions

        length = self.length_options()
        out = self.out_dir()
        if resume:
            run = saved_run(out) or {}
            if "epochs" in length:  # at least one more than the kept epoch
                length["epochs"] = max(length["epochs"], int(run.get("epoch", 0)) + 1)
            if "steps" in length:
                length["steps"] = max(length["steps"], int(run.get("steps", 0)) + 1)
            return TrainOptions(data=run.get("options", {}).get("data", self.data_spec()), out=str(out),
                                device=self.device.currentData(), resume=True,
                                command="latent-explorer gui (training dialog, resumed)", **length)
        return TrainOptions(
            data=self.data_spec(), out=str(out), latent_dim=self.latent_dim.value(), beta=self.beta.value(),
            image_size=self.image_size.value() or None, batch_size=self.batch_size.value() or None,
            augment=self.augment.currentData(), device=self.device.currentData(), limit=self.limit.value() or None,
            command="latent-explorer gui (training dialog)", **length)
