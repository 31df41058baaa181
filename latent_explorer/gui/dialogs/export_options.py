"""Export options: how big an export is and, for a morph, how it moves.

Size: as decoded, ×1-16, or a pixel size of the longer side; nearest (pixel art, sharp blocks) or
Lanczos (smooth). A morph also gets frames, fps, easing (linear or ease-in-out), looping (loop,
ping-pong, once), its path (A → B, back to A, or through the pinned images) and an MP4 quality.
The last choices are remembered (``gui/memory.py``) and every export's recipe records them.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox,
                               QVBoxLayout)

from ...core.export_settings import ExportSettings
from .. import memory

SIZES = [("as decoded", None)] + [(f"×{k}", k) for k in (2, 4, 8, 16)] + [(f"{px} px", -px) for px in (256, 512, 1024)]


class ExportOptionsDialog(QDialog):
    def __init__(self, parent, title: str, animated: bool, pins: int = 0, frames: int | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.animated, self.pins, self.strip_frames = animated, pins, frames
        last = memory.load().get("export")
        last = last if isinstance(last, dict) else {}
        self.size_box = QComboBox()
        for text, v in SIZES:
            self.size_box.addItem(text, v)
        self.filter_box = QComboBox()
        self.filter_box.addItem("nearest: sharp pixels", "nearest")
        self.filter_box.addItem("Lanczos: smooth", "lanczos")
        form = QFormLayout()
        form.addRow("Size", self.size_box)
        form.addRow("Resampling", self.filter_box)
        self.frames = QSpinBox()
        self.frames.setRange(2, 2000)
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.ease = QComboBox()
        self.ease.addItem("linear", "linear")
        self.ease.addItem("ease in and out", "ease-in-out")
        self.loop = QComboBox()
        for v in ("loop", "ping-pong", "once"):
            self.loop.addItem(v, v)
        self.close_path = QCheckBox("back to the first image at the end (A → B → A)")
        self.through_pins = QCheckBox(f"through the {pins} pinned images (A → B → C …)")
        self.through_pins.setVisible(pins >= 3)
        self.quality = QSpinBox()
        self.quality.setRange(1, 10)
        if animated:
            form.addRow("Frames", self.frames)
            form.addRow("Frames per second", self.fps)
            form.addRow("Easing", self.ease)
            form.addRow("Looping", self.loop)
            form.addRow("Path", self.close_path)
            form.addRow("", self.through_pins)
            form.addRow("MP4 quality", self.quality)
        try:
            self._restore(last)
        except (TypeError, ValueError):  # a settings file edited by hand: the defaults
            self._restore({})
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        hint = QLabel("The settings are written into the file's recipe.")
        hint.setProperty("role", "caption")
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(hint)
        lay.addWidget(buttons)

    def _restore(self, last: dict) -> None:
        # the first time: 512 px, so that even a 28-px digit leaves as a picture worth keeping
        size = (last.get("scale") or (-last["size"] if last.get("size") else None)) if last else -512
        i = self.size_box.findData(size)
        self.size_box.setCurrentIndex(max(0, i))
        self.filter_box.setCurrentIndex(max(0, self.filter_box.findData(last.get("filter", "nearest"))))
        # the morph's own frame count: an export as it is does not decode the morph again
        self.frames.setValue(int(self.strip_frames or last.get("frames") or 24))
        self.fps.setValue(int(last.get("fps", 12)))
        self.ease.setCurrentIndex(max(0, self.ease.findData(last.get("ease", "linear"))))
        self.loop.setCurrentIndex(max(0, self.loop.findData(last.get("loop", "loop"))))
        self.quality.setValue(int(last.get("quality", 8)))
        self.close_path.setChecked(bool(last.get("close", False)))

    def settings(self) -> ExportSettings:
        v = self.size_box.currentData()
        kw = dict(scale=v if v and v > 0 else None, size=-v if v and v < 0 else None, filter=self.filter_box.currentData())
        if self.animated:
            frames = self.frames.value()
            kw.update(fps=self.fps.value(), ease=self.ease.currentData(), loop=self.loop.currentData(),
                      frames=None if frames == self.strip_frames else frames, quality=self.quality.value())
        return ExportSettings(**kw)

    def remember(self) -> None:
        """Keep these choices for next time (an image export keeps the morph's motion as it was)."""
        s = self.settings()
        stored = memory.load().get("export")
        stored = dict(stored) if isinstance(stored, dict) else {}
        stored.update(scale=s.scale, size=s.size, filter=s.filter)
        if self.animated:
            stored.update(fps=s.fps, ease=s.ease, loop=s.loop, frames=self.frames.value(), quality=s.quality,
                          close=self.close_path.isChecked())
        memory.remember("export", stored)


def ask(parent, title: str, animated: bool = False, pins: int = 0, frames: int | None = None):
    """(ExportSettings, close_path, through_pins) from the dialog, or None when cancelled. ``frames``:
    the morph's own frame count."""
    d = ExportOptionsDialog(parent, title, animated, pins, frames)
    if d.exec() != QDialog.DialogCode.Accepted:
        return None
    d.remember()
    return d.settings(), d.close_path.isChecked(), d.through_pins.isChecked() and pins >= 3
