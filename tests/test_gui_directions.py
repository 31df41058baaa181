"""Attribute directions in the app (issue 12 §1): groups from a lasso drawn on the map, labels, pins,
bookmarks and folders; a direction becomes a slider of its own; several move at once; another image
starts again from 0; directions export as JSON, import back, and survive a session."""
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, Qt

from gui_fixtures import qt_leak_guard, send_mouse, view_to_viewport, window_opener  # noqa: F401
from test_gui_spatial import kl_folder  # noqa: F401  (the tiny diffusers VAE and its images)


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built)


def _make(qtbot, win, side_a, side_b, method="mean", name=""):
    c = win.ctx.directions
    c.set_group("from", *side_a)
    c.set_group("to", *side_b)
    n = len(c.directions)
    c.make(method, name)
    qtbot.waitUntil(lambda: len(c.directions) == n + 1, timeout=20000)
    return c.directions[-1]


def test_a_lasso_drawn_on_the_map_selects_the_points_inside(qtbot, open_window):
    from latent_explorer.gui.widgets.map_lasso import points_in_polygon

    win = open_window(map_limit=300)
    c, m = win.ctx.directions, win.views.map
    win.ctx.directions.panel.lasso_button.click()  # armed: a plain drag draws the lasso
    vp = m.plot.viewport()

    def where():  # what maps data to pixels: the map's points, its view range, the viewport's size
        return id(m.xy), np.round(np.array(m.plot.getPlotItem().vb.viewRange()), 9).tolist(), vp.size().toTuple()

    for _attempt in range(5):  # the window may still lay itself out (a dock, a banner): draw again then
        before, xy = where(), m.xy
        (x0, x1), (y0, y1) = np.percentile(xy[:, 0], [20, 60]), np.percentile(xy[:, 1], [20, 60])
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        pts = [view_to_viewport(m, x, y) for x, y in corners]
        send_mouse(vp, QEvent.Type.MouseButtonPress, pts[0])
        for a, b in zip(pts, pts[1:]):
            for t in np.linspace(0.1, 1, 6):
                p = QPoint(round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t))
                send_mouse(vp, QEvent.Type.MouseMove, p, button=Qt.MouseButton.NoButton)
                qtbot.wait(5)
        send_mouse(vp, QEvent.Type.MouseButtonRelease, pts[-1], buttons=Qt.MouseButton.NoButton)
        if where() == before:
            break
        if not c.panel.lasso_button.isChecked():
            c.panel.lasso_button.click()
    assert where() == before, "the map's view kept changing while the lasso was drawn"
    inside = set(np.flatnonzero((xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1)).tolist())
    got = set(c.lasso.indices)
    assert len(got) > 10
    assert len(got ^ inside) <= 3  # the drawn polygon is the rectangle, to the pixel
    assert c.panel.lasso_count == len(got) and "lassoed" in c.panel.lasso_label.text()
    assert win.state.selected is None  # drawing selected no image and made no morph
    assert win.morphs.keys is None
    tri = np.array([[0, 0], [4, 0], [0, 4]])
    assert points_in_polygon(np.array([[1, 1], [3, 3], [-1, 0.5]]), tri).tolist() == [0]


def test_label_groups_make_a_slider_that_moves_any_image(qtbot, open_window):
    from latent_explorer.app.jobs import attributes as attr_jobs

    win = open_window(map_limit=1200)  # digits 0, 1 and 2
    c, d = win.ctx.directions, win.maps.data
    v = _make(qtbot, win, ("label", 0), ("label", 1))
    np.testing.assert_allclose(v.vector, d.mean[d.labels == 1].mean(0) - d.mean[d.labels == 0].mean(0), atol=1e-5)
    assert v.name.startswith("label 0") and "label 1" in v.name
    sliders = win.views.user_directions
    assert sliders.isVisible() and len(sliders.rows) == 1
    zero = int(np.flatnonzero(d.labels == 0)[3])
    win.maps.select(zero)
    qtbot.waitUntil(lambda: win.state.selected == zero, timeout=10000)
    base = win.state.z.copy()
    model = win.worker._model
    # the row's strip shows the image on screen at strengths −2 … 2 (its middle: the image itself)
    qtbot.waitUntil(lambda: c._strips_for is not None and np.array_equal(c._strips_for[0], base)
                    and not win.worker.is_busy("attribute-strips") and not sliders.rows[0].strip.pixmap().isNull(),
                    timeout=10000)
    got = []
    win.worker.submit("attribute-strips", attr_jobs.strips, base, [v.vector], on_result=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=10000)
    np.testing.assert_array_equal(got[0][0, 3], model.decode(base[None])[0])
    np.testing.assert_array_equal(got[0][0, 5], model.decode((base + v.vector)[None])[0])
    sliders.rows[0].slider.setValue(1.0)
    np.testing.assert_allclose(win.state.z, base + v.vector, atol=1e-5)
    want = model.decode((base + v.vector)[None])[0]
    qtbot.waitUntil(lambda: win.views.preview.image is not None and np.array_equal(win.views.preview.image, want),
                    timeout=10000)
    # a second direction at the same time
    w = _make(qtbot, win, ("label", 1), ("label", 2), method="classifier", name="1 → 2")
    assert w.name == "1 → 2" and w.method == "classifier"
    sliders.rows[0].slider.setValue(0.5)
    sliders.rows[1].slider.setValue(-1.0)
    np.testing.assert_allclose(win.state.z, base + 0.5 * v.vector - 1.0 * w.vector, atol=1e-5)
    # the gesture is one undo step back to the image as it was
    win.ctx.state.commit()
    win.previews.undo()
    np.testing.assert_allclose(win.state.z, base, atol=1e-6)
    assert sliders.strengths() == [0.0, 0.0]
    # another image: the directions now apply to it, from 0
    other = int(np.flatnonzero(d.labels == 2)[0])
    win.maps.select(other)
    qtbot.waitUntil(lambda: win.state.selected == other, timeout=10000)
    sliders.rows[1].slider.setValue(1.0)
    np.testing.assert_allclose(win.state.z, d.mean[other] + w.vector, atol=1e-5)


def test_pins_bookmarks_and_a_folder_as_groups(qtbot, open_window, tmp_path):
    from PIL import Image

    from latent_explorer.core.data.datasets import load_mnist_5k

    win = open_window(map_limit=300)
    c, d = win.ctx.directions, win.maps.data
    assert c.set_group("from", "pins") == 0 and c.groups["from"] is None  # nothing pinned: said, not done
    assert "pinned" in c.panel.status.text()
    for i in (1, 5, 9):
        win.views.map.toggle_pin(i)
    c.set_group("from", "pins")
    np.testing.assert_array_equal(c.groups["from"].latents, d.mean[[1, 5, 9]])
    win.maps.select(20)
    qtbot.waitUntil(lambda: win.state.selected == 20, timeout=10000)
    win.bookmarks.add("twenty")
    c.set_group("to", "bookmarks")
    assert c.groups["to"].text.startswith("1 bookmarks") or "twenty" in c.groups["to"].text
    ones = load_mnist_5k("train")
    folder = tmp_path / "ones"
    folder.mkdir()
    for k, img in enumerate(ones.images[ones.labels == 1][:6]):
        Image.fromarray(img[..., 0]).save(folder / f"{k}.png")
    rid = c.set_group("to", "folder", str(folder))
    assert rid > 0
    qtbot.waitUntil(lambda: c.groups["to"] is not None and c.groups["to"].source == str(folder), timeout=20000)
    assert len(c.groups["to"]) == 6 and "6 images" in c.groups["to"].text
    assert c.panel.make_button.isEnabled()
    v = _make(qtbot, win, ("pins", None), ("folder", str(folder)), name="pins → ones")
    assert v.recipe["to"] == str(folder) and v.recipe["from"].startswith("pins:") and v.recipe["model_hash"]


def test_directions_export_import_and_survive_a_session(qtbot, open_window, tmp_path):
    from latent_explorer.core.latent.attributes import Direction

    win = open_window(map_limit=1200)
    c = win.ctx.directions
    v = _make(qtbot, win, ("label", 0), ("label", 2), name="zero to two")
    path = c.export(0, str(tmp_path / "zero-two.json"))
    back = Direction.from_json((tmp_path / "zero-two.json").read_text(), (16,))
    np.testing.assert_array_equal(back.vector, v.vector)
    assert back.recipe["from"] == "label:0" and back.recipe["model"] == "digits"
    assert c.import_file(path) and len(c.directions) == 2
    (tmp_path / "bad.json").write_text('{"kind": "direction", "name": "x", "latent_shape": [3], "vector": [1, 2, 3]}')
    errors = []
    win.ctx.errorShown.connect(errors.append)
    assert not c.import_file(str(tmp_path / "bad.json"))
    assert "this model's are (16,)" in errors[-1] and len(c.directions) == 2
    win.views.user_directions.rows[0].slider.setValue(0.75)
    session = win.sessions.save(str(tmp_path / "s.lexplore"))
    win2 = open_window(map_limit=1200)
    win2.sessions.open(session)
    qtbot.waitUntil(lambda: len(win2.ctx.directions.directions) == 2, timeout=30000)
    restored = win2.ctx.directions.directions
    assert [x.name for x in restored] == ["zero to two", "zero to two"]
    np.testing.assert_array_equal(restored[0].vector, v.vector)
    assert restored[0].recipe["from_text"].startswith("label 0")
    assert len(win2.views.user_directions.rows) == 2
    np.testing.assert_allclose(win2.state.z, win.state.z, atol=1e-6)  # the moved latent itself came back
    # and the sliders where they were: moving one goes on from there, about the same image as before
    assert win2.views.user_directions.strengths() == pytest.approx([0.75, 0.0])
    win2.views.user_directions.rows[0].slider.setValue(0.0)
    np.testing.assert_allclose(win2.state.z, win.state.z - 0.75 * v.vector, atol=1e-5)



def test_directions_on_a_spatial_latent_model(qtbot, open_window, kl_folder):  # noqa: F811
    """A diffusers VAE (tiny, random weights; C×h×w latents): a direction between two groups of pinned
    images moves the whole spatial latent, and the principal-direction sliders follow it."""
    win = open_window(model=str(kl_folder / "vae"), images=str(kl_folder / "images"), autosave=False, size=16)
    qtbot.waitUntil(lambda: bool(win.views.spatial.direction_rows), timeout=30000)
    c, d, m = win.ctx.directions, win.maps.data, win.views.map
    for side, pins in (("from", (0, 1, 2)), ("to", (5, 6, 7))):
        m.clear_pins()
        for i in pins:
            m.toggle_pin(i)
        c.set_group(side, "pins")
    c.make("mean", "a → b")
    qtbot.waitUntil(lambda: len(c.directions) == 1, timeout=20000)
    v = c.directions[0]
    assert v.latent_shape == (4, 8, 8)
    np.testing.assert_allclose(v.vector, d.mean[[5, 6, 7]].mean(0) - d.mean[[0, 1, 2]].mean(0), atol=1e-5)
    win.maps.select(3)
    qtbot.waitUntil(lambda: win.state.selected == 3, timeout=10000)
    win.views.user_directions.rows[0].slider.setValue(1.0)
    np.testing.assert_allclose(win.state.z, d.mean[3] + v.vector, atol=1e-5)
    np.testing.assert_allclose(win.views.spatial.latent(), win.state.z, atol=1e-5)


def test_stale_groups_lassos_and_directions_are_refused(qtbot, open_window, tmp_path):
    """A lasso on other images, a bookmark or a direction of another model's shape, a direction asked
    for while a model loads: each is left out or refused in words, never applied."""
    from PIL import Image

    from latent_explorer.core.latent.attributes import Direction

    win = open_window(map_limit=300)
    c = win.ctx.directions
    c.lasso.select([0, 1, 2, 3])
    win.maps.set_projection("identity" if win.maps.data.mean.shape[1] == 2 else "pca")
    # the same images: the lasso stays; another folder's images: it is cleared
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k in range(5):
        Image.fromarray(np.full((28, 28), 40 * k, np.uint8)).save(folder / f"{k}.png")
    kinds = []
    win.worker.progress.connect(lambda kind, *a: kinds.append(kind))
    c.set_group("from", "folder", str(folder))
    qtbot.waitUntil(lambda: c.groups["from"] is not None, timeout=20000)
    assert "attribute" in kinds  # the folder's encode reported its progress
    before = win.maps.data
    win.maps.open_images(str(folder))
    qtbot.waitUntil(lambda: win.maps.data is not before and win.maps.data is not None, timeout=20000)
    assert c.lasso.indices == [] and c.panel.lasso_count == 0
    # counts are fresh whenever a "Set from" menu opens
    win.bookmarks.add("one")
    c.panel.groups["to"]._fill_menu()
    bookmarks = [a for a in c.panel.groups["to"].menu.actions() if a.text().startswith("Bookmarks")][0]
    assert bookmarks.text() == "Bookmarks (1)" and bookmarks.isEnabled()
    # a direction of another shape is left out; so is a bookmark of another model
    c.add(Direction("elsewhere", np.ones(2, np.float32)))
    assert not c.directions and "left out" in c.panel.status.text()
    win.bookmarks.items.append(type(win.bookmarks.items[0])("2-d", np.zeros(2, np.float32)))
    c.set_group("to", "bookmarks")
    assert len(c.groups["to"]) == 1
    # while a model loads, nothing is made
    win.models.load("digits-2d")
    assert c.make() == -1 and "loading" in c.panel.status.text()
    assert c.set_group("from", "pins") == 0 and "loading" in c.panel.status.text()
    qtbot.waitUntil(lambda: not win.models.is_loading and win.models.summary.spec == "digits-2d", timeout=30000)
    assert c.groups == {"from": None, "to": None} and not c.directions
