"""One writer per folder: a command or window that writes a folder it owns holds its lock.

``breed``, ``encode --out COLLECTION/`` (locally or on Ray) and ``train`` (the command and the app's
Train window) write many files into one folder and read their own earlier files back (a family's
``tree.json``, a collection's manifest, a checkpoint). Two of them at once would each finish and
report success while one's work is lost, so each takes ``folder_lock(folder)`` first: an OS lock
(``filelock``: ``flock`` on POSIX, released by the OS when the process dies, even by kill -9) on
the hidden file ``.latent-explorer.lock`` in the folder. A second writer is refused at once with a
``UserError`` of one line naming the folder (CLI exit 2; in the app, a note). The lock file itself
stays (deleting it while another process waits on it would let two writers in).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from .errors import UserError

LOCK_NAME = ".latent-explorer.lock"


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "this folder") -> Iterator[Path]:
    """Hold ``folder``'s writer lock (the folder is created if need be) for the ``with`` block."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / LOCK_NAME), timeout=0)
        lock.acquire()
    except Timeout:
        raise UserError(f"{folder}: another latent-explorer is writing {what} there now; wait for it to "
                        "finish or give another folder") from None
    except OSError as e:
        raise UserError(f"{folder}: cannot lock the folder for writing ({e.strerror or e})") from None
    try:
        yield folder
    finally:
        lock.release()
