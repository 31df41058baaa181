"""The compare controller: the Compare models dialog and the worker that owns the models it compares.

The window's worker owns the window's model; comparing loads other models, so they live on a
worker of their own (``compare`` requests; its ``cache`` holds the loaded models), like the
projector that runs t-SNE. The image compared is the selected one (else the first on the map);
the maps are drawn from a fixed random sample of 500 images on the map.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from ...app.jobs import compare as compare_jobs

MAP_SAMPLE = 500


class CompareController(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.dialog = None
        self.worker = None
        self.cache: dict = {}    # spec -> loaded model (used on the compare worker only)
        self.results = None

    def open_dialog(self):
        from ...core.session import data_dir
        from ..dialogs.compare import CompareDialog
        from ..worker import DecodeWorker

        c = self.ctx
        if self.worker is None:
            self.worker = DecodeWorker(self, torch_threads=1)
            self.worker.start()
        if self.dialog is None:
            self.dialog = CompareDialog(c.window)
            self.dialog.selectionChanged.connect(self.compare)
        current = c.model.summary.spec if c.model.summary is not None else ""
        points = compare_jobs.rate_distortion_points(data_dir() / "models")
        two_d = {p.spec for p in points if p.latent_dim == 2}
        self.dialog.set_points(points, current, lambda p: p.spec in two_d or p.spec == current)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def compare(self) -> int:
        d, maps = self.dialog, self.ctx.model
        if d is None or maps.map is None:
            return -1
        i = maps.selected if maps.selected is not None else 0
        image = maps.map.images[i]
        n = len(maps.map.images)  # a fixed random sample: the map's images may be sorted by label
        idx = np.sort(np.random.default_rng(0).choice(n, min(MAP_SAMPLE, n), replace=False))
        sample = maps.map.images[idx]
        labels = None if maps.map.labels is None else maps.map.labels[idx]
        points = d.checked()
        d.status.setText(f"comparing {len(points)} model(s) on image {maps.label(i)}…")
        return self.worker.submit("compare", compare_jobs.compare, points, image, sample, labels, self.cache,
                                  on_result=lambda r: self._on_result(image, r),
                                  on_error=lambda f: d.status.setText(f"could not compare: {f.message}"))

    def _on_result(self, image, results) -> None:
        self.results = results
        self.dialog.set_comparisons(image, results)
        self.dialog.status.setText(f"{len(results)} model(s) compared · lower left on the plane is better: "
                                   "β trades rate against distortion")

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(500)
        if self.dialog is not None:
            self.dialog.close()
