"""The guided lab: every step's Do it, first to last, drives the app (a selection and its Theory
numbers, z = μ + σ·ε samples, a sample of the prior, the prior and holes on the map, the 2-d
model and its β = 0 sibling, the frames for the spatial views) with no error in the banner;
Back / Next stay within the steps; leaving a step drops what it waited for; a model that fails
to load fails the step, not the window. The lab's dock is built here as the window would."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

from latent_explorer.gui.controllers.lab import AE_NAME, LabController, Step, ae_folder, lab_steps
from latent_explorer.gui.widgets.lab_panel import LabPanel

STEP_TIMEOUT = 60000
#: between steps, as a student reads: TheoryController.request (80 ms after the latent rests) does not
#: check models.is_loading, so a model loaded within that moment gets a request for the old latent
READ_MS = 150


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.previews.first_preview_at is not None
                             and w.views.theory is not None)


def add_lab(win, steps=None):
    """The Lab dock and its controller, as main_window builds them."""
    panel = LabPanel()
    dock = QDockWidget("Lab", win)
    dock.setObjectName("LabDock")
    dock.setWidget(panel)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    lab = LabController(win.ctx, panel, dock, steps=steps)
    return lab, panel, dock


def settle(qtbot, win):
    qtbot.wait(READ_MS)
    qtbot.waitUntil(lambda: win.worker.pending_count() == 0 and not any(
        win.worker.is_busy(k) for k in ("theory", "posterior", "preview", "recon", "map")), timeout=STEP_TIMEOUT)


def run_step(qtbot, lab, panel):
    panel.do_button.click()
    qtbot.waitUntil(lambda: lab.state in ("done", "failed"), timeout=STEP_TIMEOUT)
    assert lab.state == "done", f"step {lab.index + 1} ({lab.step.title}): {panel.status.text()}"


def numbers_of_selection(win):
    n, d, i = win.theory.image_numbers, win.maps.data, win.maps.selected
    assert i is not None and n is not None
    np.testing.assert_allclose(n.mean, d.mean[i].reshape(-1), atol=1e-5)
    return n


def test_every_step_first_to_last_drives_the_app(qtbot, open_window):
    win = open_window(map_limit=300)
    errors = []
    win.ctx.errorShown.connect(errors.append)
    lab, panel, dock = add_lab(win)
    lab.open()
    assert dock.isVisible() and panel.do_button.isEnabled()
    assert lab.count == len(lab_steps()) >= 6
    kinds = [next((a[1] for a in s.actions if a[0] == "model"), s.actions[-1][0]) for s in lab.steps]
    done = []
    lab.stepDone.connect(done.append)
    for k in range(lab.count):
        assert lab.index == k and panel.progress.value() == k + 1 and panel.progress.maximum() == lab.count
        assert panel.title.text() == lab.step.title and "Do it" in panel.text.text()
        run_step(qtbot, lab, panel)
        assert lab.highlight.active and lab.highlight.rects(), "a done step points at the window"
        assert panel.status.text().startswith("Done")
        v, kind = win.views, kinds[k]
        if k == 0:  # the encoder: a selection, and its μ, σ², KL in the Theory panel
            assert win.theory_dock.isVisible()
            n = numbers_of_selection(win)
            assert np.isfinite(n.kl_per_dim).all() and len(n.var) == 16
            assert len(v.theory.mu.getData()[1]) == 16
        elif k == 1:  # z = μ + σ·ε: one sample decoded, then a cloud of 16 on the map
            assert len(win.theory.draws.z) == 16
            assert len(win.theory.overlay.cloud.getData()[0]) == 16
            assert win.state.source.startswith("posterior sample")
            assert "z = μ + σ·ε" in v.theory.steps.text()
        elif k == 2:  # the prior, decoded at T = 1
            assert v.temperature.value() == 1.0
            assert win.state.source.startswith("random sample T 1.00")
        elif k == 3:  # KL and the prior's rings, the data and the holes
            assert v.theory.prior_check.isChecked() and win.theory.hole_grid is not None
            assert win.model.prior_holes is not None  # a click in one decodes it
            assert len(v.theory.kl_bars.opts["height"]) == 16
        elif kind == "digits-2d":
            assert win.models.summary.spec == "digits-2d" and win.maps.data.projection.method == "identity"
            assert numbers_of_selection(win).beta == 1.0
            assert win.theory.hole_grid is not None and win.theory.hole_grid[1].any()
        elif isinstance(kind, str) and kind.endswith(AE_NAME):
            assert win.models.summary.spec == str(ae_folder())
            n = numbers_of_selection(win)
            assert n.beta == 0.0 and np.sqrt(n.var).max() < 0.05, "β = 0: σ collapses"
            assert win.theory.hole_grid is not None
        else:  # the Stable Diffusion step: no model of that kind bundled, the frames point at its views
            assert kind == "spatial" and k == lab.count - 1
            pointed = {w for w, _ in lab.highlight.targets}
            assert v.slider_stack in pointed and v.preview in pointed
            assert "Stable Diffusion" in win.statusBar().currentMessage()
        if k < lab.count - 1:
            settle(qtbot, win)  # a student reads what happened before going on
            panel.next_button.click()
    assert done == list(range(lab.count))
    assert errors == [] and not win.views.banner.isVisible()
    lab.stop()
    assert not lab.highlight.active


def test_the_steps_as_data(monkeypatch):
    import latent_explorer.app.lab as lab_module
    from latent_explorer.app.lab import LabRunner, read_steps, steps_file
    from latent_explorer.gui.main_window import LAB_TARGETS

    with_ae = lab_steps()
    monkeypatch.setattr(lab_module, "ae_folder", lambda: None)
    plain = lab_steps()
    assert len(plain) == 6 and len(with_ae) == 6 + (ae_folder() is not None)
    for s in with_ae:
        assert s.title and s.do and s.look and s.targets
        assert 2 <= s.text.count(". ") + 1 <= 4, s.title  # a few short sentences
        for op, *args in s.actions:
            assert hasattr(LabRunner, f"_op_{op}"), op
            assert [type(a) for a in args] == [t for _, t in lab_module.OPS[op]][:len(args)], (op, args)
        for name, label in s.targets:
            assert name in LAB_TARGETS or name == "theory"
    assert [s.title for s in plain] == [s.title for s in read_steps(steps_file())[0]]


def test_back_next_bounds_and_a_step_left_or_failed(qtbot, open_window):
    win = open_window(map_limit=120)
    errors = []
    win.ctx.errorShown.connect(errors.append)
    lab, panel, _ = add_lab(win)
    changed = []
    lab.stepChanged.connect(changed.append)
    assert lab.index == 0 and not panel.back_button.isEnabled() and panel.next_button.isEnabled()
    assert lab.back() == 0
    for k in range(1, lab.count):
        panel.next_button.click()
        assert lab.index == k and panel.progress.value() == k + 1
    assert not panel.next_button.isEnabled() and panel.back_button.isEnabled()
    assert lab.next() == lab.count - 1
    assert lab.go(99) == lab.count - 1 and lab.go(-5) == 0
    assert changed[:lab.count] == [0] + list(range(1, lab.count))  # back() at 0 shows step 1 again

    # leaving a step drops what it waited for: the 2-d model loads, and the lab does nothing with it
    two_d = next(k for k, s in enumerate(lab.steps) if ("model", "digits-2d") in s.actions)
    lab.go(two_d)
    panel.do_button.click()
    assert lab.state == "waiting" and "digits-2d" in panel.status.text()
    panel.back_button.click()
    assert lab.state == "idle" and lab.index == two_d - 1
    qtbot.waitUntil(lambda: lab._map_ready("digits-2d"), timeout=STEP_TIMEOUT)
    qtbot.wait(50)
    assert lab.state == "idle" and win.maps.selected is None

    # the window stays usable during a step: a selection made by the user is the one it samples
    lab.go(1)
    win.maps.select(5)
    run_step(qtbot, lab, panel)
    assert win.maps.selected == 5 and len(win.theory.draws.z) == 16
    assert errors == []

    # a model that cannot be opened fails the step (with the reason), and the window keeps its model
    lab2, panel2, _ = add_lab(win, steps=[Step("broken", "A model that is not there.", "loads it",
                                               (("model", "/nonexistent/model"),), (), "")])
    panel2.do_button.click()
    qtbot.waitUntil(lambda: lab2.state == "failed", timeout=STEP_TIMEOUT)
    assert "Could not load" in panel2.status.text() and win.models.summary.spec == "digits-2d"
    lab.stop()
    lab2.stop()
