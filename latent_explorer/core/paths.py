"""Where bundled resources live, and atomic file writes.

The top-level ``resources/`` folder is installed as the package ``latent_explorer.resources``;
in a source checkout it sits beside the package instead.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

_PKG = Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    installed = _PKG / "resources"
    if (installed / "models").is_dir():
        return installed
    checkout = _PKG.parent / "resources"
    if checkout.is_dir():
        return checkout
    try:  # editable installs that map the folder through an import finder
        import importlib.resources as ir

        return Path(str(ir.files("latent_explorer.resources")))
    except Exception:  # pragma: no cover - broken install
        return checkout


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask can only be read by setting it


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Write to a temporary file beside ``path``, fsync it, then ``os.replace`` it.

    A crash or an exception mid-write leaves the old file intact and no temporary behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
