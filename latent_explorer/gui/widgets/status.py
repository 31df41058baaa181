"""The status bar (device, last decode time, previews per second, job progress) and the error banner."""
from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QStatusBar, QToolButton, QWidget


class StatusPanel:
    """Permanent widgets on a QStatusBar; ``preview_shown()`` feeds the previews/s counter."""

    def __init__(self, bar: QStatusBar):
        self.bar = bar
        self.progress_text = QLabel("")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(160)
        self.progress.setTextVisible(False)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.device = QLabel("device: –")
        self.decode_ms = QLabel("decode: – ms")
        self.rate = QLabel("0 previews/s")
        self.rate.setMinimumWidth(110)
        for w in (self.progress_text, self.progress, self.cancel):
            bar.addWidget(w)
        for w in (self.device, self.decode_ms, self.rate):
            bar.addPermanentWidget(w)
        self.set_progress(None)
        self._shown = deque(maxlen=512)
        self._last_decode_s: float | None = None
        self.timer = QTimer(bar)
        self.timer.setInterval(500)
        self.timer.timeout.connect(self._update_rate)
        self.timer.start()

    def set_device(self, device: str) -> None:
        self.device.setText(f"device: {device}")

    def preview_shown(self, decode_seconds: float) -> None:
        self._shown.append(time.perf_counter())
        self._last_decode_s = decode_seconds  # shown by the timer: no relayout per preview

    def previews_per_second(self) -> float:
        now = time.perf_counter()
        return float(sum(1 for t in self._shown if now - t <= 1.0))

    def _update_rate(self) -> None:
        if self._last_decode_s is not None:
            self.decode_ms.setText(f"decode: {self._last_decode_s * 1000:.1f} ms")
        self.rate.setText(f"{self.previews_per_second():.0f} previews/s")

    def set_progress(self, text: str | None, done: int = 0, total: int = 0, cancellable: bool = True) -> None:
        """None hides the progress widgets; total 0 shows a busy bar; Cancel only where it can cancel."""
        visible = text is not None
        for w in (self.progress_text, self.progress):
            w.setVisible(visible)
        self.cancel.setVisible(visible and cancellable)
        if not visible:
            return
        self.progress_text.setText(text)
        self.progress.setRange(0, max(total, 0))
        if total:
            self.progress.setValue(done)

    def stop(self) -> None:
        self.timer.stop()


class ErrorBanner(QFrame):
    """A dismissable line at the top of the window for errors that need no dialog."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("ErrorBanner")
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 4, 4)
        lay.addWidget(self.text, 1)
        lay.addWidget(close)
        self.hide()

    def show_error(self, message: str) -> None:
        self.text.setText(message)
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
