"""File → Share with the class…: runs ``latent-explorer serve`` on the open model in a process of
its own (the window stays as fast as before) and shows where students open it, as links and as a
QR code, with the teacher's view one click away."""
from __future__ import annotations

import json
import sys

from PySide6.QtCore import QProcess, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QDialog, QHBoxLayout, QLabel, QPushButton, QTextBrowser,
                               QVBoxLayout)


def qr_pixmap(text: str, size: int = 220) -> QPixmap:
    """The QR code of ``text``, scaled to about ``size`` pixels with crisp modules."""
    from ...web.share import qr_matrix

    rows = qr_matrix(text)
    n = len(rows)
    img = QImage(n, n, QImage.Format.Format_Grayscale8)
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            img.setPixel(x, y, 0xFF000000 if dark else 0xFFFFFFFF)
    k = max(1, size // n)
    return QPixmap.fromImage(img.scaled(n * k, n * k, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.FastTransformation))


class ShareDialog(QDialog):
    def __init__(self, parent, spec_fn):
        super().__init__(parent)
        self.setWindowTitle("Share with the class")
        self.setMinimumWidth(480)
        self.spec_fn = spec_fn
        self.proc: QProcess | None = None
        self.info: dict | None = None
        self._out = ""
        lay = QVBoxLayout(self)
        self.intro = QLabel("Students open the explorer in their browsers, from this computer: no install, "
                            "no internet. Everyone gets their own map, sliders, Theory and lab.")
        self.intro.setWordWrap(True)
        self.lan = QCheckBox("Open it to this network (the students' laptops and phones)")
        self.lan.setChecked(True)
        self.risk = QLabel("Anyone on this network can then open the page: use a network you trust. "
                           "Unticked, only this computer can.")
        self.risk.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.links = QTextBrowser()
        self.links.setOpenExternalLinks(True)
        self.links.setMaximumHeight(90)
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row = QHBoxLayout()
        self.start_btn = QPushButton("Start the class")
        self.teacher_btn = QPushButton("Open the teacher's view")
        self.stop_btn = QPushButton("Stop the class")
        for b in (self.start_btn, self.teacher_btn, self.stop_btn):
            row.addWidget(b)
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)
        self.teacher_btn.clicked.connect(lambda: self.info and QDesktopServices.openUrl(QUrl(self.info["teacher"])))
        for w in (self.intro, self.lan, self.risk, self.status, self.qr, self.links):
            lay.addWidget(w)
        lay.addLayout(row)
        self._update()

    def _update(self) -> None:
        running = self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning
        self.start_btn.setEnabled(not running)
        self.lan.setEnabled(not running)
        self.stop_btn.setEnabled(running)
        self.teacher_btn.setEnabled(self.info is not None)
        self.links.setVisible(self.info is not None)
        self.qr.setVisible(self.info is not None)

    def start(self) -> None:
        from ... import web

        why = web.missing()
        if why:
            self.status.setText(f"The classroom is not installed here: {why}.")
            return
        spec = self.spec_fn() or "digits"
        self.proc = QProcess(self)
        self.proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.proc.readyReadStandardOutput.connect(self._read)
        self.proc.finished.connect(self._ended)
        host = "0.0.0.0" if self.lan.isChecked() else "127.0.0.1"
        self.info, self._out = None, ""
        self.status.setText(f"Opening the class on {spec}… (loading the model and its map)")
        self.proc.start(sys.executable, ["-m", "latent_explorer.cli", "serve", "--model", spec, "--host", host,
                                         "--port", "7860"])
        self._update()

    def _read(self) -> None:
        self._out += bytes(self.proc.readAllStandardOutput()).decode("utf-8", "replace")
        for line in self._out.splitlines():
            if line.startswith("{") and '"urls"' in line:
                try:
                    self.show_info(json.loads(line))
                except ValueError:
                    pass

    def show_info(self, info: dict) -> None:
        self.info = info
        links = " · ".join(f'<a href="{u}">{u}</a>' for u in info["urls"])
        self.links.setHtml(f"<p>Students open: {links}</p><p>Your view (keep this link to yourself): "
                           f'<a href="{info["teacher"]}">{info["teacher"]}</a></p>')
        self.qr.setPixmap(qr_pixmap(info["urls"][0]))
        self.status.setText("The class is open. Students scan the code or type the address.")
        self._update()

    def _ended(self, code: int, _status=None) -> None:
        last = [ln for ln in self._out.splitlines() if ln.strip()][-1:] or [""]
        self.status.setText("The class has stopped." if self.info is not None or code == 0 else
                            f"The class could not start: {last[0]}")
        self.info = None
        self._update()

    def stop(self) -> None:
        if self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning:
            self.proc.terminate()
            if not self.proc.waitForFinished(3000):
                self.proc.kill()
                self.proc.waitForFinished(2000)
        self._update()


def open_share_dialog(win) -> ShareDialog:
    d = getattr(win, "share_dialog", None)
    if d is None:
        d = win.share_dialog = ShareDialog(win, lambda: win.ctx.model.summary.spec if win.ctx.model.summary else None)
    d.show()
    d.raise_()
    return d
