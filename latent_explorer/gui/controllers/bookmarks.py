"""The bookmarks controller: named latents to come back to (Ctrl+D), listed in the Bookmarks dock."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from ...core.session import Bookmark


class BookmarkController(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.items: list[Bookmark] = []
        p = ctx.views.bookmarks_panel
        p.jumpRequested.connect(self.go_to)
        p.addRequested.connect(self.add_dialog)
        p.removeRequested.connect(self.remove)

    def add(self, name: str) -> None:
        state = self.ctx.state
        if state.z is None:
            return
        state.commit()
        name = name.strip() or f"bookmark {len(self.items) + 1}"
        self.items.append(Bookmark(name, state.z.copy()))
        self.ctx.views.bookmarks_panel.set_bookmarks(self.items)
        self.ctx.views.bookmarks_dock.show()
        self.ctx.views.bookmarks_dock.raise_()
        self.ctx.message(f"bookmarked “{name}”", 3000)

    def add_dialog(self) -> None:
        state = self.ctx.state
        if state.z is None:
            return
        name, ok = QInputDialog.getText(self.ctx.window, "Bookmark current latent", "Name:",
                                        text=state.source or f"bookmark {len(self.items) + 1}")
        if ok:
            self.add(name)

    def set(self, bookmarks: list) -> None:
        self.items = list(bookmarks)
        self.ctx.views.bookmarks_panel.set_bookmarks(self.items)

    def remove(self, i: int) -> None:
        if 0 <= i < len(self.items):
            del self.items[i]
            self.ctx.views.bookmarks_panel.set_bookmarks(self.items)

    def go_to(self, i: int) -> None:
        s = self.ctx.models.summary
        if not (0 <= i < len(self.items)) or s is None:
            return
        b = self.items[i]
        if tuple(b.latent.shape) != tuple(s.latent_shape):
            self.ctx.error(f"bookmark “{b.name}” has latent shape {tuple(b.latent.shape)}; this model's is "
                           f"{tuple(s.latent_shape)}")
            return
        self.ctx.note(f"bookmark “{b.name}”")
        self.ctx.previews.set_latent(b.latent, f"bookmark {b.name}")
