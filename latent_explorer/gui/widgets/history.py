"""The visible undo history: every committed latent edit in a list; clicking one jumps there.

It binds to ``LatentState`` and redraws only when the history itself changed (its
``version``), not on every slider tick.
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
        state.connect(lambda origin: self.refresh())

    def refresh(self, force: bool = False) -> None:
        h = self.state.history
        if not force and h.version == self._version:
            return
        self._version = h.version
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
        row = self.list.row(item)
        if row != self.state.history.position:
            self.state.go_to(row)
