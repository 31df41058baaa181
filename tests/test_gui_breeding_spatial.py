"""Breeding on a diffusers VAE with spatial latents (a slow decoder): approximate thumbnails at once, the
full decode of a child clicked, and an exported child whose lineage replays to the same pixels."""
import numpy as np
import pytest
from PIL import Image

from gui_fixtures import qt_leak_guard  # noqa: F401

pytest.importorskip("diffusers")

from test_gui_spatial import kl_folder, wait_final, window  # noqa: E402,F401


def test_breeding_spatial_latents_with_approximate_thumbnails(qtbot, window, tmp_path):  # noqa: F811
    from latent_explorer.core.export import read_png_recipe
    from latent_explorer.core.latent.breeding import replay

    win = window()
    b = win.breeding
    b.open()
    for i in (0, 3):
        win.views.map.toggle_pin(i)
    assert len(b.add_pinned()) == 2
    kids = b.breed(n=3, mutation=0.3, seed=42)
    shape = tuple(win.models.summary.latent_shape)
    assert len(shape) == 3 and all(b.tree.nodes[k].latent.shape == shape for k in kids)
    qtbot.waitUntil(lambda: set(b.thumbs) >= set(b.tree.nodes), timeout=30000)
    assert b.approximate and "approximate" in b.panel.status.text()
    b.look(kids[1])
    wait_final(qtbot, win)
    model = win.worker._model
    np.testing.assert_array_equal(win.views.preview.image, model.decode(b.tree.nodes[kids[1]].latent[None])[0])
    with qtbot.waitSignal(win.exports.exported, timeout=30000):
        b.export_child(str(tmp_path / "child.png"))
    z = replay(read_png_recipe(tmp_path / "child.png")["lineage"])
    np.testing.assert_array_equal(z, b.tree.nodes[kids[1]].latent)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "child.png").convert("RGB")), model.decode(z[None])[0])
