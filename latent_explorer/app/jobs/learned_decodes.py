"""Full decodes of the map's latents, made while the worker is idle, as targets for the learned preview.

The learned preview (``learned.py``) stands in for the full decode, but it is first fitted on
the map's *images*, and the full decode of an image's latent is not the image (the VAE's
reconstruction error). So once that fit is over, the app fully decodes some of the map's latents
in the background and fits again on (latent, full decode) pairs alone (``pairs``;
``learned.fit_chunk(..., targets="decodes")``, from the installed preview's weights): measured on ``photos-sd`` (``bench/preview_quality.py``),
mixing the decodes with the images they replace did worse than the decodes alone.

Request kind ``learn-decode`` (``app/requests.py``): coalesce, rank 15, the lowest of all.
``decode_chunk`` is one request: it decodes the next latent of ``DecodeTargets.order`` (and more,
one by one, while it has taken under ``CHUNK_S`` and nothing else waits) on one torch thread.
It *yields*: between the decoder's layers (``tiers.interruptible``), and between bands of one
large convolution or attention (``banded.py``), it looks whether any other request waits, and
if one does it drops the decode it is in and returns (``yielded``); nothing runs nested inside
it, so the next requests find the worker free. A slider preview waits for a background decode
at most one band of one layer: ``bench/diffusers_overhead.py --yield-gap`` measures the worst
gap on the Stable Diffusion VAE architecture (one CPU thread). The GUI asks for the next chunk
only when the user has left the worker idle for a while.

- the decodes are capped (``MAX_DECODES``, and ``MAX_BYTES`` of images): memory stays bounded;
- a chunk for other weights or another working size than its ``DecodeTargets``, or once a TAESD
  is paired, reports ``stopped`` (this work is of no use) and the GUI drops the targets;
- the latents are taken in a seeded random order, so the decodes sample the whole map.
No Qt.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .learned import CHUNK_S, supports

KIND = "learn-decode"
#: at most this many full decodes are kept as targets (each is one image at the working size)
MAX_DECODES = 64
#: and at most this many bytes of them (64 decodes up to 580 px)
MAX_BYTES = 64 * 2 ** 20


class Yielded(Exception):
    """Raised between the decoder's layers when another request waits: the decode is dropped."""


@dataclass
class DecodeTargets:
    """The decodes made so far (touched on the worker only) and what they are for."""

    latent_shape: tuple
    order: list                                   # map indices to decode, in this order
    model_hash: str = ""                          # the weights decoded with (set by the first chunk)
    images: dict = field(default_factory=dict)    # map index -> uint8 H×W×3 full decode
    seconds: float = 0.0                          # time spent in decodes that were kept
    dropped_s: float = 0.0                        # time spent in decodes dropped by a yield
    yields: int = 0

    @property
    def done(self) -> bool:
        return len(self.images) >= len(self.order)

    def next_index(self) -> int | None:
        return next((i for i in self.order if i not in self.images), None)


@dataclass
class DecodeReport:
    decoded: int                 # decodes made so far
    total: int                   # decodes planned (the cap)
    done: bool
    yielded: bool = False        # stopped because another request waited
    seconds: float = 0.0         # time spent decoding so far (kept decodes)
    stopped: bool = False        # the model no longer takes these decodes: drop them


def cap(n_pairs: int, image_shape: tuple, max_decodes: int | None = None, max_bytes: int | None = None) -> int:
    """How many of ``n_pairs`` latents to decode: ≤ ``MAX_DECODES`` and ≤ ``MAX_BYTES`` of images."""
    max_decodes = MAX_DECODES if max_decodes is None else max_decodes
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    per_image = int(np.prod(image_shape)) * 3
    return int(max(0, min(n_pairs, max_decodes, max_bytes // max(per_image, 1))))


def plan(n_pairs: int, count: int, seed: int = 0) -> list[int]:
    """``count`` of ``n_pairs`` map indices to decode, in a seeded random order."""
    return [int(i) for i in np.random.default_rng(seed).permutation(n_pairs)[:count]]


def pairs(targets: DecodeTargets, latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (latents, full decodes) made so far, in the planned order: what the refit learns from."""
    idx = [i for i in targets.order if i in targets.images]
    return np.asarray(latents, np.float32)[idx], np.stack([targets.images[i] for i in idx])


def new_targets(latents: np.ndarray, image_shape: tuple, max_decodes: int | None = None) -> DecodeTargets:
    """What to decode of the map's ``latents`` (their images are ``image_shape`` H×W): no model needed."""
    n = cap(len(latents), tuple(image_shape)[:2], max_decodes)
    return DecodeTargets(tuple(np.shape(latents)[1:]), plan(len(latents), n))


def _look(ctx) -> None:
    """Between two layers (or two bands of one): stop if cancelled, give way if anything waits.
    Nothing is served from here (nothing runs nested in a background decode): the decode returns
    and the worker runs the waiting request next, with no decode left to finish after it."""
    from ...core.errors import Cancelled

    if ctx.cancelled:
        raise Cancelled()
    if ctx.waiting():
        raise Yielded()


class _Yielding:
    """A ``ctx`` for ``tiers.interruptible`` whose checkpoint gives way to any waiting request."""

    def __init__(self, ctx):
        self._ctx = ctx

    def checkpoint(self) -> None:
        _look(self._ctx)


def decode_chunk(ctx, targets: DecodeTargets, latents: np.ndarray, seconds: float = CHUNK_S,
                 count: int | None = None) -> DecodeReport:
    """Fully decode the next planned latent(s) into ``targets`` (``count``: exactly that many, for tests).
    ``stopped`` when the model no longer takes these decodes (other weights or working size, a
    paired TAESD): the caller drops them."""
    from . import tiers
    from .banded import banded

    model = ctx.model
    if not targets.model_hash and supports(model):
        targets.model_hash = model.weights_hash()
    if not supports(model) or targets.model_hash != model.weights_hash() \
            or tuple(targets.latent_shape) != tuple(model.latent_shape):
        return DecodeReport(len(targets.images), len(targets.order), False, stopped=True)
    t0, made = time.perf_counter(), 0
    yielded = False
    while not targets.done and (made == 0 or (count is not None and made < count)
                                or (count is None and time.perf_counter() - t0 < seconds)):
        i = targets.next_index()
        t1 = time.perf_counter()
        try:
            _look(ctx)
            with tiers.interruptible(_Yielding(ctx), every_s=tiers.CHECK_EVERY_S), banded(lambda: _look(ctx)):
                image = model.decode(np.asarray(latents[i:i + 1], np.float32), batch_size=1)[0]
        except Yielded:
            targets.dropped_s += time.perf_counter() - t1
            yielded = True
            break
        targets.images[i] = np.ascontiguousarray(image, np.uint8)
        targets.seconds += time.perf_counter() - t1
        made += 1
    if yielded:
        targets.yields += 1
    return DecodeReport(len(targets.images), len(targets.order), targets.done, yielded, targets.seconds)
