"""Sessions in the app: save / open round trip, a missing or changed model, autosave and crash
recovery, the history list, bookmarks, and exports that carry their recipe (and copy image)."""
import os

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

from latent_explorer.core.export import read_png_recipe
from latent_explorer.core.session import Autosave, Bookmark, Session

pytestmark = pytest.mark.usefixtures("qt_leak_guard")


@pytest.fixture
def open_window(qtbot):
    yield from window_opener(qtbot, lambda w: w.map_data is not None and w.model_hash is not None)


def idle(qtbot, win):
    qtbot.waitUntil(lambda: not any(win.worker.is_busy(k) for k in ("preview", "strip", "map", "recon", "hash",
                                                                     "traversal", "export-preview")), timeout=20000)


def test_session_round_trip_through_the_gui(qtbot, open_window, tmp_path):
    win = open_window()
    win.select(5)
    win.sliders.rows[0].slider.setValue(2.25)  # a slider edit: part of the latent and the history
    win.state.commit()
    win.add_bookmark("a nice five")
    win.make_morph(1, 2)
    qtbot.waitUntil(lambda: win.morph.strip is not None, timeout=20000)
    win.map.set_color_mode("error")
    win.temperature.setValue(0.7)
    idle(qtbot, win)
    saved_z = win.state.z.copy()
    saved_hist = [z.copy() for z, _ in win.state.history.entries()]
    path = win.save_session(str(tmp_path / "mine"))
    assert path.endswith("mine.lexplore") and os.path.exists(path)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # atomic: nothing left behind

    # change everything, then open the session again
    win.select(7)
    win.set_bookmarks([])
    win.map.set_color_mode("density")
    win.temperature.setValue(1.5)
    win.make_morph(3, 4)
    idle(qtbot, win)
    with qtbot.waitSignal(win.sessionRestored, timeout=30000) as sig:
        assert win.open_session(path)
    assert sig.args[0] == []  # same model, same weights: nothing to warn about
    np.testing.assert_array_equal(win.state.z, saved_z)
    assert win.state.z[0] == pytest.approx(2.25)
    assert [b.name for b in win.bookmarks] == ["a nice five"]
    assert win.bookmarks_panel.list.item(0).text() == "a nice five"
    assert win.selected == 5
    assert win.map.color_mode == "error"
    assert win.temperature.value() == pytest.approx(0.7)
    got = [z for z, _ in win.state.history.entries()]
    assert len(got) == len(saved_hist) and all(np.array_equal(a, b) for a, b in zip(got, saved_hist))
    assert win.history_panel.list.count() == len(saved_hist)
    assert win._strip_desc == "#1 (3) → #2 (3)" or win._strip_keys[1] == (1, 2)
    qtbot.waitUntil(lambda: win.morph.strip is not None and np.array_equal(win.morph.strip.keyframes[0],
                                                                           win.map_data.mean[1]), timeout=20000)
    # a bookmark jumps back to its latent
    win.select(9)
    win.bookmarks_panel.jumpRequested.emit(0)
    np.testing.assert_array_equal(win.state.z, win.bookmarks[0].latent)
    idle(qtbot, win)


def test_a_session_whose_model_is_missing_or_changed_says_so_and_opens_what_it_can(qtbot, open_window, tmp_path):
    win = open_window()
    z = np.full(16, 0.25, np.float32)
    missing = Session(model_spec=str(tmp_path / "gone-model"), current_latent=z,
                      bookmarks=[Bookmark("kept", z * 2), Bookmark("other shape", np.zeros(3, np.float32))])
    p = missing.save(tmp_path / "missing.lexplore")
    with qtbot.waitSignal(win.sessionRestored, timeout=30000) as sig:
        win.open_session(str(p))
    notes = " ".join(sig.args[0])
    assert "gone-model" in notes and "could not be loaded" in notes
    assert "other shape" not in [b.name for b in win.bookmarks] and [b.name for b in win.bookmarks] == ["kept"]
    assert win.summary.spec == "digits"  # still exploring the model we had
    np.testing.assert_array_equal(win.state.z, z)
    assert win.banner.isVisibleTo(win) and "gone-model" in win.banner.text.text()

    changed = Session(model_spec="digits", model_hash="0123456789abcdef", current_latent=-z)
    p = changed.save(tmp_path / "changed.lexplore")
    with qtbot.waitSignal(win.sessionRestored, timeout=30000) as sig:
        win.open_session(str(p))
    assert any("has changed" in n for n in sig.args[0])
    np.testing.assert_array_equal(win.state.z, -z)
    idle(qtbot, win)


def test_recovery_after_a_crash_restores_the_autosaved_latent(qtbot, open_window):
    crashed = Autosave()  # LATENT_EXPLORER_DATA: the test's own folder
    assert str(crashed.folder) == os.environ["LATENT_EXPLORER_DATA"]
    z = np.linspace(-1, 1, 16).astype(np.float32)
    crashed.save(Session(model_spec="digits", current_latent=z, bookmarks=[Bookmark("before the crash", z)]))
    crashed.start()  # the marker a crashed run leaves behind
    asked = []
    win = open_window(recover=lambda: asked.append(1) or True, autosave_interval_ms=150)
    assert asked == [1] and win.recovered
    qtbot.waitUntil(lambda: win.state.z is not None and np.array_equal(win.state.z, z), timeout=30000)
    assert [b.name for b in win.bookmarks] == ["before the crash"]
    # autosave runs on its timer, and a clean close leaves nothing to recover
    qtbot.waitUntil(lambda: win.autosaver.saves >= 1, timeout=10000)
    assert np.array_equal(Autosave().load().current_latent, z)
    assert Autosave().marker.exists()
    win.close()
    assert not win.autosaver.timer.isActive()
    assert not Autosave().recoverable()


def test_declining_recovery_discards_the_autosave(qtbot, open_window):
    crashed = Autosave()
    crashed.save(Session(model_spec="digits", current_latent=np.ones(16, np.float32)))
    crashed.start()
    win = open_window(recover=False)
    assert not win.recovered and not np.array_equal(win.state.z, np.ones(16, np.float32))
    assert not crashed.path.exists()


def test_history_list_jumps_back_when_an_entry_is_clicked(qtbot, open_window):
    win = open_window()
    win.select(3)
    win.select(4)
    win.select(6)
    lst = win.history_panel.list
    assert lst.count() == 4 and "image #3" in lst.item(1).text() and lst.currentRow() == 3
    rect = lst.visualItemRect(lst.item(1))
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    np.testing.assert_array_equal(win.state.z, win.map_data.mean[3])
    assert lst.currentRow() == 1 and lst.count() == 4  # later entries stay, to redo
    win.redo()
    np.testing.assert_array_equal(win.state.z, win.map_data.mean[4])
    assert lst.currentRow() == 2
    idle(qtbot, win)


def test_exports_carry_their_recipe_and_copy_image_fills_the_clipboard(qtbot, open_window, tmp_path):
    win = open_window()
    win.select(2)
    qtbot.waitUntil(lambda: win.preview.image is not None and not win.worker.is_busy("preview"), timeout=20000)
    idle(qtbot, win)
    QApplication.clipboard().clear()
    win.copy_image_action.trigger()
    img = QApplication.clipboard().image()
    assert not img.isNull() and img.width() >= 256
    h, w = win.preview.image.shape[:2]
    assert img.width() % w == 0 and img.height() % h == 0

    with qtbot.waitSignal(win.exported, timeout=20000):
        win.save_preview(str(tmp_path / "preview.png"))
    r = read_png_recipe(tmp_path / "preview.png")
    assert r["kind"] == "preview" and r["model"] == "digits" and r["model_hash"] == win.model_hash
    assert np.allclose(r["latent"], win.state.z, atol=1e-5) and "image #2" in r["method"]

    with qtbot.waitSignal(win.exported, timeout=20000):
        win.export_traversal(str(tmp_path / "traversal.png"), steps=5, max_rows=4)
    r = read_png_recipe(tmp_path / "traversal.png")
    assert r["kind"] == "traversal" and len(r["dims"]) == 4 and r["steps"] == 5 and r["model_hash"]
    with qtbot.waitSignal(win.exported, timeout=20000):
        win.export_samples(str(tmp_path / "samples.png"), n=16, seed=7)
    r = read_png_recipe(tmp_path / "samples.png")
    assert r["kind"] == "samples" and r["seed"] == 7 and r["n"] == 16
    idle(qtbot, win)
