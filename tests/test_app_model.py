"""The application model (app/model.py), its commands (app/commands.py) and sessions as its dump."""
from __future__ import annotations

import numpy as np
import pytest

from latent_explorer.app import session_io
from latent_explorer.app.model import ExplorerModel
from latent_explorer.core.session import Session


def test_each_field_change_emits_its_own_event_and_an_equal_value_emits_none():
    m = ExplorerModel()
    seen = []
    m.events.selected.connect(lambda v: seen.append(("selected", v)))
    m.events.pins.connect(lambda v: seen.append(("pins", v)))
    m.events.temperature.connect(lambda v: seen.append(("temperature", v)))
    m.selected = 3
    m.selected = 3          # the same value: no event
    m.pins = (1, 2)
    m.temperature = 0.5
    assert seen == [("selected", 3), ("pins", (1, 2)), ("temperature", 0.5)]


def test_array_fields_compare_by_identity_so_a_new_map_is_always_an_event():
    m = ExplorerModel()
    seen = []
    m.events.morph.connect(seen.append)
    spec = session_io.MorphSpec(np.zeros((2, 4), np.float32), (0, 1))
    m.morph = spec
    m.morph = spec                       # the same object: nothing new
    m.morph = session_io.MorphSpec(np.zeros((2, 4), np.float32), (0, 1))  # equal arrays, a new morph
    assert len(seen) == 2


def test_forget_map_drops_what_indexed_the_old_map():
    m = ExplorerModel()
    m.selected, m.pins = 4, (1, 5)
    m.forget_map()
    assert m.selected is None and m.pins == ()


class _Summary:
    spec, resizable, latent_shape, image_size, tiers = "digits", False, (4,), (28, 28), None


def _model_with_state() -> ExplorerModel:
    from latent_explorer.core.session import Bookmark

    m = ExplorerModel()
    m.summary = _Summary()
    m.model_hash = "abc"
    m.selected, m.pins, m.temperature, m.color_by = 2, (1, 3), 0.7, "label"
    m.bookmarks = (Bookmark("b", np.ones(4, np.float32)),)
    m.morph = session_io.MorphSpec(np.arange(8, dtype=np.float32).reshape(2, 4), (1, 3), "#1 → #3", "lerp", 9)
    m.latent.set(np.full(4, 0.25, np.float32), "a click")
    return m


def test_a_session_is_the_models_dump_and_a_fresh_model_gets_the_same_fields_back(tmp_path):
    m = _model_with_state()
    path = session_io.dump(m).save(tmp_path / "s.lexplore")
    s = Session.load(path)
    fresh = ExplorerModel()
    plan = session_io.plan_restore(s, (4,), map_size=10, projection=None)
    session_io.apply_plan(fresh, plan)
    assert plan.notes == []
    assert (fresh.selected, fresh.pins, fresh.temperature, fresh.color_by) == (2, (1, 3), 0.7, "label")
    assert [b.name for b in fresh.bookmarks] == ["b"]
    assert fresh.morph.ends == (1, 3) and fresh.morph.method == "lerp" and fresh.morph.frames == 9
    assert np.array_equal(fresh.morph.keys, m.morph.keys)
    assert np.array_equal(fresh.latent.z, m.latent.z) and fresh.latent.source == "a click"


def test_pins_off_the_map_are_a_note_not_an_exception(tmp_path):
    m = _model_with_state()
    m.pins = (1, 8)
    s = Session.load(session_io.dump(m).save(tmp_path / "s.lexplore"))
    plan = session_io.plan_restore(s, (4,), map_size=5, projection=None)
    assert plan.pins == (1,)
    assert any("pinned" in n for n in plan.notes)


def test_before_a_model_is_open_there_is_nothing_to_dump():
    assert session_io.dump(ExplorerModel()) is None


@pytest.mark.parametrize("bad", [{"temperature": "hot"}, {"pins": "1,2"}, {"pins": [1, "x", None, True]},
                                 {"history_position": [1]}])
def test_wrong_typed_fields_in_a_session_are_notes_or_ignored_never_exceptions(tmp_path, bad):
    m = _model_with_state()
    s = session_io.dump(m)
    s.extra.update(bad)
    s = Session.load(s.save(tmp_path / "s.lexplore"))
    plan = session_io.plan_restore(s, (4,), map_size=10, projection=None)
    fresh = ExplorerModel()
    session_io.apply_plan(fresh, plan)
    assert isinstance(fresh.temperature, float)
    assert all(isinstance(i, int) for i in fresh.pins)
