"""The visible undo history: every latent edit in a list; clicking one jumps there.

It binds to ``LatentState``: committed edits are rebuilt only when the history itself changed
(its ``version``); an edit under way (a drag) shows at once as a last, italic "editing…" row,
which becomes an entry when the gesture is committed.
"""
from __future__ import annotations

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ...app.state import LatentState


class HistoryPanel(QWidget):
    def __init__(self, state: LatentState, parent=None):
        super().__init__(parent)
        self.state = state
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.list.itemClicked.connect(self._on_clicked)
        self.list.itemActivated.connect(self._on_clicked)
        hint = QLabel("Click an entry to go back to it · Ctrl+Z / Ctrl+Shift+Z step through")
        hint.setProperty("role", "caption")
        hint.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addWidget(self.list, 1)
        lay.addWidget(hint)
        self._version = -1
        self.live: QListWidgetItem | None = None   # the edit under way, if any
        state.connect(lambda origin: self.refresh())
        state.connect_history(self.refresh)

    def refresh(self, force: bool = False) -> None:
        h = self.state.history
        if force or h.version != self._version:
            self._rebuild()
        self._show_live()

    def _show_live(self) -> None:
        """The edit under way as the last row (italic), or no such row."""
        if self.state.editing:
            text = f"{'':>3}  {self.state.source} (editing…)"
            if self.live is None:
                self.live = QListWidgetItem(text)
                font = QFont(self.list.font())
                font.setItalic(True)
                self.live.setFont(font)
                self.list.addItem(self.live)
                self.list.scrollToItem(self.live)
            elif self.live.text() != text:
                self.live.setText(text)
        elif self.live is not None:
            self.list.takeItem(self.list.row(self.live))
            self.live = None

    def _rebuild(self) -> None:
        h = self.state.history
        self._version = h.version
        self.live = None
        entries = h.entries()
        pos = h.position
        self.list.blockSignals(True)
        self.list.clear()
        bold = QFont(self.list.font())
        bold.setBold(True)
        muted = QBrush(QColor("#6b707b"))
        for i, (_, source) in enumerate(entries):
            item = QListWidgetItem(f"{i + 1:>3}  {source}")
            item.setToolTip(source)
            if i == pos:
                item.setFont(bold)
            elif i > pos:
                item.setForeground(muted)  # undone: still there to redo
            self.list.addItem(item)
        if pos >= 0:
            self.list.setCurrentRow(pos)
            self.list.scrollToItem(self.list.item(pos), QAbstractItemView.ScrollHint.EnsureVisible)
        self.list.blockSignals(False)

    def _on_clicked(self, item: QListWidgetItem) -> None:
        if item is self.live:
            return
        row = self.list.row(item)
        if row != self.state.history.position:
            self.state.go_to(row)
