"""The guided lab's panel (in a dock beside the map: the window stays usable) and its pointer.

``LabPanel``: "Step k of n", the step's title and a few sentences, a **Do it** button that makes
the app do what the step talks about, a status line (waiting for a model, done, or why not),
Back / Next, and **Show me** (point at the parts again). It only shows and asks; the
``controllers.lab.LabController`` decides.

``Highlight``: a translucent accent-coloured frame drawn for a few seconds over the widgets a
step talks about, each with a short label. It is a child of the main window, above its other
children, transparent to the mouse (clicks go through to the app), and follows the targets as
the layout changes. Targets outside the window (a floating dock) or hidden are skipped.
Only Qt is imported: the panel is built before the first paint.
"""
from __future__ import annotations

import math
import time

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)

from .. import theme

ACCENT = QColor(theme.ACCENT)
STATUS_COLORS = {"idle": theme.MUTED, "waiting": theme.ACCENT2, "done": "#7bd88f", "failed": theme.ERROR}


class LabPanel(QWidget):
    """Title, text, Do it / Back / Next / Show me, and the step's progress."""

    doRequested = Signal()
    backRequested = Signal()
    nextRequested = Signal()
    showRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("LabPanel")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("Step %v of %m")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setMaximumHeight(18)
        self.title = QLabel("A guided lab: how a VAE works")
        self.title.setProperty("role", "heading")
        self.title.setWordWrap(True)
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.text = QLabel("The lab starts once the window is built…")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.text.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.do_button = QPushButton("Do it")
        self.do_button.setObjectName("LabDoIt")
        self.do_button.setStyleSheet(f"QPushButton#LabDoIt {{ font-weight: 600; border: 1px solid {ACCENT.name()}; }}")
        self.show_button = QPushButton("Show me")
        self.show_button.setToolTip("point at the parts of the window this step talks about")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setProperty("role", "caption")
        self.back_button = QPushButton("◀ Back")
        self.next_button = QPushButton("Next ▶")
        self.do_button.clicked.connect(self.doRequested)
        self.show_button.clicked.connect(self.showRequested)
        self.back_button.clicked.connect(self.backRequested)
        self.next_button.clicked.connect(self.nextRequested)

        act = QHBoxLayout()
        act.setContentsMargins(0, 0, 0, 0)
        act.addWidget(self.do_button, 1)
        act.addWidget(self.show_button)
        nav = QHBoxLayout()
        nav.setContentsMargins(0, 0, 0, 0)
        nav.addWidget(self.back_button)
        nav.addStretch(1)
        nav.addWidget(self.next_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(8)
        lay.addWidget(self.progress)
        lay.addWidget(self.title)
        scroll = QScrollArea()  # a short dock scrolls the text rather than cutting it
        scroll.setWidget(self.text)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay.addWidget(scroll, 1)
        lay.addLayout(act)
        lay.addWidget(self.status)
        lay.addLayout(nav)
        self.setMinimumWidth(260)
        self.set_enabled(False)

    def set_enabled(self, on: bool) -> None:
        """Off until the window's panels are built (the controller attaches then)."""
        for b in (self.do_button, self.show_button, self.back_button, self.next_button):
            b.setEnabled(on)

    def set_step(self, k: int, n: int, title: str, html: str, do_tip: str = "") -> None:
        """Show step ``k`` (0-based) of ``n``."""
        self.progress.setRange(0, n)
        self.progress.setValue(k + 1)
        self.title.setText(title)
        self.text.setText(html)
        self.do_button.setToolTip(do_tip)
        self.do_button.setEnabled(True)
        self.show_button.setEnabled(True)
        self.back_button.setEnabled(k > 0)
        self.next_button.setEnabled(k < n - 1)
        self.next_button.setText("Next ▶" if k < n - 1 else "The end")
        self.set_status("", "idle")

    def set_status(self, text: str, kind: str = "idle") -> None:
        """What Do it is doing: ``kind`` is idle, waiting, done or failed (its colour)."""
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {STATUS_COLORS.get(kind, STATUS_COLORS['idle'])};")
        self.do_button.setText("Working…" if kind == "waiting" else "Do it")


class Highlight(QWidget):
    """Frames over some of the window's widgets, pulsing for ``seconds`` (then gone)."""

    TICK_MS = 50

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.setObjectName("LabHighlight")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.targets: list[tuple[QWidget, str]] = []
        self._until = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._font = QFont(self.font())
        self._font.setBold(True)
        self.setGeometry(window.rect())
        window.installEventFilter(self)
        self.hide()

    # ---- pointing ---------------------------------------------------------------------
    def point_at(self, targets, seconds: float = 4.0) -> int:
        """Frame ``targets`` ((widget, label) pairs) for ``seconds``; returns how many are on screen."""
        self.targets = [(w, str(label)) for w, label in targets if w is not None]
        self._until = time.monotonic() + seconds
        self.setGeometry(self.parentWidget().rect())
        shown = len(self.rects())
        if not shown:
            self.stop()
            return 0
        self.show()
        self.raise_()
        self._timer.start()
        self.update()
        return shown

    def stop(self) -> None:
        self._timer.stop()
        self.targets = []
        self.hide()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def rects(self) -> list[tuple[QRect, str]]:
        """Where the frames go now (window coordinates): visible targets inside this window."""
        win, out = self.parentWidget(), []
        for w, label in self.targets:
            try:
                if not w.isVisible() or not win.isAncestorOf(w) or w.width() < 2 or w.height() < 2:
                    continue
                out.append((QRect(w.mapTo(win, QPoint(0, 0)), w.size()), label))
            except RuntimeError:  # the widget was deleted meanwhile
                continue
        return out

    def _tick(self) -> None:
        if time.monotonic() >= self._until or not self.rects():
            self.stop()
            return
        self.raise_()  # a dock shown meanwhile would cover us
        self.update()

    # ---- painting ---------------------------------------------------------------------
    def paintEvent(self, ev):
        left = max(0.0, self._until - time.monotonic())
        pulse = 0.5 + 0.5 * math.cos(left * 2 * math.pi / 1.2)   # one beat per 1.2 s
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill, edge = QColor(ACCENT), QColor(ACCENT)
        fill.setAlpha(int(22 + 30 * pulse))
        edge.setAlpha(int(150 + 100 * pulse))
        p.setFont(self._font)
        fm = QFontMetrics(self._font)
        for rect, label in self.rects():
            r = QRectF(rect).adjusted(-2, -2, 2, 2)
            p.setPen(QPen(edge, 3))
            p.setBrush(fill)
            p.drawRoundedRect(r, 6, 6)
            if label:
                text = fm.elidedText(label, Qt.TextElideMode.ElideRight, max(40, int(r.width()) - 12))
                box = QRectF(r.left() + 6, r.top() + 6, fm.horizontalAdvance(text) + 12, fm.height() + 6)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(ACCENT.red(), ACCENT.green(), ACCENT.blue(), 230))
                p.drawRoundedRect(box, 4, 4)
                p.setPen(QColor("#10131a"))
                p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        p.end()

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        t = ev.type()
        if t == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        elif t in (QEvent.Type.Close, QEvent.Type.Hide):  # never leave a timer running on a closed window
            self.stop()
        return False
