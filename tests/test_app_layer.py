"""The application layer without Qt: latent state and undo, sessions captured and planned back,
map generations, the request rules. These run headless, like core/ (test_headless checks that
nothing here imports Qt)."""
import numpy as np

from latent_explorer.app import session_io
from latent_explorer.app.map_generations import MapGenerations
from latent_explorer.app.state import LatentState
from latent_explorer.core.session import Bookmark, Session


def test_state_edits_commit_once_per_gesture_and_undo_redo_walk_the_history():
    s, seen = LatentState(), []
    s.connect(seen.append)
    s.reset(np.zeros(3, np.float32))
    for v in (0.5, 1.0, 1.5):  # one drag: three uncommitted edits
        s.set_dim(0, v, origin="slider")
    assert len(s.history) == 1 and seen[-1] == "slider"
    s.commit()
    assert len(s.history) == 2
    assert s.undo() and s.z[0] == 0.0
    assert s.redo() and s.z[0] == 1.5
    assert not s.redo()


def test_a_session_round_trips_through_capture_and_plan_restore(tmp_path):
    z = np.arange(16, dtype=np.float32) / 10
    snap = session_io.Snapshot(
        model_spec="digits", model_hash="abc", images=None, latent=z, latent_source="image #3", selected=3,
        bookmarks=[Bookmark("mark", z * 2)], history=[(z * 0, "initial"), (z, "image #3")], history_position=1,
        temperature=0.7, color_by="density", projection="pca", view=[-1, 1, -2, 2],
        morph=session_io.MorphSpec(np.stack([z, -z]), (3, 7), "#3 → #7", "lerp", 9))
    path = session_io.capture(snap).save(tmp_path / "s")
    s = Session.load(path)
    plan = session_io.plan_restore(s, (16,), map_size=100, projection="pca")
    assert plan.notes == []
    np.testing.assert_array_equal(plan.latent, z)
    assert plan.selected == 3 and plan.temperature == 0.7 and plan.color_by == "density"
    assert plan.view == [-1, 1, -2, 2] and plan.projection is None  # same projection: just the view
    assert plan.morph.ends == (3, 7) and plan.morph.method == "lerp" and plan.morph.frames == 9
    assert [b.name for b in plan.bookmarks] == ["mark"] and plan.history_position == 1
    assert [src for _, src in plan.history] == ["initial", "image #3"]


def test_a_plan_names_what_does_not_fit_the_model_or_the_map_now_open(tmp_path):
    s = Session(model_spec="digits", current_latent=np.zeros(16, np.float32), selected_index=50,
                bookmarks=[Bookmark("ok", np.zeros(2, np.float32)), Bookmark("other", np.zeros(16, np.float32))],
                map_settings={"projection": "tsne"})
    plan = session_io.plan_restore(s, (2,), map_size=10, projection="pca")
    assert plan.latent is None and plan.selected is None
    assert [b.name for b in plan.bookmarks] == ["ok"]
    assert plan.projection == "tsne"
    assert any("not on this map" in n for n in plan.notes)
    assert any("1 bookmark(s)" in n for n in plan.notes)
    assert any("shape (16,)" in n for n in plan.notes)


def test_missing_images_are_noted_and_dropped(tmp_path):
    there = tmp_path / "a.png"
    there.write_bytes(b"x")
    s = Session(model_spec="digits")
    s.extra["image_files"] = [str(there), str(tmp_path / "gone.png")]
    images, notes = session_io.available_images(s)
    assert images == [str(there)] and notes == ["1 of the session's image files are missing"]
    s2 = Session(model_spec="digits", images_dir=str(tmp_path / "nowhere"))
    assert session_io.available_images(s2)[0] is None


def test_map_generations_accept_only_the_newest_asked_for():
    g = MapGenerations()
    a = g.next()
    b = g.next()
    assert not g.accept(a)  # asked for before b: never shown after it
    assert g.accept(b)
    c = g.next()  # e.g. a cancel: nothing in flight may be shown
    assert not g.accept(b) and g.is_current(c)


def test_a_commit_tells_the_history_listeners():
    s, told = LatentState(), []
    s.connect_history(lambda: told.append(len(s.history)))
    s.reset(np.zeros(2, np.float32))
    s.set_dim(0, 1.0)
    assert s.editing and told == []
    s.commit()
    assert not s.editing and told == [2]
