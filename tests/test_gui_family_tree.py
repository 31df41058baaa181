"""The family tree view stays readable in a short dock: it scrolls instead of shrinking its nodes
below a readable size, zooms with Ctrl+wheel and − / + / Fit within bounds, scrolls the newest
brood into view after each breeding (and keeps it there when the dock is resized), and otherwise
stays where the user left it, scrolling only to a node newly looked at. The − / + / Fit buttons sit in
the heading row, never over a node, and on screen at the panel's smallest; the lowest view still shows
a whole row."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from gui_fixtures import qt_leak_guard  # noqa: F401
from latent_explorer.core.latent.breeding import FamilyTree
from latent_explorer.gui.widgets import family_tree as ft


@pytest.fixture
def view(qtbot, qt_leak_guard):  # noqa: F811
    v = ft.FamilyTreeView()
    qtbot.addWidget(v)
    v.resize(320, 130)  # about what 1280 × 720 leaves the tree (its dock is short)
    v.show()
    qtbot.waitExposed(v)
    return v


def _thumbs(tree):
    return {i: np.full((8, 8, 1), 40 * (i % 6), np.uint8) for i in tree.nodes}


def _show(view, tree, current=None):
    view.set_tree(list(tree.nodes.values()), _thumbs(tree), set(tree.parents), current)
    QApplication.processEvents()


def _breed_on(tree, generations, children=8):
    """A family: three roots, then ``generations`` broods, each from children 2 and 5 of the one before,
    each one handed to the view as the app does."""
    rng = np.random.default_rng(0)
    tree.set_parents([tree.add_root(rng.standard_normal(4).astype(np.float32), f"root {k}") for k in range(3)])
    for g in range(generations):
        if g:
            tree.set_parents([tree.children[1], tree.children[4]])
        yield tree.breed(children, 0.2, seed=100 * g)


def _on_screen(view, nid) -> bool:
    """Node ``nid`` and its name wholly inside the viewport."""
    r = view.mapFromScene(view.node_rect(nid)).boundingRect()
    return view.viewport().rect().contains(r)


def _wheel(view, dy, ctrl=False):
    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    c = QPointF(view.viewport().rect().center())
    ev = QWheelEvent(c, view.viewport().mapToGlobal(c), QPoint(0, 0), QPoint(0, dy), Qt.MouseButton.NoButton, mods,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), ev)


def test_a_big_tree_scrolls_at_full_size_and_never_shrinks_below_the_minimum(view):
    tree = FamilyTree()
    for _ in _breed_on(tree, 6, children=12):
        _show(view, tree)
        assert view.node_px() == ft.NODE  # drawn at full size: the view scrolls instead
    assert view.verticalScrollBar().maximum() > 0 and view.horizontalScrollBar().maximum() > 0
    assert view.fit() == ft.MIN_ZOOM and view.node_px() == pytest.approx(view.min_node_px())
    for _ in range(10):
        view.zoom_out()
        _wheel(view, -120, ctrl=True)
    assert view.node_px() >= view.min_node_px() >= 32 and ft.LABEL_PX * view.zoom >= 9
    for _ in range(20):
        view.buttons["+"].click()
    assert view.zoom == ft.MAX_ZOOM


def test_the_newest_brood_is_scrolled_into_view_after_each_breeding_and_stays_on_resizing(view):
    tree = FamilyTree()
    for kids in _breed_on(tree, 5):
        _show(view, tree, current=tree.parents[0])  # the node looked at is an older one
        assert view.newest == kids
        assert _on_screen(view, kids[0]) and _on_screen(view, kids[1])
    for size in ((260, 100), (500, 200), (320, 130)):  # the dock resized: the newest brood stays
        view.resize(*size)
        QApplication.processEvents()
        assert _on_screen(view, view.newest[0])


def test_thumbnails_arriving_keep_the_users_scroll_and_a_node_looked_at_is_revealed(view):
    tree = FamilyTree()
    broods = list(_breed_on(tree, 4))
    _show(view, tree)
    bar = view.verticalScrollBar()
    bar.triggerAction(bar.SliderAction.SliderToMinimum)  # the user scrolls to the top
    top = bar.minimum()
    assert bar.value() == top and not _on_screen(view, broods[-1][0])
    _show(view, tree)  # thumbnails arrive: the view stays where the user put it
    assert bar.value() == top
    view.resize(330, 130)
    QApplication.processEvents()
    assert bar.value() == top  # no longer following the newest brood
    _show(view, tree, current=broods[2][6])  # Ctrl+Z or a click elsewhere: that node comes into view
    assert _on_screen(view, broods[2][6])


def test_ctrl_wheel_zooms_a_plain_wheel_scrolls_and_fit_shows_a_small_tree_whole(view):
    tree = FamilyTree()
    for _ in _breed_on(tree, 3):
        _show(view, tree)
    centre = view.viewport().rect().center()
    spot = view.mapToScene(centre)
    _wheel(view, 120, ctrl=True)  # about the pointer (here the centre): what was under it stays under it
    assert view.zoom == pytest.approx(ft.ZOOM_STEP)
    assert (view.mapFromScene(spot) - centre).manhattanLength() <= 2
    bar = view.verticalScrollBar()
    bar.triggerAction(bar.SliderAction.SliderToMinimum)
    _wheel(view, -120)
    assert view.zoom == pytest.approx(ft.ZOOM_STEP) and bar.value() > bar.minimum()
    small = FamilyTree()
    for _ in _breed_on(small, 1, children=3):
        pass
    view.resize(600, 400)
    _show(view, small)
    view.buttons["Fit"].click()
    assert 1.0 < view.zoom <= ft.FIT_MAX
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(view.sceneRect().adjusted(2, 2, -2, -2))


def _global(w):
    return w.rect().translated(w.mapToGlobal(QPoint(0, 0)))


@pytest.mark.parametrize("size", [(1280, 160), (1024, 150), (300, 120), None])  # None: the panel's minimum
def test_the_zoom_buttons_sit_beside_the_tree_never_over_a_node_and_stay_on_screen(qtbot, qt_leak_guard,  # noqa: F811
                                                                                   size):
    from latent_explorer.gui.widgets.breed_panel import BreedPanel

    panel = BreedPanel()
    qtbot.addWidget(panel)
    panel.resize(*(size or (panel.minimumSizeHint().width(), panel.minimumSizeHint().height())))
    panel.show()
    qtbot.waitExposed(panel)
    tree = FamilyTree()
    for _ in _breed_on(tree, 3):
        _show(panel.tree, tree)
    view, shown = _global(panel.tree.viewport()), _global(panel)
    for b in panel.tree.buttons.values():
        assert b.isVisible() and b.width() > 0
        assert not _global(b).intersects(view), (b.text(), _global(b), view)  # a click on a node goes to it
        assert shown.contains(_global(b)) and b.mapTo(panel, QPoint(0, 0)).x() >= 0, b.text()


def test_the_lowest_view_still_shows_a_whole_row_at_the_smallest_zoom(view):
    tree = FamilyTree()
    broods = list(_breed_on(tree, 6, children=12))
    view.resize(320, view.minimumHeight())
    _show(view, tree)
    view.set_zoom(ft.MIN_ZOOM)
    QApplication.processEvents()
    assert view.horizontalScrollBar().isVisible()  # a wide tree: the bar takes its part of the height
    for nid in (broods[0][0], broods[3][5], broods[-1][-1]):
        view.reveal(nid)
        assert _on_screen(view, nid), nid
