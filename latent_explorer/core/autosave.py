"""Autosave and crash recovery, one set of files per running instance.

Each instance writes ``autosave-<pid>.lexplore`` to the user's data folder every minute and
holds a marker ``running-<pid>`` holding its pid, its process start time (field 22 of
``/proc/<pid>/stat`` where there is one) and its host. An instance is dead when its process is
gone, or its pid now belongs to a process that started at another time; the autosave of a dead
instance is an *orphan*, offered for recovery. A live instance's files are never offered and
never removed by another instance. The single ``autosave.lexplore`` + ``running`` pair that
older versions shared is read too (orphaned when the pid in ``running`` is dead).
"""
from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path

from .errors import UserError
from .paths import atomic_write_text
from .session import SUFFIX, Session, data_dir


def _win_alive(pid: int) -> bool:  # pragma: no cover - Windows, where os.kill(pid, 0) terminates
    import ctypes

    k32, code = ctypes.WinDLL("kernel32", use_last_error=True), ctypes.c_ulong()
    h = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not h:
        return ctypes.get_last_error() == 5  # access denied: it exists
    ok = k32.GetExitCodeProcess(h, ctypes.byref(code))
    k32.CloseHandle(h)
    return not ok or code.value == 259  # STILL_ACTIVE


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in ticks after boot): fields 3 and 22 of /proc/<pid>/stat; None without it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().decode("ascii", "replace").rsplit(")", 1)[1].split()  # the name may hold spaces
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def process_start_time(pid: int | None = None) -> str | None:
    """An opaque start-time token for ``pid`` (default: this process); None where unknown."""
    return (_proc_stat(os.getpid() if pid is None else int(pid)) or (None, None))[1]


def is_alive(pid, start_time=None) -> bool:
    """Whether process ``pid`` runs and (given ``start_time``) is the same process, not a reused pid."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if not 0 < pid < 1 << 31:
        return False
    if sys.platform == "win32":  # pragma: no cover
        return _win_alive(pid)
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # another user's process: it exists
    except (OSError, OverflowError):
        return False
    state, start = _proc_stat(pid) or (None, None)
    if state in ("Z", "X"):
        return False  # exited, not yet reaped
    return start_time is None or start is None or str(start_time) == str(start)


_HOST = socket.gethostname()
_FILES = re.compile(r"^(?:autosave-(\d{1,10})\.lexplore|running-(\d{1,10}))$")
_TEMP = re.compile(r"^\.(?:autosave-(\d{1,10})\.lexplore|running-(\d{1,10})|autosave\.lexplore|running)\..*\.tmp$")
LEGACY_AUTOSAVE, LEGACY_MARKER = f"autosave{SUFFIX}", "running"


def _unlink(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _read_marker(path: Path | None) -> dict:
    try:
        d = json.loads(path.read_text(encoding="utf-8", errors="replace")) if path else {}
    except (OSError, ValueError):
        return {}
    return {"pid": d} if type(d) is int else d if isinstance(d, dict) else {}  # legacy markers hold the pid


class Autosave:
    """This instance's autosave and 'running' marker, and the orphans that crashed instances left.

    An instance is dead when its process is gone, or its pid now belongs to a process started at
    another time. A marker written on another host counts as alive (nothing there can be checked
    from here). The single ``autosave.lexplore`` + ``running`` pair of older versions is read too.
    """

    is_alive = staticmethod(is_alive)

    def __init__(self, folder: str | os.PathLike | None = None, pid: int | None = None):
        self.folder = Path(folder) if folder else data_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pid = os.getpid() if pid is None else int(pid)
        self.path = self.folder / f"autosave-{self.pid}{SUFFIX}"
        self.marker = self.folder / f"running-{self.pid}"
        self._saved = False

    def start(self) -> None:
        """Hold this instance's marker; remove temp files that killed saves left behind."""
        self._clean_temps()
        atomic_write_text(self.marker, json.dumps(
            {"pid": self.pid, "start_time": process_start_time(self.pid), "host": _HOST}))

    def save(self, session: Session) -> None:
        session.save(self.path)
        self._saved = True

    def clean_exit(self) -> None:
        """Nothing of this instance is left to recover: its autosave, then its marker, removed."""
        _unlink(self.path, self.marker)

    def discard(self) -> None:
        """Remove this instance's own autosave and marker (never another instance's)."""
        _unlink(self.path, self.marker)

    def _dead(self, pid: int, marker: Path | None) -> bool:
        info = _read_marker(marker)
        return pid != self.pid and info.get("host", _HOST) == _HOST and not is_alive(pid, info.get("start_time"))

    def _instances(self) -> dict[int, list[Path]]:
        """pid -> [its autosave and/or marker] for every other instance's files in the folder."""
        found: dict[int, list[Path]] = {}
        for name in sorted(os.listdir(self.folder)):
            if (m := _FILES.match(name)) and int(m.group(1) or m.group(2)) != self.pid:
                found.setdefault(int(m.group(1) or m.group(2)), []).append(self.folder / name)
        return found

    def _instance_dead(self, pid: int, files: list[Path]) -> bool:
        return self._dead(pid, next((p for p in files if p.name.startswith("running-")), None))

    def _legacy_dead(self) -> bool:
        marker = self.folder / LEGACY_MARKER
        pid = _read_marker(marker).get("pid") if marker.exists() else self.pid
        return pid != self.pid and not is_alive(pid)

    def orphans(self) -> list[Path]:
        """Autosaves of instances that are no longer running, newest first."""
        out = [p for pid, files in self._instances().items() if self._instance_dead(pid, files)
               for p in files if p.name.endswith(SUFFIX)]
        if (self.folder / LEGACY_AUTOSAVE).exists() and self._legacy_dead():
            out.append(self.folder / LEGACY_AUTOSAVE)
        return sorted(out, key=_mtime, reverse=True)

    def recoverable(self) -> bool:
        """True when a crashed instance left an autosave (never this or another live instance's)."""
        return bool(self.orphans())

    def load_orphan(self, path: str | os.PathLike | None = None) -> Session:
        """The newest orphan (or ``path``) as a Session."""
        if path is None:
            if not (found := self.orphans()):
                raise UserError(f"{self.folder}: no autosave left by a crashed run to recover")
            path = found[0]
        return Session.load(path)

    def load(self) -> Session:
        """The old name of ``load_orphan()`` (the newest orphan)."""
        return self.load_orphan()

    def discard_orphans(self) -> None:
        """Remove the autosaves and markers of dead instances only; live instances keep theirs."""
        for pid, files in self._instances().items():
            if self._instance_dead(pid, files):
                _unlink(*files)
        if self._legacy_dead() or not (self.folder / LEGACY_MARKER).exists():
            _unlink(self.folder / LEGACY_AUTOSAVE, self.folder / LEGACY_MARKER)  # dead, or a clean exit's leftover
        self._clean_temps()

    def _clean_temps(self) -> None:
        instances = self._instances()
        for name in os.listdir(self.folder):
            if not (m := _TEMP.match(name)):
                continue
            pid = m.group(1) or m.group(2)
            if pid is None:  # the legacy pair's
                stale = self._legacy_dead() or not (self.folder / LEGACY_MARKER).exists()
            elif int(pid) == self.pid:
                stale = not self._saved  # once this instance saves, a save of its own may be under way
            else:
                stale = self._instance_dead(int(pid), instances.get(int(pid), []))
            if stale:
                _unlink(self.folder / name)
