"""One scenario, two front-ends: driven headless through the application model and commands (no Qt
imported, tests/headless_scenario.py in a fresh interpreter), and through the window's own
controls. The headless run reopens its session in a fresh model equal field by field; the window
writes the same files (the same GIF frames, the same recipe, a session with the same fields)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gui_fixtures import qt_leak_guard, window_opener  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import headless_scenario as scenario  # noqa: E402


@pytest.fixture(scope="module")
def headless(tmp_path_factory):
    out = tmp_path_factory.mktemp("headless")
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "headless_scenario.py"), str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    return out, json.loads(run.stdout.strip().splitlines()[-1])


def test_the_scenario_runs_headless_with_no_qt_and_reopens_equal_field_by_field(headless):
    """open digits, select, pin two, morph, export a GIF, make a direction, breed two generations, save
    a session, open it in a fresh model: equal field by field, and Qt never imported."""
    _, r = headless
    assert r["qt_imported"] == []
    assert r["differ"] == [], r
    assert r["notes"] == []
    assert {"morph.gif", "morph.gif.json", "scenario.lexplore"} <= set(r["files"])
    assert r["gif_bytes"] > 1000 and r["generations"] == [6, 6] and r["directions"] == 1
    selected = r["events"][0]
    assert selected[0] == "selected" and r["events"][1] == ["pins", [selected[1]]]
    assert r["events"][2][0] == "pins" and len(r["events"][2][1]) == 2


@pytest.fixture
def open_window(qtbot, qt_leak_guard):  # noqa: F811
    yield from window_opener(qtbot, lambda w: w.maps.data is not None and w.previews.first_preview_at is not None)


def test_the_same_scenario_through_the_window_writes_the_same_files(qtbot, open_window, headless, tmp_path):
    import imageio.v3 as iio

    from latent_explorer.app.model import ExplorerModel
    from latent_explorer.app.session_io import apply_plan, plan_restore
    from latent_explorer.core.session import Session

    out, _ = headless
    win = open_window(map_limit=ExplorerModel().map_limit)
    v, d = win.views, win.maps.data
    a, b = scenario.scenario_images(d)
    win.maps.select(a)                                      # a click on the map
    win.bookmarks.add("a zero")                             # Ctrl+D
    v.map.toggle_pin(a)                                     # Ctrl-clicks
    v.map.toggle_pin(b)
    assert win.model.pins == (a, b)
    v.morph.frames_spin.setValue(scenario.FRAMES)
    x, y = d.xy[b]
    v.map.morphDropped.emit(a, float(x), float(y), b)       # drag a onto b
    qtbot.waitUntil(lambda: win.ctx.drawn.strip is not None and not win.morphs.pending, timeout=30000)
    gif = tmp_path / "morph.gif"
    written = []
    win.exports.exported.connect(written.append)
    win.exports.export_morph(str(gif), fps=scenario.FPS)
    c = win.ctx.directions
    c.set_group("from", "label", 0)
    c.set_group("to", "label", 1)
    c.make(name=scenario.DIRECTION)
    qtbot.waitUntil(lambda: bool(written) and len(win.model.directions) == 1, timeout=30000)
    v.temperature.setValue(scenario.TEMPERATURE)
    br = win.breeding
    br.add_pinned()
    gen1 = br.breed(n=6, mutation=0.2, seed=7)
    br.set_parents(gen1[:2])
    gen2 = br.breed(n=6, mutation=0.2, seed=8)
    br.look(gen2[0])
    session = tmp_path / "scenario.lexplore"
    qtbot.waitUntil(lambda: win.model.model_hash is not None, timeout=30000)
    assert win.sessions.save(str(session)) == str(session)

    # the same files: frames, recipe, and a session whose fields are the headless one's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["morph.gif", "morph.gif.json", "scenario.lexplore"]
    np.testing.assert_array_equal(iio.imread(gif, index=None), iio.imread(out / "morph.gif", index=None))
    assert json.loads((tmp_path / "morph.gif.json").read_text()) == json.loads((out / "morph.gif.json").read_text())
    mine = scenario.fields(win.model)
    theirs = json.loads((out / "fields.json").read_text())
    assert json.loads(json.dumps(mine)) == theirs
    reopened = ExplorerModel()
    s = Session.load(session)
    apply_plan(reopened, plan_restore(s, (16,), map_size=len(d.mean), projection=None))
    reopened.spec = s.model_spec
    assert json.loads(json.dumps(scenario.fields(reopened))) == theirs
