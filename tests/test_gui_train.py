"""Training a VAE inside the app: live curves and grids, the new model becomes current, cancel, resume."""
import json

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from gui_fixtures import qt_leak_guard  # noqa: F401

from latent_explorer.gui.app import launch
from latent_explorer.gui.main_window import LaunchOptions

pytestmark = pytest.mark.usefixtures("qt_leak_guard")


@pytest.fixture
def win(qtbot):
    _, w = launch(LaunchOptions(model="digits", device="cpu", demo=False, map_limit=300))
    qtbot.waitUntil(lambda: w.maps.data is not None, timeout=60000)
    yield w
    w.close()
    w.deleteLater()
    QApplication.processEvents()


def configure(dlg, name, epochs, limit, batch, latent=4):
    dlg.data_box.setCurrentIndex(dlg.data_box.findData("mnist-5k"))
    dlg.latent_dim.setValue(latent)
    dlg.set_length(epochs, "epochs")
    dlg.limit.setValue(limit)
    dlg.batch_size.setValue(batch)
    dlg.name.setText(name)


def test_a_one_epoch_run_shows_curves_and_grids_and_becomes_the_current_model(qtbot, win, tmp_path):
    dlg = win.training.open_dialog()
    configure(dlg, "tiny", epochs=1, limit=256, batch=64)
    out = dlg.out_dir()
    assert str(out).startswith(str(tmp_path.parent.parent))  # under the test's data folder, not the user's
    dlg.train_button.click()
    assert dlg.is_running() and not dlg.train_button.isEnabled() and dlg.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: win.models.summary is not None and win.models.summary.spec == str(out), timeout=60000)
    assert dlg.result is not None and not dlg.result.cancelled and dlg.result.epochs_done == 1
    assert len(dlg.plot.epochs) == 1 and dlg.plot.batches  # batch points and the epoch's points
    xs, ys = dlg.plot.recon_curve.getData()
    assert len(ys) == 1 and ys[0] > 0
    assert dlg.recon_view.image is not None and dlg.recon_view.image.ndim == 3
    assert dlg.sample_view.image is not None
    assert "batch 64" in dlg.timing.text() and "so far" in dlg.timing.text()
    assert win.models.summary.latent_shape == (4,)
    # its dataset fills the map (metrics.json records it)
    qtbot.waitUntil(lambda: win.maps.data is not None and win.maps.data.mean.shape[1:] == (4,), timeout=30000)
    assert win.maps.data.labels is not None
    assert json.loads((out / "metrics.json").read_text())["data"] == "mnist-5k"
    qtbot.waitUntil(lambda: not dlg.is_running(), timeout=5000)
    dlg.close()


def test_cancel_keeps_the_last_epoch_and_resume_continues_it(qtbot, win):
    dlg = win.training.open_dialog()
    configure(dlg, "resumable", epochs=20, limit=1024, batch=32)
    out = dlg.out_dir()
    dlg.train_button.click()
    qtbot.waitUntil(lambda: len(dlg.plot.epochs) >= 1, timeout=60000)
    dlg.cancel_button.click()
    qtbot.waitUntil(lambda: not dlg.is_running(), timeout=20000)
    assert dlg.result.cancelled and 1 <= dlg.result.epochs_done < 20
    done = dlg.result.epochs_done
    assert "Cancelled" in dlg.status.text()
    assert (out / "model.safetensors").exists()
    assert win.models.summary.spec == "digits"  # a cancelled run does not replace the explorer's model
    assert dlg.resume_button.isEnabled() and f"{done} done" in dlg.resume_button.text()
    dlg.set_length(done + 1, "epochs")
    dlg.resume_button.click()
    qtbot.waitUntil(lambda: win.models.summary.spec == str(out), timeout=60000)
    assert json.loads((out / "training.json").read_text())["epoch"] == done + 1
    assert len(dlg.plot.epochs) == done + 1  # the earlier epochs' points come back with the resume
    qtbot.waitUntil(lambda: not dlg.is_running(), timeout=5000)


# ---- small folders: the defaults, the warning line, never replacing a run silently, the plot ----
@pytest.fixture
def photo_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    d = tmp_path / "My Photos"
    d.mkdir()
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(d / f"{i:02d}.png")
    return d


@pytest.fixture
def dialog(qtbot, photo_folder):
    from latent_explorer.gui.dialogs.train_dialog import TrainDialog

    dlg = TrainDialog(folder=str(photo_folder))
    qtbot.addWidget(dlg)
    yield dlg
    dlg.shutdown()


def test_the_dialog_defaults_suit_a_small_folder(dialog, photo_folder):
    opts = dialog.options()
    assert (opts.minutes, opts.steps, opts.epochs) == (5.0, None, None)  # a time budget: about 5 minutes
    assert opts.batch_size is None and opts.augment == "auto" and opts.data == str(photo_folder)
    assert dialog.name.text() == "My-Photos-b1-z16"
    dialog.beta.setValue(4)
    dialog.latent_dim.setValue(8)
    assert dialog.name.text() == "My-Photos-b4-z8"


def test_a_run_with_flat_reconstructions_says_so_on_a_visible_line(qtbot, dialog):
    dialog.image_size.setValue(16)
    dialog.set_length(2, "steps")
    dialog.train_button.click()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=60000)
    assert dialog.result is not None and dialog.result.steps_done == 2
    assert dialog.plan.batch_size == 18 and dialog.plan.augment == "photo"
    assert not dialog.warning.isHidden() and "Reconstructions are still flat" in dialog.warning.text()
    assert "Done: 2 epochs (2 steps)" in dialog.status.text()


def test_train_asks_before_replacing_a_run_and_the_next_name_is_free(qtbot, dialog, monkeypatch):
    out = dialog.out_dir()
    out.mkdir(parents=True)
    (out / "model.safetensors").write_bytes(b"another run")
    asked = []
    monkeypatch.setattr(dialog, "confirm_replace", lambda path: asked.append(path) or False)
    assert dialog.start() is False and asked == [out]
    assert "Not started" in dialog.status.text() and (out / "model.safetensors").read_bytes() == b"another run"
    dialog.form.suggest_name()
    assert dialog.name.text() == "My-Photos-b1-z16-2"


def test_the_loss_plot_keeps_its_legend_off_the_curves_and_plain_numbers_on_its_axes(dialog):
    plot = dialog.plot
    for p in (plot.main, plot.klp):
        assert not p.getAxis("left").autoSIPrefix and not p.getAxis("bottom").autoSIPrefix
    for e in range(1, 6):
        plot.add_epoch(dict(epoch=e, train_loss=0.004 / e, train_recon=0.004 / e, train_kl=0.0001 * e,
                            test_neg_elbo=0.005 / e))
    dialog.show()
    QApplication.processEvents()
    legend = plot.legend.sceneBoundingRect()
    for p in (plot.main, plot.klp):
        assert not legend.intersects(p.vb.sceneBoundingRect())
        assert "x0.0" not in p.getAxis("left").labelString()
