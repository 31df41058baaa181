"""Sessions in the app: save / open round trip, a missing or changed model, autosave and crash
recovery, the history list, bookmarks, and exports that carry their recipe (and copy image)."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

from latent_explorer.core.export import read_png_recipe
from latent_explorer.core.autosave import Autosave
from latent_explorer.core.session import Bookmark, Session

pytestmark = pytest.mark.usefixtures("qt_leak_guard")


@pytest.fixture
def open_window(qtbot):
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.models.model_hash is not None)


def idle(qtbot, win):
    qtbot.waitUntil(lambda: not any(win.worker.is_busy(k) for k in ("preview", "strip", "map", "recon", "hash",
                                                                     "traversal", "export")), timeout=20000)


def test_session_round_trip_through_the_gui(qtbot, open_window, tmp_path):
    win = open_window()
    win.maps.select(5)
    win.views.sliders.rows[0].slider.setValue(2.25)  # a slider edit: part of the latent and the history
    win.state.commit()
    win.bookmarks.add("a nice five")
    win.morphs.make(1, 2)
    qtbot.waitUntil(lambda: win.views.morph.strip is not None, timeout=20000)
    win.views.map.set_color_mode("error")
    win.views.temperature.setValue(0.7)
    idle(qtbot, win)
    saved_z = win.state.z.copy()
    saved_hist = [z.copy() for z, _ in win.state.history.entries()]
    path = win.sessions.save(str(tmp_path / "mine"))
    assert path.endswith("mine.lexplore") and os.path.exists(path)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # atomic: nothing left behind

    # change everything, then open the session again
    win.maps.select(7)
    win.bookmarks.set([])
    win.views.map.set_color_mode("density")
    win.views.temperature.setValue(1.5)
    win.morphs.make(3, 4)
    idle(qtbot, win)
    with qtbot.waitSignal(win.sessions.restored, timeout=30000) as sig:
        assert win.sessions.open(path)
    assert sig.args[0] == []  # same model, same weights: nothing to warn about
    np.testing.assert_array_equal(win.state.z, saved_z)
    assert win.state.z[0] == pytest.approx(2.25)
    assert [b.name for b in win.bookmarks.items] == ["a nice five"]
    assert win.views.bookmarks_panel.list.item(0).text() == "a nice five"
    assert win.maps.selected == 5
    assert win.views.map.color_mode == "error"
    assert win.views.temperature.value() == pytest.approx(0.7)
    got = [z for z, _ in win.state.history.entries()]
    assert len(got) == len(saved_hist) and all(np.array_equal(a, b) for a, b in zip(got, saved_hist))
    assert win.views.history_panel.list.count() == len(saved_hist)
    assert win.morphs.desc == "#1 (3) → #2 (3)" or win.morphs.keys[1] == (1, 2)
    qtbot.waitUntil(lambda: win.views.morph.strip is not None and np.array_equal(win.views.morph.strip.keyframes[0],
                                                                           win.maps.data.mean[1]), timeout=20000)
    # a bookmark jumps back to its latent
    win.maps.select(9)
    win.views.bookmarks_panel.jumpRequested.emit(0)
    np.testing.assert_array_equal(win.state.z, win.bookmarks.items[0].latent)
    idle(qtbot, win)


def test_a_session_whose_model_is_missing_or_changed_says_so_and_opens_what_it_can(qtbot, open_window, tmp_path):
    win = open_window()
    z = np.full(16, 0.25, np.float32)
    missing = Session(model_spec=str(tmp_path / "gone-model"), current_latent=z,
                      bookmarks=[Bookmark("kept", z * 2), Bookmark("other shape", np.zeros(3, np.float32))])
    p = missing.save(tmp_path / "missing.lexplore")
    with qtbot.waitSignal(win.sessions.restored, timeout=30000) as sig:
        win.sessions.open(str(p))
    notes = " ".join(sig.args[0])
    assert "gone-model" in notes and "could not be loaded" in notes
    assert "other shape" not in [b.name for b in win.bookmarks.items] and [b.name for b in win.bookmarks.items] == ["kept"]
    assert win.models.summary.spec == "digits"  # still exploring the model we had
    np.testing.assert_array_equal(win.state.z, z)
    assert win.views.banner.isVisibleTo(win) and "gone-model" in win.views.banner.text.text()

    changed = Session(model_spec="digits", model_hash="0123456789abcdef", current_latent=-z)
    p = changed.save(tmp_path / "changed.lexplore")
    with qtbot.waitSignal(win.sessions.restored, timeout=30000) as sig:
        win.sessions.open(str(p))
    assert any("has changed" in n for n in sig.args[0])
    np.testing.assert_array_equal(win.state.z, -z)
    idle(qtbot, win)


def _dead_pid() -> int:
    """The pid of a process that has ended (a crashed instance's)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_recovery_after_a_crash_restores_the_autosaved_latent(qtbot, open_window):
    crashed = Autosave(pid=_dead_pid())  # LATENT_EXPLORER_DATA: the test's own folder
    assert str(crashed.folder) == os.environ["LATENT_EXPLORER_DATA"]
    z = np.linspace(-1, 1, 16).astype(np.float32)
    crashed.start()  # the marker a crashed run leaves behind
    crashed.save(Session(model_spec="digits", current_latent=z, bookmarks=[Bookmark("before the crash", z)]))
    asked = []
    win = open_window(recover=lambda: asked.append(1) or True, autosave_interval_ms=150)
    assert asked == [1] and win.sessions.autosave.recovered
    qtbot.waitUntil(lambda: win.state.z is not None and np.array_equal(win.state.z, z), timeout=30000)
    assert [b.name for b in win.bookmarks.items] == ["before the crash"]
    assert not crashed.path.exists()  # recovered once: not offered again
    # this instance autosaves on its timer into its own file; a clean close leaves nothing to recover
    mine = win.sessions.autosave.autosave
    qtbot.waitUntil(lambda: win.sessions.autosave.saves >= 1, timeout=10000)
    assert mine.path != crashed.path and np.array_equal(Session.load(mine.path).current_latent, z)
    assert mine.marker.exists()
    win.close()
    assert not win.sessions.autosave.timer.isActive()
    assert not mine.path.exists() and not mine.marker.exists()
    assert not Autosave().recoverable()


def test_declining_recovery_discards_the_autosave(qtbot, open_window):
    crashed = Autosave(pid=_dead_pid())
    crashed.start()
    crashed.save(Session(model_spec="digits", current_latent=np.ones(16, np.float32)))
    win = open_window(recover=False)
    assert not win.sessions.autosave.recovered and not np.array_equal(win.state.z, np.ones(16, np.float32))
    assert not crashed.path.exists()


def test_a_live_instance_is_never_offered_nor_touched_by_another(qtbot, open_window):
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        live = Autosave(pid=other.pid)  # another running app's files
        live.start()
        live.save(Session(model_spec="digits", current_latent=np.ones(16, np.float32)))
        asked = []
        win = open_window(recover=lambda: asked.append(1) or True)
        assert asked == [] and not win.sessions.autosave.recovered  # still live: never offered
        win.close()
        assert live.path.exists() and live.marker.exists()  # never deleted, marker never removed
    finally:
        other.stdin.close()
        other.wait()
    # once that app has crashed (its process is gone), its autosave is offered
    assert Autosave().orphans() == [live.path]


def test_history_list_jumps_back_when_an_entry_is_clicked(qtbot, open_window):
    win = open_window()
    win.maps.select(3)
    win.maps.select(4)
    win.maps.select(6)
    lst = win.views.history_panel.list
    assert lst.count() == 4 and "image #3" in lst.item(1).text() and lst.currentRow() == 3
    rect = lst.visualItemRect(lst.item(1))
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    np.testing.assert_array_equal(win.state.z, win.maps.data.mean[3])
    assert lst.currentRow() == 1 and lst.count() == 4  # later entries stay, to redo
    win.previews.redo()
    np.testing.assert_array_equal(win.state.z, win.maps.data.mean[4])
    assert lst.currentRow() == 2
    idle(qtbot, win)


def test_exports_carry_their_recipe_and_copy_image_fills_the_clipboard(qtbot, open_window, tmp_path):
    win = open_window()
    win.maps.select(2)
    qtbot.waitUntil(lambda: win.views.preview.image is not None and not win.worker.is_busy("preview"), timeout=20000)
    idle(qtbot, win)
    QApplication.clipboard().clear()
    win.views.menus.copy_image.trigger()
    img = QApplication.clipboard().image()
    assert not img.isNull() and img.width() >= 256
    h, w = win.views.preview.image.shape[:2]
    assert img.width() % w == 0 and img.height() % h == 0

    with qtbot.waitSignal(win.exports.exported, timeout=20000):
        win.exports.save_preview(str(tmp_path / "preview.png"))
    r = read_png_recipe(tmp_path / "preview.png")
    assert r["kind"] == "preview" and r["model"] == "digits" and r["model_hash"] == win.models.model_hash
    assert np.allclose(r["latent"], win.state.z, atol=1e-5) and "image #2" in r["method"]

    with qtbot.waitSignal(win.exports.exported, timeout=20000):
        win.exports.export_traversal(str(tmp_path / "traversal.png"), steps=5, max_rows=4)
    r = read_png_recipe(tmp_path / "traversal.png")
    assert r["kind"] == "traversal" and len(r["dims"]) == 4 and r["steps"] == 5 and r["model_hash"]
    with qtbot.waitSignal(win.exports.exported, timeout=20000):
        win.exports.export_samples(str(tmp_path / "samples.png"), n=16, seed=7)
    r = read_png_recipe(tmp_path / "samples.png")
    assert r["kind"] == "samples" and r["seed"] == 7 and r["n"] == 16
    idle(qtbot, win)
