"""The window under two things at once: exports back to back, settings changed together, a device
switch while loading, map generations, a 10,000-change slider soak, malformed sessions."""
import tracemalloc

import numpy as np
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

from latent_explorer.core.export import read_png_recipe


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.previews.first_preview_at is not None)


def idle(qtbot, win):
    qtbot.waitUntil(lambda: win.worker.pending_count() == 0 and not any(
        win.worker.is_busy(k) for k in ("preview", "map", "export", "traversal", "strip", "recon")), timeout=30000)


def test_exports_issued_back_to_back_are_all_written_with_their_recipes(qtbot, open_window, tmp_path):
    win = open_window(map_limit=200)
    win.maps.select(1)
    idle(qtbot, win)
    written, failed = [], []
    win.exports.exported.connect(written.append)
    win.exports.exportFailed.connect(lambda p, m: failed.append(p))
    paths = [str(tmp_path / n) for n in ("preview.png", "traversal.png", "samples.png", "preview2.png")]
    win.exports.save_preview(paths[0])
    win.exports.export_traversal(paths[1])
    win.exports.export_samples(paths[2], n=4)
    win.maps.build()  # ... and one more while the map is being encoded again
    win.exports.save_preview(paths[3])
    (tmp_path / "a-file").write_text("not a folder")
    win.exports.save_preview(str(tmp_path / "a-file" / "x.png"))  # this one fails, and says so
    qtbot.waitUntil(lambda: len(written) == 4 and len(failed) == 1, timeout=30000)
    assert written == paths
    kinds = [read_png_recipe(p)["kind"] for p in paths]
    assert kinds == ["preview", "traversal", "samples", "preview"]


def test_settings_changed_within_a_moment_all_take_effect(qtbot, open_window):
    win = open_window(map_limit=100)
    idle(qtbot, win)
    changes = []
    win.model.tiers_changed.connect(lambda s: changes.append(s.device))
    win.models.set_device("cpu")
    win.models.set_reduced_precision(True)
    win.models.set_reduced_precision(False)
    qtbot.waitUntil(lambda: len(changes) == 3, timeout=20000)
    assert win.model.precision == "fp32"


def test_switching_device_while_a_model_loads_ends_loaded_on_that_device(qtbot, open_window):
    win = open_window(map_limit=100)
    idle(qtbot, win)
    win.models.load("digits-2d")
    status = win.views.status
    assert status.progress.isVisibleTo(win) and not status.cancel.isVisibleTo(win)  # a load cannot be cancelled
    win.models.set_device("cpu")
    qtbot.waitUntil(lambda: win.models.summary.spec == "digits-2d" and not win.models.is_loading
                    and win.maps.data is not None and not win.worker.is_busy("device"), timeout=30000)
    assert win.models.summary.device == "cpu"
    assert win.views.preview.placeholder.isHidden()  # not "loading…" forever


def test_choosing_pca_while_tsne_runs_cancels_tsne_and_keeps_pca(qtbot, open_window):
    win = open_window(map_limit=300)
    pca = win.maps.data
    shown = []
    win.model.events.map.connect(lambda d: d is not None and shown.append(d.projection.method))
    win.maps.set_projection("tsne")
    qtbot.waitUntil(lambda: win.maps.projector.is_busy("map"), timeout=5000)
    win.maps.set_projection("pca")
    qtbot.waitUntil(lambda: not win.maps.projector.is_busy("map"), timeout=10000)
    assert win.maps.data is pca and win.views.map.projection_box.currentData() == "pca"
    assert shown == []  # the t-SNE result never replaced the PCA map


def test_opening_a_folder_cancels_the_projection_of_the_previous_map(qtbot, open_window, tmp_path):
    from PIL import Image

    for i in range(6):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    win = open_window(map_limit=300)
    shown = []
    win.model.events.map.connect(lambda d: d is not None and shown.append((d.name, d.projection.method)))
    win.maps.set_projection("tsne")
    qtbot.waitUntil(lambda: win.maps.projector.is_busy("map"), timeout=5000)
    win.maps.open_images(str(tmp_path))
    qtbot.waitUntil(lambda: bool(shown) and not win.maps.projector.is_busy("map") and not win.worker.is_busy("map"),
                    timeout=30000)
    assert shown == [(tmp_path.name, "pca")]  # the folder's map, and no t-SNE of the old one after it
    assert win.maps.data.source == str(tmp_path)


def test_an_older_map_result_never_replaces_a_newer_map():
    from latent_explorer.app.map_generations import MapGenerations

    g = MapGenerations()
    old, new = g.next(), g.next()
    assert g.accept(new) and not g.accept(old)
    assert not g.accept(new - 1)


def test_slider_soak_keeps_one_pending_preview_and_ends_on_the_last_latent(qtbot, open_window):
    win = open_window(map_limit=100)
    win.maps.select(0)
    idle(qtbot, win)
    row = win.views.sliders.rows[win.views.sliders.order[0]]
    worst = 0
    tracemalloc.start()
    rng = np.random.default_rng(0)
    values = np.round(rng.uniform(-3, 3, 10_000), 2)
    mem = []
    for i, v in enumerate(values):
        row.slider.setValue(float(v))
        worst = max(worst, win.worker.pending_count("preview"))
        if i % 1000 == 0:
            qtbot.wait(1)  # let results and timers run now and then, as a real drag does
            mem.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert worst <= 1
    z = win.state.z.copy()
    qtbot.waitUntil(lambda: win.views.preview.request_id == win.worker.latest_id("preview")
                    and not win.worker.is_busy("preview"), timeout=10000)
    expect = win.worker._model.decode(z[None])[0]
    np.testing.assert_array_equal(win.views.preview.image, expect)
    # memory stays flat: the last thousand changes allocate no more than the first thousand
    assert mem[-1] - mem[1] < 2_000_000, mem


@pytest.mark.parametrize("payload", ["not a zip", "json-list", "bookmarks-not-list"])
def test_a_malformed_session_gives_one_line_and_keeps_the_current_state(qtbot, open_window, tmp_path, payload):
    import io
    import zipfile

    win = open_window(map_limit=100)
    win.maps.select(2)
    idle(qtbot, win)
    z, spec = win.state.z.copy(), win.models.summary.spec
    p = tmp_path / "bad.lexplore"
    if payload == "not a zip":
        p.write_bytes(b"hello")
    else:
        meta = "[1, 2]" if payload == "json-list" else \
            '{"format": "latent-explorer-session", "version": 1, "model_spec": "digits", "bookmarks": 7}'
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("session.json", meta)
            zf.writestr("arrays.npz", b"")
        p.write_bytes(buf.getvalue())
    errors = []
    win.ctx.errorShown.connect(errors.append)
    assert win.sessions.open(str(p)) is False
    from PySide6.QtWidgets import QMessageBox

    dialogs = [b for b in win.findChildren(QMessageBox) if b.isVisible()]
    assert len(dialogs) == 1 and "bad.lexplore" in dialogs[0].text()  # the user is told in a dialog
    dialogs[0].close()
    assert len(errors) == 1 and "\n" not in errors[0] and "bad.lexplore" in errors[0]
    np.testing.assert_array_equal(win.state.z, z)
    assert win.models.summary.spec == spec and win.sessions.pending is None


def test_of_two_models_opened_in_a_row_only_the_newest_is_applied(qtbot, open_window):
    win = open_window(map_limit=100)
    idle(qtbot, win)
    applied, errors = [], []
    win.model.loaded.connect(lambda s: applied.append(s.spec))
    win.ctx.errorShown.connect(errors.append)
    win.models.load("digits-2d")
    win.models.load("shapes")
    qtbot.waitUntil(lambda: not win.models.is_loading and win.maps.data is not None
                    and win.models.summary.spec == "shapes", timeout=60000)
    idle(qtbot, win)
    assert applied == ["shapes"] and errors == []


def test_a_failed_setting_is_reported_once_in_its_own_words(qtbot, open_window):
    win = open_window(map_limit=100)
    idle(qtbot, win)
    errors = []
    win.ctx.errorShown.connect(errors.append)
    win.models.set_device("no-such-device")
    qtbot.waitUntil(lambda: bool(errors) and not win.worker.is_busy("device"), timeout=10000)
    idle(qtbot, win)
    assert len(errors) == 1 and errors[0].startswith("Could not switch device")


def test_choosing_a_projection_while_images_are_encoded_keeps_the_encode(qtbot, open_window, tmp_path):
    from PIL import Image

    for i in range(8):
        Image.fromarray(np.full((28, 28), 30 * i, np.uint8)).save(tmp_path / f"{i}.png")
    win = open_window(map_limit=100)
    idle(qtbot, win)
    win.maps.open_images(str(tmp_path))
    assert win.worker.is_busy("map")
    assert win.maps.set_projection("tsne") == -1  # refused: the folder's map comes first
    qtbot.waitUntil(lambda: win.maps.data.source == str(tmp_path) and win.maps.done, timeout=30000)
    assert win.maps.data.projection.method == "pca"
