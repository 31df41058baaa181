"""What the app remembers between runs: the last folder each file dialog used and the last export
settings, in ``settings.json`` in the data folder ($LATENT_EXPLORER_DATA moves it). Every file
dialog goes through here, so each opens where the user last was."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QFileDialog


def _file() -> Path:
    from ..core.session import data_dir

    return data_dir() / "settings.json"


def load() -> dict:
    try:
        data = json.loads(_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def remember(key: str, value) -> None:
    """Store ``value`` under ``key`` (a failure to write is not worth an error: it is a convenience)."""
    from ..core.paths import atomic_write_text

    data = load()
    data[key] = value
    try:
        atomic_write_text(_file(), json.dumps(data, indent=1))
    except OSError:
        pass


def last_folder() -> str:
    folder = load().get("last_folder")
    return folder if isinstance(folder, str) and folder and Path(folder).is_dir() else ""


def _note_folder(path: str) -> None:
    if path:
        p = Path(path)
        remember("last_folder", str(p if p.is_dir() else p.parent))


def save_path(parent, title: str, name: str, filters: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, title, str(Path(last_folder()) / name) if last_folder() else name,
                                          filters)
    _note_folder(path)
    return path


def open_path(parent, title: str, filters: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(), filters)
    _note_folder(path)
    return path


def open_paths(parent, title: str, filters: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, title, last_folder(), filters)
    if paths:
        _note_folder(paths[0])
    return paths


def open_folder(parent, title: str) -> str:
    path = QFileDialog.getExistingDirectory(parent, title, last_folder())
    _note_folder(path)
    return path
