"""The skipped-files report: every file a folder import could not use, by name, with its reason.

``SkippedFilesPanel`` is the table (it lives in a dock the status-bar link opens);
``SkippedLink`` is that link ("3 files skipped"), hidden while nothing was skipped.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)


class SkippedFilesPanel(QWidget):
    """A two-column table (file, reason) with a summary line and "Copy list"."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QLabel("No files skipped.")
        self.summary.setProperty("role", "caption")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["File", "Why it was skipped"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 320)
        self.copy_button = QPushButton("Copy list")
        self.copy_button.setToolTip("copy 'file: reason' lines to the clipboard")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.copy_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        self.root: Path | None = None
        self.items: list[tuple[str, str]] = []

    def set_report(self, skipped: list, source=None, imported: int | None = None) -> None:
        """``skipped``: (path, reason) pairs; paths are shown relative to the folder ``source``."""
        self.root = Path(source) if isinstance(source, (str, Path)) else None
        self.items = [(self._name(p), str(why)) for p, why in skipped]
        self.table.setRowCount(len(self.items))
        for r, (name, why) in enumerate(self.items):
            a, b = QTableWidgetItem(name), QTableWidgetItem(why)
            a.setToolTip(str(skipped[r][0]))
            b.setToolTip(why)
            self.table.setItem(r, 0, a)
            self.table.setItem(r, 1, b)
        where = f" from {self.root}" if self.root else ""
        got = f"{imported:,} image(s) imported{where}; " if imported is not None else ""
        self.summary.setText(f"{got}{len(self.items):,} file(s) skipped." if self.items else f"{got}no files skipped.")
        self.copy_button.setEnabled(bool(self.items))

    def _name(self, p) -> str:
        p = Path(p)
        if self.root is not None:
            try:
                return str(p.relative_to(self.root))
            except ValueError:
                pass
        return str(p)

    def as_text(self) -> str:
        return "\n".join(f"{name}: {why}" for name, why in self.items)

    def copy_to_clipboard(self) -> None:
        QApplication.clipboard().setText(self.as_text())


class SkippedLink(QLabel):
    """Status-bar link to the report; ``clicked`` opens it."""

    clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.linkActivated.connect(lambda _: self.clicked.emit())
        self.setToolTip("show every skipped file with its reason")
        self.hide()

    def set_count(self, n: int) -> None:
        if n <= 0:
            self.hide()
            return
        from .. import theme

        self.setText(f'<a href="#skipped" style="color:{theme.ACCENT}">{n:,} file{"s" if n != 1 else ""} skipped</a>')
        self.show()
