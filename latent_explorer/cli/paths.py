"""The command line's paths, checked before any model is loaded or any work is done.

An ``--out`` that cannot be written as asked (a folder where a file is wanted, a file where a
folder is wanted, a path through a regular file, a folder that does not exist or cannot be
written) and inputs that are not there are ``UserError``s of one line naming the option.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import UserError

BUNDLED_DATA = ("mnist-5k", "shapes")


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _writable_folder(option: str, value: str, folder: Path, must_exist: bool) -> None:
    found = _nearest_existing(folder)
    if not found.is_dir():
        raise UserError(f"{option} {value}: {found} is a file, not a folder")
    if found != folder and must_exist:
        raise UserError(f"{option} {value}: folder {folder} does not exist")
    if not os.access(found, os.W_OK | os.X_OK):
        raise UserError(f"{option} {value}: cannot write in folder {found} (permission denied)")


def _os_errors(fn):
    """OSErrors of a path check (a name too long, a loop of links) become one-line UserErrors."""
    def wrapped(option, value, *a, **k):
        try:
            return fn(option, value, *a, **k)
        except (OSError, RuntimeError, ValueError) as e:  # RuntimeError: a symlink loop (resolve)
            raise UserError(f"{option} {value}: {getattr(e, 'strerror', None) or e}") from None
    return wrapped


@_os_errors
def output_file(option: str, value: str, suffixes: tuple[str, ...]) -> Path:
    """A file to write: the right suffix, not a folder, in an existing writable folder."""
    out = Path(value).expanduser()
    if out.suffix.lower() not in suffixes:
        raise UserError(f"{option} {value}: expected a {' or '.join(suffixes)} file")
    if out.is_dir():
        raise UserError(f"{option} {value}: is a folder; give a file name ending in {' or '.join(suffixes)}")
    _writable_folder(option, value, out.parent, must_exist=True)
    if out.exists() and not os.access(out, os.W_OK):
        raise UserError(f"{option} {value}: cannot overwrite it (permission denied)")
    return out


@_os_errors
def output_folder(option: str, value: str, create: bool = False) -> Path:
    """A folder to write into: not an existing file, no regular file on the way, writable."""
    out = Path(value).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {value}: is a file, not a folder")
    _writable_folder(option, value, out, must_exist=False)
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{option} {value}: cannot create the folder ({e.strerror or e})") from None
    return out


@_os_errors
def input_file(option: str, value: str) -> Path:
    p = Path(value).expanduser()
    if not p.exists():
        raise UserError(f"{(option + ' ') if option else ''}{value}: no such file")
    if p.is_dir():
        raise UserError(f"{(option + ' ') if option else ''}{value}: is a folder, not an image")
    return p


@_os_errors
def input_folder(option: str, value: str) -> Path:
    p = Path(value).expanduser()
    if not p.is_dir():
        raise UserError(f"{option} {value}: " + ("is a file, not a folder" if p.exists() else "no such folder"))
    return p


@_os_errors
def dataset(option: str, value: str | None) -> None:
    if value is not None and value not in BUNDLED_DATA and not Path(value).expanduser().is_dir():
        raise UserError(f"unknown dataset {value!r}: use a folder of images or one of {', '.join(BUNDLED_DATA)}")


@_os_errors
def existing(option: str, value: str | None) -> None:
    if value is not None and not Path(value).expanduser().exists():
        raise UserError(f"{option} {value}: no such file or folder")


def check_gui(a) -> None:
    """The gui's options, before a window opens (with no subcommand, none were given)."""
    existing("--config", getattr(a, "config", None))
    images, screenshot = getattr(a, "images", None), getattr(a, "screenshot", None)
    if images is not None:
        input_folder("--images", images)
    coll = getattr(a, "collection", None)
    if coll is not None:
        if images is not None:
            raise UserError("give --images or --collection, not both")
        from ..core.data.collection import Collection

        Collection(input_folder("--collection", coll))  # a clear line when it is not one
    if screenshot is not None:
        shot = Path(screenshot).expanduser()
        if _os_errors(lambda o, v: shot.is_dir())("--screenshot", screenshot):
            raise UserError(f"--screenshot {screenshot}: is a folder; give a .png file name")
        _os_errors(_writable_folder)("--screenshot", screenshot, shot.resolve().parent, must_exist=True)
        _os_errors(_can_write_file)("--screenshot", screenshot, shot)


def _can_write_file(option: str, value: str, path: Path) -> None:
    """``path`` can be written (tried, not guessed: root passes every permission check, not a read-only
    file system or a special file), before a model is loaded for it; nothing is changed."""
    if path.exists():
        if not path.is_file():
            raise UserError(f"{option} {value}: is not a regular file")
        if not os.access(path, os.W_OK):
            raise UserError(f"{option} {value}: cannot overwrite it (permission denied)")
        with open(path, "ab"):  # opened for appending, nothing written: the file is unchanged
            return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)
    os.unlink(path)
