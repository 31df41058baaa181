"""Breeding in the app (issue 12 §3): pinned images → a brood of children → tick some → the next
generation (at 1280 × 720 the tree keeps readable nodes and shows the newest generation); the family
tree goes back to any node; Ctrl+Z walks back across generations and a generation is undone and redone;
the tree survives a session save and reload in a fresh window; an exported child's recipe replays its
lineage to the same pixels."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built)


def _thumbs_for_all(qtbot, b):
    qtbot.waitUntil(lambda: set(b.thumbs) >= set(b.tree.nodes), timeout=20000)


def _click_item(qtbot, lst, nid):
    rows = [r for r in range(lst.count()) if int(lst.item(r).data(Qt.ItemDataRole.UserRole)) == nid]
    rect = lst.visualItemRect(lst.item(rows[0]))
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _two_generations(qtbot, win):
    b, p = win.breeding, win.breeding.panel
    view = next(m for m in win.menuBar().actions() if m.text() == "&View").menu()
    toggle = next(a for a in view.actions() if a.text().startswith("&Breed"))
    assert toggle.shortcut().toString() == "Ctrl+B" and not b.dock.isVisible()
    toggle.trigger()  # View → Breed
    assert b.dock.isVisible()
    for i in (3, 8, 20):
        win.views.map.toggle_pin(i)
    qtbot.mouseClick(next(w for w in p.findChildren(type(p.breed_button)) if w.text() == "+ Pinned"),
                     Qt.MouseButton.LeftButton)
    assert len(b.tree.parents) == 3 and p.parents.count() == 3
    p.count.setValue(6)
    qtbot.mouseClick(p.breed_button, Qt.MouseButton.LeftButton)
    gen1 = list(b.tree.children)
    assert len(gen1) == 6 and p.children.count() == 6
    _thumbs_for_all(qtbot, b)
    for r in (1, 4):
        p.children.item(r).setCheckState(Qt.CheckState.Checked)
    assert p.next_button.isEnabled() and "2" in p.next_button.text()
    qtbot.mouseClick(p.next_button, Qt.MouseButton.LeftButton)
    gen2 = list(b.tree.children)
    assert b.tree.parents == [gen1[1], gen1[4]] and all(b.tree.nodes[i].generation == 2 for i in gen2)
    _thumbs_for_all(qtbot, b)
    return gen1, gen2


def test_breed_two_generations_look_go_back_and_undo(qtbot, open_window):
    from latent_explorer.gui.widgets.family_tree import LABEL_PX

    win = open_window(map_limit=100, window_size=(1280, 720))
    b, p = win.breeding, win.breeding.panel
    gen1, gen2 = _two_generations(qtbot, win)
    model = win.worker._model
    # at 1280 × 720 the tree is drawn at a readable size (it scrolls), the newest generation in view
    assert p.tree.node_px() >= p.tree.min_node_px() and LABEL_PX * p.tree.zoom >= 9
    assert p.tree.newest == gen2
    first = p.tree.mapFromScene(p.tree.node_rect(gen2[0])).boundingRect()
    assert p.tree.viewport().rect().contains(first)
    # click a child: it is on the big preview, decoded as the preview decodes it
    _click_item(qtbot, p.children, gen2[2])
    child = b.tree.nodes[gen2[2]]
    np.testing.assert_array_equal(win.state.z, child.latent)
    np.testing.assert_array_equal(win.views.preview.image, model.decode(child.latent[None])[0])
    assert "g2·3" in win.views.preview.caption.text() and "ε" in win.views.preview.caption.text()
    # click a first-generation node in the tree: back to it, its brood in the grid
    p.tree.reveal(gen1[0])  # scrolled to it first, as a user would
    x, y = p.tree.positions[gen1[0]]
    pos = p.tree.mapFromScene(x + 20, y + 20)
    qtbot.mouseClick(p.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    assert b.current == gen1[0] and b.tree.children == gen1
    np.testing.assert_array_equal(win.state.z, b.tree.nodes[gen1[0]].latent)
    # Ctrl+Z walks back across generations: to the second-generation child looked at before
    win.views.menus.undo.trigger()
    np.testing.assert_array_equal(win.state.z, child.latent)
    assert b.current == gen2[2] and b.tree.children == gen2
    # a generation undone, then redone: the same children
    b.tree.go_to(gen2[0])
    undo = next(a for a in win.menuBar().actions()[1].menu().actions() if a.shortcut().toString() == "Ctrl+Alt+Z")
    undo.trigger()  # Edit → Undo breeding step
    assert not set(gen2) & set(b.tree.nodes) and b.tree.children == gen1 and p.children.count() == 6
    p.redo_button.click()
    assert b.tree.children == gen2
    np.testing.assert_array_equal(b.tree.nodes[gen2[2]].latent, child.latent)


def test_the_tree_survives_a_session_and_an_exported_child_replays_its_lineage(qtbot, open_window, tmp_path):
    from latent_explorer.core.export import read_png_recipe
    from latent_explorer.core.latent.breeding import replay
    from PIL import Image

    win = open_window(map_limit=100)
    b = win.breeding
    gen1, gen2 = _two_generations(qtbot, win)
    b.look(gen2[3])
    done = []
    win.exports.exported.connect(done.append)
    b.export_child(str(tmp_path / "child.png"))
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    recipe = read_png_recipe(tmp_path / "child.png")
    assert recipe["kind"] == "breeding" and recipe["model"] == "digits"
    z = replay(recipe["lineage"])
    np.testing.assert_array_equal(z, b.tree.nodes[gen2[3]].latent)
    pixels = np.asarray(Image.open(tmp_path / "child.png"))
    img = win.worker._model.decode(z[None])[0]
    np.testing.assert_array_equal(pixels, img[..., 0] if img.shape[-1] == 1 else img)

    path = win.sessions.save(str(tmp_path / "family"))
    before = {k: (n.parents, n.weights, n.seed, n.latent.copy()) for k, n in b.tree.nodes.items()}
    thumbs = dict(b.thumbs)
    other = open_window(map_limit=100)
    with qtbot.waitSignal(other.sessions.restored, timeout=30000):
        assert other.sessions.open(path)
    t = other.breeding.tree
    assert set(t.nodes) == set(before) and t.children == gen2 and t.parents == b.tree.parents
    for k, (parents, weights, seed, z) in before.items():
        n = t.nodes[k]
        assert (n.parents, n.weights, n.seed) == (parents, weights, seed)
        np.testing.assert_array_equal(n.latent, z)
    assert t.lineage(gen2[3]) == b.tree.lineage(gen2[3])
    _thumbs_for_all(qtbot, other.breeding)
    assert all(np.array_equal(other.breeding.thumbs[k], thumbs[k]) for k in before)
    assert other.breeding.panel.children.count() == len(gen2)
