"""Names that agree everywhere: on the shapes model the map's labels are the shapes' names, and the
map can be coloured by each known factor, with a legend that names the values."""
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built)


def test_shapes_are_named_and_every_factor_is_a_colour_mode(qtbot, open_window):
    win = open_window(model="shapes", map_limit=200)
    d, m = win.maps.data, win.views.map
    assert d.label_name == "shape" and d.label_names == ["square", "ellipse", "triangle", "heart"]
    modes = [m.color_box.itemData(i) for i in range(m.color_box.count())]
    words = [m.color_box.itemText(i) for i in range(m.color_box.count())]
    assert modes[0] == "label" and words[0] == "shape"
    assert {"scale", "rotation", "x", "y", "object colour", "background"} <= set(words)
    assert [name for name, _ in m.legend.items] == sorted({d.label_text(i) for i in range(len(d.labels))},
                                                        key=["square", "ellipse", "triangle", "heart"].index)
    win.maps.select(0)
    assert win.maps.label(0) == f"#0 ({d.label_text(0)})" and d.label_text(0) in d.label_names
    m.set_color_mode(modes[words.index("object colour")])
    assert m.legend.title == "object colour" and len(m.legend.items) == 8
    m.set_color_mode(modes[words.index("x")])  # 16 positions: a ramp, not 16 colours
    assert m.legend.items == [] and "x" in m.legend.title


def test_digits_keep_their_numbers(qtbot, open_window):
    win = open_window(map_limit=100)
    d = win.maps.data
    assert d.label_name == "label" and d.label_names is None and d.label_text(0) == str(int(d.labels[0]))
