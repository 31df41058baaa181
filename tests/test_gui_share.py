"""File → Share with the class…: the dialog starts `latent-explorer serve` in a process of its own,
shows the students' address and its QR code, and stops the server when asked or when the window
closes."""
from __future__ import annotations

import pytest
import requests

pytest.importorskip("gradio", reason="the classroom extra is not installed")


def test_share_dialog_runs_the_class(qtbot, monkeypatch):
    from PySide6.QtWidgets import QWidget

    from latent_explorer.gui.dialogs import share

    parent = QWidget()
    qtbot.addWidget(parent)
    d = share.ShareDialog(parent, lambda: "digits")
    d.lan.setChecked(False)  # 127.0.0.1 only, in a test
    # a free port: the dialog asks for 7860, which a test machine may have in use
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    real_start = share.QProcess.start

    def start(proc, program, args):
        args = list(args)
        args[args.index("--port") + 1] = str(port)
        real_start(proc, program, args)

    monkeypatch.setattr(share.QProcess, "start", start)
    d.start()
    qtbot.waitUntil(lambda: d.info is not None, timeout=120_000)
    assert d.info["urls"] == [f"http://127.0.0.1:{port}/"]
    assert not d.qr.pixmap().isNull() and d.qr.pixmap().width() >= 100
    assert d.teacher_btn.isEnabled() and not d.start_btn.isEnabled()
    assert requests.get(d.info["urls"][0] + "le/health", timeout=30).json()["ok"]
    d.stop()
    qtbot.waitUntil(lambda: d.proc.state() == share.QProcess.ProcessState.NotRunning, timeout=10_000)
    assert d.start_btn.isEnabled() and not d.teacher_btn.isEnabled()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/le/health", timeout=5)


def test_qr_pixmap_is_scannable_size():
    from latent_explorer.gui.dialogs.share import qr_pixmap
    from latent_explorer.web.share import qr_matrix

    n = len(qr_matrix("http://192.168.1.20:7860/"))
    pm = qr_pixmap("http://192.168.1.20:7860/", 220)
    assert pm.width() == pm.height() and pm.width() % n == 0 and pm.width() >= 4 * n
