"""Sessions: round trip, atomic saves, and the crash-recovery offer."""
import os
import subprocess
import sys

import numpy as np
import pytest

from latent_explorer.core import paths
from latent_explorer.core.errors import UserError
from latent_explorer.core.autosave import Autosave
from latent_explorer.core.session import Bookmark, Morph, Session


def _session():
    rng = np.random.default_rng(0)
    return Session(
        model_spec="digits", model_hash="abc123", images_dir="/data/pics",
        map_settings={"projection": "pca", "colour_by": "label", "view": [-3, 3, -2, 2]},
        current_latent=rng.standard_normal(16).astype(np.float32), selected_index=42,
        bookmarks=[Bookmark("a three", rng.standard_normal(16).astype(np.float32))],
        morphs=[Morph("3 to 8", rng.standard_normal((2, 16)).astype(np.float32), "lerp", 24)],
        directions={"thickness": rng.standard_normal(16).astype(np.float32)},
        history=[rng.standard_normal(16).astype(np.float32) for _ in range(3)],
    )


def test_round_trip(tmp_path):
    s = _session()
    p = s.save(tmp_path / "mine")
    assert p.name == "mine.lexplore"
    r = Session.load(p)
    assert (r.model_spec, r.model_hash, r.images_dir, r.selected_index) == ("digits", "abc123", "/data/pics", 42)
    assert r.map_settings == s.map_settings
    np.testing.assert_array_equal(r.current_latent, s.current_latent)
    assert r.bookmarks[0].name == "a three"
    np.testing.assert_array_equal(r.bookmarks[0].latent, s.bookmarks[0].latent)
    assert (r.morphs[0].name, r.morphs[0].method, r.morphs[0].frames) == ("3 to 8", "lerp", 24)
    np.testing.assert_array_equal(r.morphs[0].keyframes, s.morphs[0].keyframes)
    np.testing.assert_array_equal(r.directions["thickness"], s.directions["thickness"])
    assert len(r.history) == 3


def test_a_failed_save_keeps_the_original_and_leaves_no_temp(tmp_path, monkeypatch):
    s = _session()
    p = s.save(tmp_path / "keep.lexplore")
    original = p.read_bytes()

    def boom(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(paths.os, "fsync", boom)
    s.model_spec = "shapes"
    with pytest.raises(OSError):
        s.save(p)
    assert p.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["keep.lexplore"]


def test_damaged_or_foreign_files_are_user_errors(tmp_path):
    (tmp_path / "x.lexplore").write_bytes(b"PK\x03\x04 nonsense")
    with pytest.raises(UserError, match="not a readable latent-explorer session"):
        Session.load(tmp_path / "x.lexplore")
    with pytest.raises(UserError, match="cannot read"):
        Session.load(tmp_path / "missing.lexplore")


def test_changed_or_missing_model_is_reported():
    s = _session()
    assert any("has changed" in n for n in s.check_model("digits", "zzz"))
    assert any("made with model 'digits'" in n for n in s.check_model("shapes", "abc123"))
    assert any("image folder" in n for n in s.check_model("digits", "abc123"))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # reaped: the pid names no process now
    return p.pid


def test_recovery_offered_after_a_crash_not_after_a_clean_exit(tmp_path):
    crashed = Autosave(tmp_path, pid=_dead_pid())
    crashed.start()
    crashed.save(_session())  # ... and the process died with its marker still there
    again = Autosave(tmp_path)
    assert again.recoverable()
    assert again.load_orphan().selected_index == 42
    again.start()
    again.save(_session())
    again.clean_exit()
    assert not again.path.exists() and not again.marker.exists()
    assert Autosave(tmp_path).orphans() == [crashed.path]  # a clean exit leaves nothing of its own
    Autosave(tmp_path).discard_orphans()
    assert not Autosave(tmp_path).recoverable() and os.listdir(tmp_path) == []
