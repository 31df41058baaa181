"""Compare models (what β does): every model with metrics on the rate–distortion plane, the checked
ones on one image and, for 2-d latents, their maps over the prior; the figures save as PNG and SVG."""
import json

import numpy as np
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

from latent_explorer.app.jobs.compare import rate_distortion_points


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.views.built)


def test_the_plane_lists_every_evaluated_model_with_its_metrics(tmp_path):
    user = tmp_path / "models" / "mine"
    user.mkdir(parents=True)
    (user / "config.json").write_text(json.dumps({"latent_dim": 2, "beta": 8.0}))
    (user / "metrics.json").write_text(json.dumps({"data": "mnist-5k", "evaluate": {"kl_nats": 1.5, "recon_nats": 190.0}}))
    (tmp_path / "models" / "unfinished").mkdir()
    points = {p.name: p for p in rate_distortion_points(tmp_path / "models")}
    assert {"digits", "digits-2d", "mine"} <= set(points) and "unfinished" not in points
    from latent_explorer.core.models.loading import bundled_models

    d2 = json.loads((bundled_models()["digits-2d"] / "metrics.json").read_text())["evaluate"]
    assert points["digits-2d"].kl_nats == pytest.approx(d2["kl_nats"]) and points["digits-2d"].beta == 1.0
    assert points["mine"].beta == 8.0 and not points["mine"].bundled and points["mine"].neg_elbo_nats == 191.5


def test_comparing_the_2d_models_on_one_image_and_saving_the_figures(qtbot, open_window, tmp_path):
    win = open_window(model="digits-2d", map_limit=200)
    win.maps.select(4)
    dialog = win.compare.open_dialog()
    checked = dialog.checked()
    assert checked and all(p.latent_dim == 2 for p in checked if p.spec != "digits-2d")
    qtbot.waitUntil(lambda: win.compare.results is not None and len(win.compare.results) == len(checked),
                    timeout=60000)
    results = win.compare.results
    # the window's own model gives the numbers the Theory panel and `explain` give
    from latent_explorer.core import explain

    mine = next(r for r in results if r.point.spec == "digits-2d")
    ref = explain.explain(win.worker._model, win.maps.data.images[4][None])[0]
    assert mine.recon_nats == pytest.approx(ref["recon_nats"], rel=1e-5)
    assert mine.map_xy.shape == (200, 2)
    np.testing.assert_allclose(mine.map_xy, win.maps.data.mean.reshape(200, 2), atol=1e-5)  # all 200, in order
    assert len(dialog.map_plots()) == sum(r.map_xy is not None for r in results)
    written = dialog.save_figures(str(tmp_path / "beta"))
    assert {p.rsplit(".", 1)[1] for p in written} == {"png", "svg"}
    assert all((tmp_path / p.rsplit("/", 1)[1]).stat().st_size > 500 for p in written)
