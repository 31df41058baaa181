"""The user's own images, first-class: named by file everywhere; a new folder leaves nothing of the
previous images on screen; a model's own images come back on demand and with the model."""
import json

import numpy as np
import pytest
from PIL import Image

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built)


def folder(tmp_path, n=8):
    d = tmp_path / "pictures"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(d / f"sunset-{i}.png")
    return d


def wait_map(qtbot, win, source):
    qtbot.waitUntil(lambda: win.maps.data is not None and win.maps.data.source == source and win.maps.done,
                    timeout=30000)


def test_a_folder_is_named_by_file_and_replaces_everything_of_the_previous_images(qtbot, open_window, tmp_path):
    d = folder(tmp_path)
    win = open_window(map_limit=100)
    win.maps.select(3)
    win.morphs.make(3, 5)
    qtbot.waitUntil(lambda: win.views.morph.strip is not None, timeout=10000)
    win.maps.open_images(str(d))
    wait_map(qtbot, win, str(d))
    # nothing of the digits is left on screen
    assert win.maps.selected is None and win.views.recon.original.shown is None
    assert win.views.morph.strip is None and win.morphs.keys is None
    assert not np.any(win.state.z)
    # the images are named by their files: captions, history, morph titles
    i = 2
    name = win.maps.label(i)
    assert name.startswith("sunset-") and name.endswith(".png")
    win.maps.select(i)
    assert name in win.views.preview.caption.text()
    assert any(name in src for _, src in win.state.history.entries())
    win.morphs.make(0, 1)
    qtbot.waitUntil(lambda: win.views.morph.strip is not None, timeout=10000)
    assert win.maps.label(0) in win.views.morph.title.text()


def test_a_bundled_model_and_show_own_images_bring_the_dataset_back(qtbot, open_window, tmp_path):
    d = folder(tmp_path)
    win = open_window(map_limit=100)
    win.maps.open_images(str(d))
    wait_map(qtbot, win, str(d))
    win.maps.show_own_images()  # File → Show this model's own images
    wait_map(qtbot, win, None)
    assert win.maps.data.labels is not None  # the digits again
    win.maps.open_images(str(d))
    wait_map(qtbot, win, str(d))
    win.views.menus.model_actions["digits-2d"].trigger()  # File → Bundled model → digits-2d
    qtbot.waitUntil(lambda: win.models.summary.spec == "digits-2d" and win.maps.data is not None
                    and win.maps.done, timeout=30000)
    assert win.maps.data.source is None and win.maps.data.labels is not None


def test_a_model_trained_on_a_folder_opens_on_that_folder(qtbot, open_window, tmp_path, tiny_model_dir):
    import shutil

    d = folder(tmp_path)
    trained = tmp_path / "mine"
    shutil.copytree(tiny_model_dir, trained)
    metrics = json.loads((trained / "metrics.json").read_text()) if (trained / "metrics.json").exists() else {}
    metrics["data"] = str(d)
    (trained / "metrics.json").write_text(json.dumps(metrics))
    win = open_window(map_limit=100)
    win.models.load(str(trained), own_images=True)
    qtbot.waitUntil(lambda: win.models.summary.spec == str(trained) and win.maps.data is not None
                    and win.maps.done, timeout=30000)
    assert win.maps.data.source == str(d) and win.maps.label(0).startswith("sunset-")


def test_bookmarks_have_their_pictures(qtbot, open_window):
    win = open_window(map_limit=100)
    win.maps.select(4)
    qtbot.waitUntil(lambda: win.views.preview.image is not None and not win.worker.is_busy("preview"), timeout=10000)
    win.bookmarks.add("a four")
    item = win.views.bookmarks_panel.list.item(0)
    assert item.text() == "a four" and not item.icon().isNull()
    np.testing.assert_array_equal(win.bookmarks.thumbnails[0], win.views.preview.image)
    # bookmarks put back from a session get their pictures decoded
    from latent_explorer.core.session import Bookmark

    win.bookmarks.set([Bookmark("zero", np.zeros(16, np.float32)), Bookmark("one", np.ones(16, np.float32))])
    qtbot.waitUntil(lambda: len(win.bookmarks.thumbnails) == 2, timeout=10000)
    assert not win.views.bookmarks_panel.list.item(1).icon().isNull()
    win.bookmarks.remove(0)
    assert list(win.bookmarks.thumbnails) == [0] and win.views.bookmarks_panel.list.count() == 1


def test_a_small_set_is_drawn_as_its_pictures_and_a_large_one_when_zoomed_in(qtbot, open_window, tmp_path):
    d = folder(tmp_path)
    win = open_window(map_limit=300)
    m = win.views.map
    assert m.thumbs.shown == []  # 300 digits in view: dots
    x, y = (float(v) for v in win.maps.data.xy[0])
    m.vb.setRange(xRange=(x - 0.05, x + 0.05), yRange=(y - 0.05, y + 0.05), padding=0)
    assert 0 < len(m.thumbs.shown) <= 160 and 0 in m.thumbs.shown  # zoomed in: the pictures
    win.maps.open_images(str(d))
    wait_map(qtbot, win, str(d))
    assert sorted(m.thumbs.shown) == list(range(8))
    k = m.thumbs.shown.index(3)
    item = m.thumbs.pool[k]
    np.testing.assert_array_equal(item.image[::-1], win.maps.data.images[3][..., 0])  # upright
    rect = item.mapRectToView(item.boundingRect())
    assert rect.contains(pg_point(*win.maps.data.xy[3]))


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(float(x), float(y))


def test_exports_at_the_size_and_timing_asked_for_and_through_a_path(qtbot, open_window, tmp_path):
    from PIL import Image as PILImage

    from latent_explorer.core.export import read_png_recipe
    from latent_explorer.core.export_settings import ExportSettings

    win = open_window(map_limit=100)
    win.maps.select(2)
    qtbot.waitUntil(lambda: win.views.preview.image is not None and not win.worker.is_busy("preview"), timeout=10000)
    done = []
    win.exports.exported.connect(done.append)
    win.exports.save_preview(str(tmp_path / "p.png"), ExportSettings(scale=8, filter="nearest"))
    win.morphs.make(2, 7)
    qtbot.waitUntil(lambda: win.views.morph.strip is not None, timeout=10000)
    gif = ExportSettings(scale=4, fps=25, ease="ease-in-out", loop="ping-pong", frames=10)
    win.exports.export_morph(str(tmp_path / "m.gif"), settings=gif, close=True)
    qtbot.waitUntil(lambda: len(done) == 2, timeout=30000)
    img = np.asarray(PILImage.open(tmp_path / "p.png"))
    assert img.shape[:2] == (224, 224)
    assert read_png_recipe(tmp_path / "p.png")["export"]["scale"] == 8
    with PILImage.open(tmp_path / "m.gif") as g:
        assert g.size == (112, 112) and g.info["duration"] == 40
        assert g.n_frames == 2 * 10 - 2  # ping-pong
    sidecar = json.loads((tmp_path / "m.gif.json").read_text())
    keys = np.asarray(sidecar["keyframes"])
    assert len(keys) == 3 and np.allclose(keys[0], keys[-1])  # A → B → A
    assert sidecar["export"]["ease"] == "ease-in-out"


def test_file_dialogs_remember_the_last_folder(tmp_path, monkeypatch):
    from latent_explorer.gui import memory

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path / "data"))
    assert memory.last_folder() == ""
    memory._note_folder(str(tmp_path / "x.png"))
    assert memory.last_folder() == str(tmp_path)
