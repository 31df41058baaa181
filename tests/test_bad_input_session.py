"""Malformed session files are one-line UserErrors; autosaves are per instance and never cross.

Every damaged ``.lexplore`` is made here: wrong JSON types, missing arrays, object arrays,
wrong dtypes and shapes, NaN, zip members that claim (or really unpack to) far too much.
The autosave tests run two "instances" in one folder: this process (alive) and the pid of a
child process that has exited (dead), plus a sleeping child as a second live instance.
"""
import io
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from latent_explorer.core import session as S
from latent_explorer.core.errors import UserError
from latent_explorer.core.autosave import Autosave, is_alive, process_start_time
from latent_explorer.core.session import Bookmark, Session


def _meta(**over):
    m = {"format": S.FORMAT, "version": 1, "model_spec": "digits", "model_hash": "", "images_dir": None,
         "map_settings": {}, "selected_index": None, "extra": {}, "bookmarks": [{"name": "b"}],
         "morphs": [], "directions": [], "history": 0}
    m.update(over)
    return m


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _zip(members: dict, compress=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as z:
        for name, data in members.items():
            z.writestr(name, data if isinstance(data, bytes) else json.dumps(data))
    return out.getvalue()


def _file(tmp_path, meta=None, arrays=None, raw_json=None) -> str:
    z = np.zeros(4, np.float32)
    arrays = _npz(bookmark_0=z) if arrays is None else arrays
    data = _zip({"session.json": raw_json if raw_json is not None else json.dumps(meta or _meta()).encode(),
                 "arrays.npz": arrays})
    p = tmp_path / "bad.lexplore"
    p.write_bytes(data)
    return str(p)


def _refused(path: str, needle: str):
    with pytest.raises(UserError) as e:
        Session.load(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(path), msg
    assert needle in msg, msg


def _object_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    return _zip({"bookmark_0.npy": buf.getvalue()}, zipfile.ZIP_STORED)


@pytest.mark.parametrize("over,needle", [
    ({"bookmarks": "x"}, "'bookmarks' is a string, expected a list"),
    ({"bookmarks": [{}]}, 'bookmark 0 is not an object with a string "name"'),
    ({"bookmarks": [{"name": 3}]}, "bookmark 0"),
    ({"bookmarks": ["b"]}, "bookmark 0"),
    ({"history": "3"}, "'history' is a string"),
    ({"history": -1}, "'history' is a number"),
    ({"history": 10**12}, "'history' is a number"),
    ({"selected_index": "4"}, "'selected_index' is a string"),
    ({"selected_index": True}, "'selected_index' is true"),
    ({"selected_index": 1.5}, "'selected_index' is a number"),
    ({"map_settings": []}, "'map_settings' is a list, expected an object"),
    ({"map_settings": None}, "'map_settings' is null"),
    ({"extra": "x"}, "'extra' is a string, expected an object"),
    ({"model_spec": 5}, "'model_spec' is a number"),
    ({"images_dir": ["a"]}, "'images_dir' is a list"),
    ({"directions": [1]}, "'directions' is a list, expected a list of names"),
    ({"morphs": [{"name": "m", "frames": "x"}]}, "morph 0"),
    ({"morphs": [{"name": "m", "method": 3}]}, "morph 0"),
    ({"morphs": [7]}, "morph 0 is not an object"),
    ({"version": "1"}, "'version' is a string"),
    ({"version": 99}, "made by a newer latent-explorer"),
    ({"format": "something-else"}, "not a latent-explorer session file"),
    ({"bookmarks": [{"name": "b"}] * 4}, "arrays.npz has no bookmark_1, which session.json lists"),
    ({"history": 2}, "arrays.npz has no history_0"),
    ({"directions": ["thick"]}, "arrays.npz has no direction_thick"),
])
def test_wrong_json_types_and_missing_arrays_name_the_file_and_the_problem(tmp_path, over, needle):
    _refused(_file(tmp_path, _meta(**over)), needle)


@pytest.mark.parametrize("raw,needle", [
    (b"[1, 2, 3]", "session.json holds a list, not an object"),
    (b"42", "session.json holds a number, not an object"),
    (b'"text"', "session.json holds a string"),
    (b"null", "session.json holds null"),
    (b"{not json", "session.json is not valid JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "session.json is not valid JSON"),  # too deep to parse
    (b"\xff\xfe\x00garbage", "session.json is not valid JSON"),
])
def test_session_json_that_is_not_an_object(tmp_path, raw, needle):
    _refused(_file(tmp_path, raw_json=raw), needle)


@pytest.mark.parametrize("arrays,needle", [
    (_object_npy(), "holds Python objects (pickled data)"),
    (_npz(bookmark_0=np.arange(4)), "has dtype int64, expected floating-point"),
    (_npz(bookmark_0=np.array(["a", "b"])), "expected floating-point"),
    (_npz(bookmark_0=np.complex64([1, 2])), "expected floating-point"),
    (_npz(bookmark_0=np.float32(3.0)), "has shape (), expected a non-empty array"),
    (_npz(bookmark_0=np.zeros((0, 4), np.float32)), "expected a non-empty array"),
    (_npz(bookmark_0=np.zeros((1,) * 6, np.float32)), "1 to 5 dimensions"),
    (_npz(bookmark_0=np.array([0.0, np.nan], np.float32)), "NaN or infinite"),
    (_npz(bookmark_0=np.array([np.inf], np.float64)), "NaN or infinite"),
    (_zip({"bookmark_0.npy": b"\x93NUMPY\x01\x00garbage"}), "is not a readable array"),
    (_zip({"bookmark_0.npy": b"not an npy file"}), "is not a readable array"),
    (b"not a zip", "not a readable latent-explorer session"),
])
def test_bad_arrays_are_refused(tmp_path, arrays, needle):
    _refused(_file(tmp_path, arrays=arrays), needle)


def test_a_truncated_npy_is_refused_not_allocated(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.zeros(4, np.float32))
    big = io.BytesIO()  # a header promising 10**12 floats over 8 bytes: refused from the header alone
    np.lib.format.write_array_header_1_0(big, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    for data in (buf.getvalue()[:-4], big.getvalue() + b"\0" * 8):
        _refused(_file(tmp_path, arrays=_zip({"bookmark_0.npy": data})), "is truncated")


def _claim_size(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the zip headers of member ``name`` to claim ``size`` bytes unpacked."""
    b = bytearray(data)
    i = b.find(b"PK\x01\x02")
    while i >= 0:
        n = struct.unpack_from("<H", b, i + 28)[0]
        if bytes(b[i + 46:i + 46 + n]) == name:
            struct.pack_into("<I", b, i + 24, size)
        i = b.find(b"PK\x01\x02", i + 4)
    return bytes(b)


@pytest.mark.parametrize("member", [b"session.json", b"arrays.npz"])
def test_a_member_whose_header_claims_gigabytes_is_refused_before_reading(tmp_path, member):
    p = tmp_path / "bomb.lexplore"
    p.write_bytes(_claim_size(Session(bookmarks=[Bookmark("b", np.zeros(4, np.float32))]).to_bytes(),
                              member, 0xFFFF_FFF0))
    _refused(str(p), f"{member.decode()} would unpack to 4.0 GiB, over the")


def test_an_npy_inside_arrays_npz_claiming_gigabytes_is_refused(tmp_path):
    inner = _claim_size(_zip({"bookmark_0.npy": _npz()}), b"bookmark_0.npy", 0xFFFF_FFF0)
    _refused(_file(tmp_path, arrays=inner), "arrays.npz member bookmark_0.npy would unpack to 4.0 GiB")


def test_real_highly_compressible_members_over_the_caps_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "MAX_JSON_BYTES", 10_000)
    _refused(_file(tmp_path, raw_json=json.dumps(_meta()).encode() + b" " * 50_000), "session.json would unpack to")
    monkeypatch.setattr(S, "MAX_ARRAY_BYTES", 100_000)
    zeros = io.BytesIO()
    np.savez_compressed(zeros, bookmark_0=np.zeros(4, np.float32), history_0=np.zeros(60_000, np.float32))
    _refused(_file(tmp_path, arrays=zeros.getvalue()), "history_0.npy would unpack to")
    # every member under the cap, but all of them together over it
    many = io.BytesIO()
    np.savez_compressed(many, bookmark_0=np.zeros(4, np.float32),
                        **{f"history_{i}": np.zeros(10_000, np.float32) for i in range(4)})
    _refused(_file(tmp_path, arrays=many.getvalue()), "in all, over the")
    # the compression ratio, once a member is past the floor
    monkeypatch.setattr(S, "MAX_ARRAY_BYTES", 512 << 20)
    monkeypatch.setattr(S, "RATIO_FLOOR", 1000)
    _refused(_file(tmp_path, arrays=zeros.getvalue()), "like a zip bomb; refused")


def test_the_whole_file_is_capped_before_reading(tmp_path, monkeypatch):
    p = _file(tmp_path)
    monkeypatch.setattr(S, "MAX_FILE_BYTES", 100)
    _refused(p, "more than a session file can be")


def test_a_valid_session_still_loads_after_the_checks(tmp_path):
    s = Session(current_latent=np.ones((4, 2, 2), np.float16), bookmarks=[Bookmark("b", np.ones(3))],
                history=[np.zeros(3, np.float32)] * 2, map_settings={"view": [0, 1, 0, 1]})
    r = Session.load(s.save(tmp_path / "ok"))
    assert r.current_latent.dtype == np.float32 and r.current_latent.shape == (4, 2, 2)
    assert [b.name for b in r.bookmarks] == ["b"] and len(r.history) == 2
    fortran = io.BytesIO()
    np.savez(fortran, bookmark_0=np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3)))
    r = Session.load(_file(tmp_path, arrays=fortran.getvalue()))
    np.testing.assert_array_equal(r.bookmarks[0].latent, np.arange(6).reshape(2, 3))


# -------------------------------------------------------------------- autosave: one per instance
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def sleeper():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield p.pid
    p.kill()
    p.wait()


def _crashed(folder, pid, selected=1) -> Autosave:
    a = Autosave(folder, pid=pid)
    a.start()
    a.save(Session(selected_index=selected))
    return a


def test_is_alive():
    assert is_alive(os.getpid()) and Autosave.is_alive(os.getpid(), process_start_time())
    assert not is_alive(_dead_pid())
    assert not is_alive(os.getpid(), "not my start time")  # a reused pid
    assert not is_alive(0) and not is_alive(-5) and not is_alive(2**40) and not is_alive("x")


def test_a_live_instance_is_never_offered_nor_deleted_a_dead_one_is(tmp_path, sleeper):
    me = Autosave(tmp_path)
    me.start()
    me.save(Session(selected_index=7))
    other = _crashed(tmp_path, sleeper, 8)  # another window, still running
    dead = _crashed(tmp_path, _dead_pid(), 9)
    assert me.path.name == f"autosave-{os.getpid()}.lexplore" and me.marker.name == f"running-{os.getpid()}"
    for observer in (me, Autosave(tmp_path, pid=sleeper)):
        assert observer.orphans() == [dead.path] and observer.recoverable()
    assert me.load_orphan().selected_index == 9
    me.start()  # starting again cleans up nothing of a live instance
    assert other.path.exists() and other.marker.exists() and dead.path.exists()
    me.discard_orphans()
    assert not dead.path.exists() and not dead.marker.exists()
    assert other.path.exists() and other.marker.exists() and me.path.exists() and me.marker.exists()
    assert not me.recoverable()
    me.clean_exit()
    assert not me.path.exists() and not me.marker.exists() and other.path.exists()
    assert not Autosave(tmp_path, pid=sleeper).recoverable()  # this process is alive: never offered


def test_orphans_newest_first_and_a_reused_pid_counts_as_dead(tmp_path, sleeper):
    old = _crashed(tmp_path, _dead_pid(), 1)
    os.utime(old.path, (1_000_000, 1_000_000))
    new = _crashed(tmp_path, _dead_pid(), 2)
    reused = _crashed(tmp_path, sleeper, 3)
    reused.marker.write_text(json.dumps({"pid": sleeper, "start_time": "1"}))
    os.utime(reused.path, (2_000_000, 2_000_000))
    me = Autosave(tmp_path)
    assert me.orphans() == [new.path, reused.path, old.path]
    assert me.load_orphan().selected_index == 2 and me.load_orphan(old.path).selected_index == 1
    foreign = _crashed(tmp_path, _dead_pid(), 4)  # another host's instance: cannot be checked, kept
    foreign.marker.write_text(json.dumps({"pid": foreign.pid, "host": "some-other-host"}))
    assert foreign.path not in me.orphans()
    me.discard_orphans()
    assert sorted(os.listdir(tmp_path)) == sorted([foreign.path.name, foreign.marker.name])


def test_the_legacy_shared_pair_is_recovered_only_when_its_pid_is_dead(tmp_path, sleeper):
    Session(selected_index=5).save(tmp_path / "autosave.lexplore")
    (tmp_path / "running").write_text(str(sleeper))
    me = Autosave(tmp_path)
    assert not me.recoverable()
    me.discard_orphans()
    assert (tmp_path / "autosave.lexplore").exists() and (tmp_path / "running").exists()
    (tmp_path / "running").write_text(str(_dead_pid()))
    assert me.orphans() == [tmp_path / "autosave.lexplore"] and me.load_orphan().selected_index == 5
    me.discard_orphans()
    assert os.listdir(tmp_path) == []
    with pytest.raises(UserError, match="no autosave left by a crashed run"):
        me.load_orphan()


def test_start_removes_only_dead_instances_temp_files(tmp_path, sleeper):
    dead = _dead_pid()
    stale = [f".autosave-{dead}.lexplore.x1.tmp", f".running-{dead}.x2.tmp", ".autosave.lexplore.x3.tmp",
             f".autosave-{os.getpid()}.lexplore.x4.tmp"]
    live = [f".autosave-{sleeper}.lexplore.y1.tmp", "notes.txt", "autosave-12x.lexplore"]
    _crashed(tmp_path, sleeper)
    for name in stale + live:
        (tmp_path / name).write_bytes(b"partial")
    Autosave(tmp_path).start()
    left = set(os.listdir(tmp_path))
    assert not left & set(stale) and set(live) <= left


def test_a_damaged_orphan_is_a_user_error(tmp_path):
    a = _crashed(tmp_path, _dead_pid())
    a.path.write_bytes(b"PK\x03\x04 nonsense")
    with pytest.raises(UserError, match="not a readable latent-explorer session"):
        Autosave(tmp_path).load_orphan()
