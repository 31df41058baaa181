"""Regressions found in review: a settings file edited by hand, 'through the pins', the Theory panel
after new images, clicking history during an edit, docks after presentation mode, bookmark pictures
arriving late, a trained model's folder from anywhere."""
import json

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

from latent_explorer.app.state import LatentState


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built and bool(w.views.sliders.rows))


@pytest.mark.parametrize("content", ['{"last_folder": 5, "export": null}', '{"export": {"frames": "many", "size": "512"}}',
                                     '["a"]', "not json"])
def test_a_settings_file_edited_by_hand_never_breaks_a_dialog(qtbot, tmp_path, monkeypatch, content):
    from latent_explorer.gui import memory
    from latent_explorer.gui.app import make_app
    from latent_explorer.gui.dialogs.export_options import ExportOptionsDialog

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    (tmp_path / "settings.json").write_text(content)
    make_app()
    assert memory.last_folder() == ""
    d = ExportOptionsDialog(None, "x", animated=True, pins=3, frames=12)
    assert d.settings().frames is None  # the morph's own count: no re-decode
    d.remember()
    assert json.loads((tmp_path / "settings.json").read_text())["export"]["frames"] == 12
    d.deleteLater()


def test_through_the_pins_is_applied_once_the_dialog_closes(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QTimer

    from latent_explorer.gui.app import make_app
    from latent_explorer.gui.dialogs import export_options

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    make_app()

    def accept():
        d = next(w for w in QApplication.topLevelWidgets() if isinstance(w, export_options.ExportOptionsDialog))
        d.through_pins.setChecked(True)
        d.accept()

    QTimer.singleShot(0, accept)
    settings, close, through = export_options.ask(None, "x", animated=True, pins=3, frames=12)
    assert through


def test_an_image_export_keeps_the_morphs_motion_settings(tmp_path, monkeypatch, qtbot):
    from latent_explorer.gui import memory
    from latent_explorer.gui.app import make_app
    from latent_explorer.gui.dialogs.export_options import ExportOptionsDialog

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))
    make_app()
    d = ExportOptionsDialog(None, "morph", animated=True, frames=12)
    d.fps.setValue(30)
    d.remember()
    ExportOptionsDialog(None, "preview", animated=False).remember()
    assert memory.load()["export"]["fps"] == 30


def test_clicking_history_during_an_edit_lands_on_the_entry_clicked():
    s = LatentState()
    s.reset(np.zeros(2, np.float32))
    for v in (1.0, 2.0, 3.0):
        s.set(np.full(2, v, np.float32), f"e{v:g}")
    s.undo()
    s.undo()                      # at e1; e2 and e3 are redo steps
    s.set_dim(0, 9.0)             # an edit under way
    assert s.go_to(3)             # click "e3" (a redo step the commit drops)
    assert s.source == "e3" and s.z[1] == 3.0
    s.set_dim(0, 5.0)
    assert s.go_to(1) and s.source == "e1"  # an older entry: found again after the commit


def test_the_theory_panel_forgets_the_previous_images(qtbot, open_window, tmp_path):
    from PIL import Image

    d = tmp_path / "pics"
    d.mkdir()
    for i in range(6):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(d / f"p{i}.png")
    win = open_window(map_limit=100)
    win.theory_dock.show()
    win.maps.select(5)
    qtbot.waitUntil(lambda: win.theory.image_numbers is not None, timeout=20000)
    win.maps.open_images(str(d))
    qtbot.waitUntil(lambda: win.maps.data.source == str(d) and win.maps.done, timeout=30000)
    panel = win.views.theory
    assert panel.numbers is None and not panel.sample_button.isEnabled()
    assert "#5" not in panel.heading.text()


def test_leaving_presentation_mode_reopens_a_dock_the_user_had_open(qtbot, open_window):
    win = open_window(map_limit=100, window_size=(1280, 720))
    win.show()
    qtbot.waitUntil(lambda: win.fit.density is not None, timeout=5000)
    history = win.docks[0]
    history.show()                        # the user opens it again at 1280 px
    win.presentation.set(True)
    QApplication.processEvents()
    assert not history.isVisible()
    win.presentation.set(False)
    QApplication.processEvents()
    assert history.isVisible()


def test_late_bookmark_pictures_go_to_the_bookmarks_still_there(qtbot, open_window):
    from latent_explorer.core.session import Bookmark

    win = open_window(map_limit=100)
    a, b = Bookmark("same", np.zeros(16, np.float32)), Bookmark("same", np.ones(16, np.float32))
    c = win.bookmarks
    c._publish([b])   # (the bookmarks now: b only)
    c.thumbnails = {}
    c._on_thumbnails([a, b], [np.zeros((28, 28, 1), np.uint8), np.ones((28, 28, 1), np.uint8)])
    assert list(c.thumbnails) == [0] and c.thumbnails[0].max() == 1


def test_a_trained_folder_is_recorded_absolute(tmp_path, monkeypatch):
    from latent_explorer.core.train_record import _absolute

    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path)
    assert _absolute("photos") == str(tmp_path / "photos") and _absolute("mnist-5k") == "mnist-5k"
