"""Image loading on many threads never touches process-global Pillow or warnings state.

``Image.MAX_IMAGE_PIXELS`` and the ``warnings`` filters belong to the whole process (and
``warnings.catch_warnings`` swaps the filter list for every thread): a loader that changes them,
even briefly, races with every other thread. The decompression-bomb check still refuses a PNG
whose header claims 30000×30000 pixels, with its reason, and Pillow's own bomb warning never
fires for a file between its limit and twice that.
"""
import io
import struct
import threading
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from latent_explorer.core.data import images as images_mod
from latent_explorer.core.data.images import load_files, load_image
from latent_explorer.core.errors import ImageLoadError


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height RGB pixels (its data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    out = []
    for name, kw in (("a.png", {}), ("b.jpg", {"quality": 90}), ("c.gif", {}), ("d.webp", {}), ("e.bmp", {}),
                     ("f.tiff", {})):
        rgb.save(tmp_path / name, **kw)
        out.append(tmp_path / name)
    Image.fromarray(np.arange(480, dtype=np.uint16).reshape(20, 24) * 100).save(tmp_path / "g16.png")
    out.append(tmp_path / "g16.png")
    (tmp_path / "bomb.png").write_bytes(png_claiming(30000, 30000))
    (tmp_path / "text.png").write_text("not an image")
    return out, [tmp_path / "bomb.png", tmp_path / "text.png"]


def test_a_header_claiming_30000_squared_is_skipped_with_its_reason(files, tmp_path):
    good, (bomb, text) = files
    with pytest.raises(ImageLoadError, match="30000×30000 pixels is a decompression bomb"):
        load_image(bomb)
    res = load_files(good + [bomb, text], (16, 16), 3)
    assert len(res.paths) == len(good)
    reasons = dict(res.skipped)
    assert "decompression bomb" in reasons[bomb] and "not an image" in reasons[text]


def test_between_pillows_limit_and_twice_it_no_warning_fires(tmp_path):
    p = tmp_path / "big.png"
    p.write_bytes(png_claiming(10000, 10000))  # 10⁸ px: Image.open would warn here
    with warnings.catch_warnings(record=True) as seen:  # the test's own, on one thread
        warnings.simplefilter("always")
        with pytest.raises(ImageLoadError, match="decompression bomb"):
            load_image(p)
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]


def test_the_loader_leaves_global_state_alone_even_while_it_decodes(files, monkeypatch):
    """Deterministic: at every decode, the globals are as the test set them."""
    good, bad = files
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 123_456_789)
    filters, snapshot = warnings.filters, list(warnings.filters)
    seen = []
    real_load = ImageFile.ImageFile.load

    def watched_load(self):
        seen.append((Image.MAX_IMAGE_PIXELS, warnings.filters is filters, list(warnings.filters) == snapshot))
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", watched_load)
    calls = []
    for name in ("catch_warnings", "simplefilter", "filterwarnings", "resetwarnings"):
        real = getattr(warnings, name)
        monkeypatch.setattr(warnings, name, lambda *a, _n=name, _r=real, **k: (calls.append(_n), _r(*a, **k))[1])
    load_files(good + bad, (16, 16), 3)
    assert seen and all(s == (123_456_789, True, True) for s in seen), seen[:3]
    assert calls == []


def test_many_threads_at_once(files, monkeypatch):
    good, bad = files
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 123_456_789)
    filters, snapshot = warnings.filters, list(warnings.filters)
    stop, changes, errors = threading.Event(), [], []

    def watch():
        while not stop.is_set():
            if Image.MAX_IMAGE_PIXELS != 123_456_789 or warnings.filters is not filters:
                changes.append((Image.MAX_IMAGE_PIXELS, warnings.filters is filters))

    expected = {p: load_image(p) for p in good}

    def work():
        try:
            for _ in range(15):
                res = load_files(good + bad, (16, 16), 3)
                assert len(res.paths) == len(good) and len(res.skipped) == len(bad)
                for p in good:
                    assert np.array_equal(load_image(p), expected[p])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [threading.Thread(target=work) for _ in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    stop.set()
    watcher.join()
    assert not errors, errors[:3]
    assert not changes, changes[:3]
    assert Image.MAX_IMAGE_PIXELS == 123_456_789 and warnings.filters is filters and warnings.filters == snapshot


def test_the_loader_works_whatever_the_global_limit(files, monkeypatch):
    good, (bomb, _) = files
    for limit in (None, 10):  # someone else switched Pillow's check off, or set it absurdly low
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        assert load_image(good[0]).shape == (20, 24, 3)
        with pytest.raises(ImageLoadError, match="decompression bomb"):
            load_image(bomb)


def test_identification_matches_pillow(tmp_path):
    buf = io.BytesIO()
    Image.new("P", (5, 3)).save(buf, format="GIF")
    (tmp_path / "x.png").write_bytes(buf.getvalue())  # a GIF named .png
    assert load_image(tmp_path / "x.png").shape == (3, 5, 3)
    (tmp_path / "y.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # a PNG signature, no header
    with pytest.raises(ImageLoadError, match="y.png"):
        load_image(tmp_path / "y.png")
    assert images_mod.MAX_PIXELS == 89_478_485
