"""Bookmarks: named latents the user keeps, listed so one click goes back to any of them.

The bookmarks themselves are ``core.session.Bookmark`` objects (what a session saves); this
panel lists them and asks the window to add, remove or jump.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)


THUMB = 40  # px: a bookmark's picture beside its name


class BookmarksPanel(QWidget):
    jumpRequested = Signal(int)     # index into the bookmarks
    addRequested = Signal()
    removeRequested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemClicked.connect(lambda it: self.jumpRequested.emit(self.list.row(it)))
        self.list.itemActivated.connect(lambda it: self.jumpRequested.emit(self.list.row(it)))
        self.add_button = QPushButton("Add current…")
        self.add_button.setToolTip("keep the current latent under a name (Ctrl+D)")
        self.add_button.clicked.connect(self.addRequested.emit)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove)
        self.empty = QLabel("No bookmarks yet: find a latent you like and press Ctrl+D.")
        self.empty.setProperty("role", "caption")
        self.empty.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        row.addWidget(self.remove_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.empty)
        lay.addLayout(row)
        self.set_bookmarks([])

    def set_bookmarks(self, bookmarks: list, thumbnails: dict | None = None) -> None:
        """``thumbnails``: bookmark index -> its decoded uint8 image (shown as the item's icon)."""
        from PySide6.QtGui import QIcon

        from .imaging import to_pixmap

        self.list.clear()
        self.list.setIconSize(QSize(THUMB, THUMB))
        for i, b in enumerate(bookmarks):
            shape = "×".join(str(s) for s in b.latent.shape)
            item = QListWidgetItem(b.name)
            item.setToolTip(f"{b.name} · latent {shape}")
            img = (thumbnails or {}).get(i)
            if img is not None:
                item.setIcon(QIcon(to_pixmap(img, THUMB)))
            self.list.addItem(item)
        self.empty.setVisible(not bookmarks)
        self.remove_button.setEnabled(bool(bookmarks))

    def _remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.removeRequested.emit(row)
