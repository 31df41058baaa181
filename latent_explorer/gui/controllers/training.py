"""The training controller: the Train a VAE dialog (Ctrl+T), whose finished model becomes the current one."""
from __future__ import annotations

from PySide6.QtCore import QObject

BUNDLED_DATA = ("mnist-5k", "shapes")


class TrainingController(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.dialog = None

    def open_dialog(self):
        from ..dialogs.train_dialog import TrainDialog

        if self.dialog is None:
            images = self.ctx.model.images
            s = self.ctx.model.summary
            self.dialog = TrainDialog(self.ctx.window, folder=images if isinstance(images, str) else None,
                                      devices=s.devices if s is not None else ["cpu"])
            self.dialog.trained.connect(self._on_trained)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def _on_trained(self, out: str, data: str) -> None:
        """A finished run: its model becomes the current one, its dataset fills the map."""
        self.ctx.commands.open_model(out)
        self.ctx.model.images = None if data in BUNDLED_DATA else data   # (mapped once it is loaded)

    def stop(self) -> None:
        if self.dialog is not None:
            self.dialog.shutdown()
