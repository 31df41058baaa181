"""The bookmarks controller: named latents to come back to (Ctrl+D), listed with their pictures in
the Bookmarks dock. A bookmark made now takes the preview on screen as its picture; bookmarks
from a session are decoded once (a "figure" request) to get theirs."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from ...core.session import Bookmark


def _decode_all(ctx, latents: list) -> list:
    """Each latent's decode (one uint8 image each), for the bookmarks' pictures."""
    return [ctx.model.decode(np.asarray(z, np.float32)[None])[0] for z in latents]


class BookmarkController(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.thumbnails: dict[int, np.ndarray] = {}
        self._mine = ()   # the tuple this controller last gave the model (its own change: no reload)
        ctx.model.events.bookmarks.connect(self._on_bookmarks)
        p = ctx.views.bookmarks_panel
        p.jumpRequested.connect(self.go_to)
        p.addRequested.connect(self.add_dialog)
        p.removeRequested.connect(self.remove)

    @property
    def items(self) -> list:
        """The bookmarks (``model.bookmarks``)."""
        return list(self.ctx.model.bookmarks)

    def _publish(self, items) -> None:
        self._mine = tuple(items)
        self.ctx.model.bookmarks = self._mine

    def _on_bookmarks(self, items) -> None:
        if items is not self._mine:  # set from elsewhere (a session, a script): list them anew
            self._load(list(items))

    def _show(self) -> None:
        self.ctx.views.bookmarks_panel.set_bookmarks(self.items, self.thumbnails)

    def add(self, name: str) -> None:
        state = self.ctx.state
        if state.z is None:
            return
        state.commit()
        name = name.strip() or f"bookmark {len(self.items) + 1}"
        self._publish(self.items + [Bookmark(name, state.z.copy())])
        image = self.ctx.drawn.preview_image
        if image is not None:
            self.thumbnails[len(self.items) - 1] = image.copy()
        self._show()
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
        """Bookmarks from a session: listed at once, their pictures decoded on the worker."""
        self.ctx.model.bookmarks = tuple(bookmarks)

    def _load(self, bookmarks: list) -> None:
        self._mine = tuple(bookmarks)
        self.thumbnails = {}
        self._show()
        if self.items and self.ctx.model.summary is not None:
            items = list(self.items)
            self.ctx.worker.submit("figure", _decode_all, [b.latent for b in items],
                                   on_result=lambda imgs: self._on_thumbnails(items, imgs))

    def _on_thumbnails(self, items: list, images: list) -> None:
        """Pictures for the bookmarks that are still there (by identity: added or removed meanwhile)."""
        for i, b in enumerate(self.items):
            k = next((j for j, a in enumerate(items) if a is b), None)
            if k is not None:
                self.thumbnails[i] = images[k]
        self._show()

    def remove(self, i: int) -> None:
        if 0 <= i < len(self.items):
            items = self.items
            del items[i]
            self._publish(items)
            self.thumbnails = {k - (k > i): v for k, v in self.thumbnails.items() if k != i}
            self._show()

    def go_to(self, i: int) -> None:
        s = self.ctx.model.summary
        if not (0 <= i < len(self.items)) or s is None:
            return
        b = self.items[i]
        if tuple(b.latent.shape) != tuple(s.latent_shape):
            self.ctx.error(f"bookmark “{b.name}” has latent shape {tuple(b.latent.shape)}; this model's is "
                           f"{tuple(s.latent_shape)}")
            return
        self.ctx.note(f"bookmark “{b.name}”")
        self.ctx.state.set(b.latent, f"bookmark {b.name}")
