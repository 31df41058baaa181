"""Training a VAE inside the app: live curves and grids, the new model becomes current, cancel, resume."""
import json

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
    dlg.epochs.setValue(epochs)
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
    assert "s per epoch" in dlg.timing.text()
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
    dlg.epochs.setValue(done + 1)
    dlg.resume_button.click()
    qtbot.waitUntil(lambda: win.models.summary.spec == str(out), timeout=60000)
    assert json.loads((out / "training.json").read_text())["epoch"] == done + 1
    assert len(dlg.plot.epochs) == done + 1  # the earlier epochs' points come back with the resume
    qtbot.waitUntil(lambda: not dlg.is_running(), timeout=5000)
