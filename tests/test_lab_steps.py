"""The guided lab's steps are data (resources/lab/steps.json) with typed actions, checked when read; the
Qt-free runner (app/lab.py) does a step over the application model and the commands."""
from __future__ import annotations

import json

import pytest

from latent_explorer.app.lab import OPS, TARGETS, LabRunner, lab_steps, read_steps, steps_file
from latent_explorer.core.errors import UserError


def _doc(step_actions, targets=None):
    return {"format": "latent-explorer lab steps", "version": 1, "steps": [
        {"title": "t", "text": "One. Two.", "do": "does it", "look": "look", "actions": step_actions,
         "targets": targets if targets is not None else [{"view": "map", "label": "the map"}]}]}


def test_the_bundled_steps_read_and_every_action_is_typed():
    steps = lab_steps()
    assert len(steps) >= 6
    for s in steps:
        for op, *args in s.actions:
            assert op in OPS
            assert len(args) <= len(OPS[op])
            for (name, kind), value in zip(OPS[op], args):
                assert isinstance(value, kind), (s.title, op, name, value)
        assert all(view in TARGETS for view, _ in s.targets)


@pytest.mark.parametrize("actions, words", [
    ([{"op": "fly"}], "unknown op 'fly'"),
    ([{"op": "sample"}], "needs 'k'"),
    ([{"op": "sample", "k": "many"}], "sample.k must be a int"),
    ([{"op": "sample", "k": True}], "sample.k must be a int"),
    ([{"op": "model", "spec": 3}], "model.spec must be a str"),
    ([{"op": "select", "keep": 1}], "select.keep must be a bool"),
    ([{"op": "random", "times": 2}], "takes no times"),
    (["vae"], "an action is an object"),
])
def test_a_wrong_action_is_refused_naming_the_file_and_the_step(tmp_path, actions, words):
    p = tmp_path / "lab.json"
    p.write_text(json.dumps(_doc(actions)), encoding="utf-8")
    with pytest.raises(UserError, match="lab.json, step 1") as e:
        read_steps(p)
    assert words in str(e.value)


def test_a_float_argument_takes_an_integer_and_a_switch_left_out_is_off(tmp_path):
    p = tmp_path / "lab.json"
    p.write_text(json.dumps(_doc([{"op": "temperature", "t": 1}, {"op": "select"}])), encoding="utf-8")
    (step,), _ = read_steps(p)
    assert step.actions == (("temperature", 1.0), ("select",))
    assert isinstance(step.actions[0][1], float)


@pytest.mark.parametrize("content", ["[" * 5000 + "]" * 5000, "{not json", json.dumps({"format": "other"}),
                                     json.dumps(_doc([], targets=[{"view": "nowhere", "label": "x"}]))])
def test_a_damaged_lab_file_is_one_clear_error(tmp_path, content):
    p = tmp_path / "lab.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match="lab.json"):
        read_steps(p)


def test_the_steps_file_ships_with_the_package():
    assert steps_file().is_file()


class _Commands:
    """Stand-in commands: a random sample sets the latent as the real one does."""

    def __init__(self, model):
        self.model = model

    def random_sample(self):
        import numpy as np

        m = self.model
        m.sample_seed += 1
        m.latent.set(np.zeros(4, np.float32), f"random sample T {m.temperature:.2f} seed {m.sample_seed}")
        return 1


def test_the_runner_does_a_step_over_the_model_and_reports_it():
    from latent_explorer.app.model import ExplorerModel
    from latent_explorer.app.lab import Step

    model = ExplorerModel()
    step = Step("prior", "One. Two.", "samples", (("temperature", 0.5), ("random",)), (("preview", "it"),), "Look.")
    runner = LabRunner(model, _Commands(model), [step])
    states, done = [], []
    runner.state_changed.connect(lambda state, words: states.append(state))
    runner.step_done.connect(done.append)
    runner.do_it()
    assert model.temperature == 0.5 and model.latent.source == "random sample T 0.50 seed 1"
    assert runner.state == "done" and done == [0] and states[0] == "waiting"
    assert runner.go(3) == 0 and model.lab_step == 0   # (clamped to the one step; the model says which)
