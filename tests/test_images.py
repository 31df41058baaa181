"""The robust image loader: the bad-image matrix, with every file made by the test."""
import io

import numpy as np
import pytest
from PIL import Image

from latent_explorer.core.data.images import load_folder, load_image
from latent_explorer.core.errors import Cancelled, ImageLoadError


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


@pytest.fixture
def matrix(tmp_path):
    """Every kind of file a user's folder may hold; name -> (path, expected outcome)."""
    d = tmp_path / "imgs"
    d.mkdir()
    rgb = Image.fromarray(np.tile(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], (24, 1, 3)))
    files = {}
    files["cmyk"] = _save(rgb.convert("CMYK"), d / "cmyk.jpg", quality=95)
    i16 = np.tile(np.linspace(0, 65535, 32).astype(np.uint16)[None, :], (24, 1))
    files["i16"] = _save(Image.fromarray(i16), d / "sixteen.png")
    pal = Image.new("P", (16, 16), 0)
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.paste(1, (0, 0, 8, 16))
    files["palette_transparent"] = _save(pal, d / "palette.png", transparency=0)
    files["la"] = _save(Image.new("LA", (10, 10), (100, 128)), d / "la.png")
    files["rgba"] = _save(Image.new("RGBA", (10, 10), (0, 0, 255, 0)), d / "rgba.png")
    exif_img = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    files["exif6"] = _save(exif_img, d / "rotated.jpg", exif=exif.tobytes())
    files["webp"] = _save(rgb, d / "photo.webp")
    files["tiny"] = _save(Image.new("RGB", (1, 1), (5, 6, 7)), d / "one.png")
    files["upper"] = _save(rgb, d / "UPPER.PNG")
    (d / "empty.png").write_bytes(b"")
    files["empty"] = d / "empty.png"
    buf = io.BytesIO()
    rgb.resize((256, 256)).save(buf, format="PNG")
    (d / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    files["truncated"] = d / "truncated.png"
    (d / "text.png").write_text("this is not an image")
    files["text"] = d / "text.png"
    # a decompression bomb: a tiny file that claims a gigantic size
    bomb = Image.new("1", (12_000, 12_000))
    files["bomb"] = _save(bomb, d / "bomb.png", optimize=True)
    buf = io.BytesIO()
    rgb.resize((128, 128)).save(buf, format="JPEG")
    jb = bytearray(buf.getvalue())
    for i in range(len(jb) // 3, len(jb) - 10, 7):
        jb[i] = 0xFF
    (d / "corrupt.jpg").write_bytes(bytes(jb[: len(jb) * 2 // 3]))
    files["corrupt_jpeg"] = d / "corrupt.jpg"
    (d / "notes.txt").write_text("not an image by extension: ignored")
    return d, files


GOOD = ["cmyk", "i16", "palette_transparent", "la", "rgba", "exif6", "webp", "tiny", "upper"]
BAD = {"empty": "empty file", "truncated": "", "text": "not an image", "bomb": "decompression bomb",
       "corrupt_jpeg": ""}


def test_good_files_load_as_uint8_rgb(matrix):
    _, files = matrix
    for name in GOOD:
        img = load_image(files[name])
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name


def test_sixteen_bit_is_scaled_not_clipped(matrix):
    img = load_image(matrix[1]["i16"])
    row = img[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert len(np.unique(row)) > 20  # a clip to 255 would flatten almost everything


def test_alpha_is_composited_on_the_background(matrix):
    _, files = matrix
    assert load_image(files["rgba"])[0, 0].tolist() == [255, 255, 255]  # transparent blue -> white
    assert load_image(files["rgba"], background=(0, 0, 0))[0, 0].tolist() == [0, 0, 0]
    pal = load_image(files["palette_transparent"])
    assert pal[0, 0].tolist() == [0, 255, 0] and pal[0, 15].tolist() == [255, 255, 255]
    la = load_image(files["la"])  # grey 100 at alpha 128 over white
    assert abs(int(la[0, 0, 0]) - round(100 * 128 / 255 + 255 * 127 / 255)) <= 1


def test_exif_orientation_is_applied(matrix):
    img = load_image(matrix[1]["exif6"])
    assert img.shape[:2] == (40, 20)


def test_cmyk_looks_like_the_original(matrix):
    img = load_image(matrix[1]["cmyk"])
    assert img[:, 0].mean() < 40 and img[:, -1].mean() > 200


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_raise_with_the_file_name(matrix, name):
    path = matrix[1][name]
    with pytest.raises(ImageLoadError) as e:
        load_image(path)
    assert str(path) in str(e.value) and BAD[name] in str(e.value)


def test_folder_import_skips_and_reports_each_bad_file(matrix):
    d, files = matrix
    res = load_folder(d, (28, 28), 3)
    loaded = {p.name for p in res.paths}
    assert loaded == {files[n].name for n in GOOD}
    skipped = {p.name: why for p, why in res.skipped}
    assert set(skipped) == {files[n].name for n in BAD}
    assert all(skipped.values())
    assert "notes.txt" not in loaded | set(skipped)
    assert res.images.shape == (len(GOOD), 28, 28, 3)


def test_large_folder_scan_is_lazy_and_cancellable(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    png = io.BytesIO()
    Image.new("L", (4, 4)).save(png, format="PNG")
    for i in range(10_000):
        (d / f"{i:05d}.png").write_bytes(png.getvalue())
    seen = []

    def progress(i, n):
        seen.append(i)

    stop_after = {"n": 0}

    def should_stop():
        stop_after["n"] += 1
        return len(seen) >= 500

    with pytest.raises(Cancelled):
        load_folder(d, (8, 8), 1, progress=progress, should_stop=should_stop)
    # it stops at once: one progress per image up to the 500th, one should_stop per scanned entry
    # and per image, and nothing read after the stop
    assert seen == list(range(1, 501))
    assert stop_after["n"] == 10_000 + 501
