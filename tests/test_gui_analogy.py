"""A : B :: C : ? in the app: three pinned images give the strip of C + s·(B − A), the preview shows
s = 1, and the strip exports as it is, with A, B and C in its recipe."""
import json

import numpy as np
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built)


def test_an_analogy_from_three_pinned_images(qtbot, open_window, tmp_path):
    from latent_explorer.core.export_settings import ExportSettings

    win = open_window(map_limit=100)
    assert win.morphs.make_analogy() == -1  # no pins: it says what to do instead
    for i in (3, 8, 20):
        win.views.map.toggle_pin(i)
    win.morphs.make_analogy()
    qtbot.waitUntil(lambda: win.views.morph.strip is not None and win.views.morph.strip.method == "analogy",
                    timeout=20000)
    strip, d = win.views.morph.strip, win.maps.data
    a, b, c = d.mean[3], d.mean[8], d.mean[20]
    k = strip.strengths.index(1.0)
    np.testing.assert_allclose(strip.latents[k], c + (b - a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(strip.latents[0], c, atol=1e-6)  # strength 0 is C itself
    np.testing.assert_array_equal(win.state.z, strip.latents[k])
    np.testing.assert_array_equal(win.views.preview.image, win.worker._model.decode((c + (b - a))[None])[0])
    assert ":" in win.views.morph.title.text() and "?" in win.views.morph.title.text()
    done = []
    win.exports.exported.connect(done.append)
    win.exports.export_morph(str(tmp_path / "a.gif"), settings=ExportSettings(scale=2, ease="ease-in-out", frames=5))
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    recipe = json.loads((tmp_path / "a.gif.json").read_text())
    assert recipe["method"] == "analogy" and len(recipe["keyframes"]) == 3
    assert recipe["frames"] == len(strip.frames)  # exported as it is: its frames are strengths


def test_an_analogy_result_becomes_a_morph_endpoint_and_a_bookmark(qtbot, open_window):
    win = open_window(map_limit=100)
    assert win.morphs.to_current() == -1  # nothing selected yet: it says what to do
    win.maps.select(40)
    qtbot.waitUntil(lambda: win.state.selected == 40, timeout=10000)
    assert win.morphs.to_current() == -1  # the latent on screen is the image itself
    for i in (3, 8, 20):
        win.views.map.toggle_pin(i)
    win.morphs.make_analogy()
    qtbot.waitUntil(lambda: win.views.morph.strip is not None and win.views.morph.strip.method == "analogy",
                    timeout=20000)
    result = win.state.z.copy()
    win.bookmarks.add("analogy result")
    np.testing.assert_array_equal(win.bookmarks.items[-1].latent, result)
    win.maps.select(40)
    qtbot.waitUntil(lambda: win.state.selected == 40, timeout=10000)
    win.bookmarks.go_to(len(win.bookmarks.items) - 1)
    np.testing.assert_array_equal(win.state.z, result)
    with qtbot.waitSignal(win.morphs.stripReady, timeout=20000) as sig:
        win.morphs.to_current()
    strip = sig.args[0]
    np.testing.assert_allclose(strip.latents[0], win.maps.data.mean[40], atol=1e-6)
    np.testing.assert_allclose(strip.latents[-1], result, atol=1e-6)
    assert strip.endpoints == (40, None)
