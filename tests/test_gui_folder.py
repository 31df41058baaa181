"""Opening your own images: --images, drag-and-drop, the skipped-files report, a huge folder."""
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


pytestmark = pytest.mark.usefixtures("qt_leak_guard")


def digit_png(path, value: int) -> None:
    a = np.zeros((28, 28), np.uint8)
    a[6:22, 10 + value % 6:14 + value % 6] = 255
    Image.fromarray(a).save(path)


def make_folder(tmp_path, good: int = 6):
    d = tmp_path / "mine"
    (d / "sub").mkdir(parents=True)
    for i in range(good):
        digit_png(d / ("sub" if i % 2 else "") / f"ok_{i}.png", i)
    (d / "empty.png").write_bytes(b"")
    (d / "letter.png").write_text("Dear artist, this is not a picture.")
    whole = (d / "ok_0.png").read_bytes()
    (d / "cut.png").write_bytes(whole[: len(whole) // 2])
    (d / "notes.txt").write_text("not an image by extension: ignored, not reported")
    return d


@pytest.fixture
def window(qtbot):
    yield from window_opener(qtbot)


def drop_on(win, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(win.width() / 2, win.height() / 2)
    enter = QDragEnterEvent(QPoint(int(pos.x()), int(pos.y())), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, drop)
    assert drop.isAccepted()


def test_images_option_maps_the_folder_and_reports_every_skipped_file(qtbot, window, tmp_path):
    folder = make_folder(tmp_path)
    win = window(images=str(folder))
    assert win.maps.data.source == str(folder)
    assert len(win.maps.data.mean) == 6
    assert all(p.name.startswith("ok_") for p in win.maps.data.paths)
    report = dict(win.views.skipped_panel.items)
    assert set(report) == {"empty.png", "letter.png", "cut.png"}  # notes.txt is ignored by extension
    assert "empty" in report["empty.png"] or "zero" in report["empty.png"]
    assert all(why for why in report.values())
    assert win.views.skipped_panel.table.rowCount() == 3
    assert win.views.skipped_panel.table.item(0, 1).text()
    assert win.views.skipped_link.isVisibleTo(win) and "3 files skipped" in win.views.skipped_link.text()
    assert not win.views.skipped_dock.isVisibleTo(win)
    win.views.skipped_link.linkActivated.emit("#skipped")  # the status-bar link opens the report
    assert win.views.skipped_dock.isVisibleTo(win)
    assert "letter.png: " in win.views.skipped_panel.as_text()
    # hovering a point shows the file's name on its thumbnail card
    win.views.map._on_mouse_moved(win.views.map.vb.mapViewToScene(QPointF(*win.maps.data.xy[0])))
    assert win.views.map.card.isVisibleTo(win.views.map) and "ok_" in win.views.map.card.text.text()


def test_dropping_a_folder_or_files_on_the_window_imports_them(qtbot, window, tmp_path):
    folder = make_folder(tmp_path)
    win = window()
    assert win.maps.data.source is None and not win.views.skipped_link.isVisibleTo(win)
    drop_on(win, [folder])
    qtbot.waitUntil(lambda: win.maps.data.source == str(folder), timeout=30000)
    assert win.views.skipped_link.isVisibleTo(win)
    files = sorted(folder.glob("*.png")) + [folder / "notes.txt"]
    drop_on(win, files)
    qtbot.waitUntil(lambda: isinstance(win.maps.data.source, list), timeout=30000)
    report = dict(win.views.skipped_panel.items)
    assert report[str(folder / "notes.txt")] == "not an image file type"
    assert {str(folder / n) for n in ("empty.png", "letter.png", "cut.png")} <= set(report)
    assert len(win.maps.data.mean) == 3  # ok_0, ok_2, ok_4 at the top level


def test_ten_thousand_files_keep_the_window_responsive_and_cancel(qtbot, window, tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    digit_png(tmp_path / "one.png", 3)
    data = (tmp_path / "one.png").read_bytes()
    for i in range(10_000):
        (big / f"img_{i:05d}.png").write_bytes(data)
    win = window(map_limit=10_000)
    old = win.maps.data
    seen = []  # the progress bar's value at each tick of a GUI-thread timer, while the import runs

    def tick():
        if win.worker.is_busy("map"):
            seen.append(win.views.status.progress.value())

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    try:
        win.maps.open_images(str(big))
        qtbot.waitUntil(lambda: win.views.status.progress.maximum() > 0 and win.views.status.progress.value() > 200,
                        timeout=20000)
        seen.clear()
        # the worker reads the images; meanwhile the GUI thread keeps turning: its timer ticks, and
        # the progress it shows moves on from tick to tick (not in one jump at the end)
        qtbot.waitUntil(lambda: len(seen) >= 30 and len(set(seen)) >= 5, timeout=30000)
        assert win.worker.is_busy("map"), "the import finished before the window could be watched"
        assert win.views.status.cancel.isVisible()
        win.views.status.cancel.click()
        qtbot.waitUntil(lambda: not win.worker.is_busy("map"), timeout=5000)
    finally:
        timer.stop()
    assert not win.views.status.progress.isVisible()
    assert win.maps.data is old  # the map it had stays
