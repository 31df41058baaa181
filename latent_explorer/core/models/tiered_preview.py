"""Tiered previews for slow decoders: an approximate frame at once, the full decode on a pause.

``TieredPreview.request(z, request_id)`` returns the approximate frame straight away (a few
ms) and remembers ``z`` as the newest wish. A background thread waits until requests stop
for ``pause_s``, then decodes only the newest one with the real decoder; a result that has
gone stale while decoding (a newer request arrived) is dropped, never shown. Headless (no Qt):
``on_final`` runs on the background thread, so a GUI hands it to its own thread.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class PreviewFrame:
    request_id: int
    image: np.ndarray  # uint8 H×W×C
    final: bool  # False: the approximate preview; True: the real decoder's output
    ms: float  # how long producing it took


class TieredPreview:
    def __init__(self, model, on_final: Callable[[PreviewFrame], None], pause_s: float = 0.3,
                 on_error: Callable[[int, Exception], None] | None = None):
        self.model = model
        self.on_final = on_final
        self.on_error = on_error
        self.pause_s = pause_s
        self._cv = threading.Condition()
        self._pending: tuple[int, np.ndarray, float] | None = None
        self._newest_id: int | None = None
        self._closed = False
        self.decodes = 0  # full decodes started (for tests and status lines)
        self._thread = threading.Thread(target=self._run, name="full-decode", daemon=True)
        self._thread.start()

    def request(self, z: np.ndarray, request_id: int) -> PreviewFrame:
        """The approximate frame for latent ``z`` (shape latent_shape), now; the final one follows."""
        t = time.perf_counter()
        image = self.model.approx_decode(np.asarray(z, np.float32)[None])[0]
        frame = PreviewFrame(request_id, image, False, (time.perf_counter() - t) * 1e3)
        with self._cv:
            self._pending = (request_id, np.array(z, np.float32), time.perf_counter())
            self._newest_id = request_id
            self._cv.notify()
        return frame

    def close(self, timeout: float | None = 5.0) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._pending is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                # debounce: wait until the newest request is pause_s old (new requests reset it)
                while not self._closed and (wait := self._pending[2] + self.pause_s - time.perf_counter()) > 0:
                    self._cv.wait(wait)
                if self._closed:
                    return
                request_id, z, _ = self._pending
                self._pending = None
            t = time.perf_counter()
            self.decodes += 1
            try:
                image = self.model.decode(z[None])[0]
            except Exception as e:  # the approximate frame stays on screen; say why no final one came
                if self.on_error is not None:
                    self.on_error(request_id, e)
                continue
            with self._cv:
                stale = self._newest_id != request_id or self._closed
            if not stale:
                self.on_final(PreviewFrame(request_id, image, True, (time.perf_counter() - t) * 1e3))
