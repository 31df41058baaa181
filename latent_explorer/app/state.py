"""The explorer's current latent, as plain Python: widgets bind to it, it knows no Qt.

``LatentState`` holds the latent being looked at, where it came from, the selected image, and
an undo history of committed edits. Listeners are called as ``listener(origin)``; ``origin`` is
the widget that made the change, so that widget can skip re-applying its own edit (the
napari pattern: a widget blocks its signals while it applies a model change, so the two never
loop).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np


class LatentHistory:
    """Committed latents for undo / redo (a cursor into a list; a new commit drops the redo tail)."""

    def __init__(self, limit: int = 500):
        self.limit = limit
        self._items: list[tuple[np.ndarray, str]] = []
        self._pos = -1
        #: bumped on every change of the entries or the cursor (lists redraw only then)
        self.version = 0

    def push(self, z: np.ndarray, source: str) -> bool:
        import numpy as np

        z = np.array(z, np.float32, copy=True)
        if self._pos >= 0 and np.array_equal(self._items[self._pos][0], z):
            return False
        del self._items[self._pos + 1:]
        self._items.append((z, source))
        if len(self._items) > self.limit:
            del self._items[0]
        self._pos = len(self._items) - 1
        self.version += 1
        return True

    def clear(self) -> None:
        self._items.clear()
        self._pos = -1
        self.version += 1

    @property
    def position(self) -> int:
        """Index of the entry being looked at (−1 when empty)."""
        return self._pos

    def entries(self) -> list[tuple[np.ndarray, str]]:
        return list(self._items)

    def go_to(self, index: int) -> tuple[np.ndarray, str] | None:
        """Move the cursor to ``index`` (the entries stay: later ones remain redoable)."""
        if not 0 <= index < len(self._items):
            return None
        self._pos = index
        self.version += 1
        return self._items[index]

    def replace(self, items: list[tuple[np.ndarray, str]], position: int | None = None) -> None:
        """Restore a saved history (a session): entries oldest first, cursor at ``position``."""
        import numpy as np

        self._items = [(np.array(z, np.float32, copy=True), str(src)) for z, src in items][-self.limit:]
        n = len(self._items)
        self._pos = n - 1 if position is None else max(-1, min(int(position), n - 1))
        self.version += 1

    @property
    def can_undo(self) -> bool:
        return self._pos > 0

    @property
    def can_redo(self) -> bool:
        return self._pos < len(self._items) - 1

    def undo(self) -> tuple[np.ndarray, str] | None:
        if not self.can_undo:
            return None
        self._pos -= 1
        self.version += 1
        return self._items[self._pos]

    def redo(self) -> tuple[np.ndarray, str] | None:
        if not self.can_redo:
            return None
        self._pos += 1
        self.version += 1
        return self._items[self._pos]

    def __len__(self) -> int:
        return len(self._items)


class LatentState:
    def __init__(self):
        self.z: np.ndarray | None = None
        self.source: str = ""
        self.selected: int | None = None
        self.history = LatentHistory()
        self._listeners: list[Callable] = []
        self._history_listeners: list[Callable] = []
        self._dirty = False
        #: the image of the latest ``set`` when its caller already had it (a strip's frame, a child's
        #: thumbnail): (image, final, seconds, request id), or None: the views decode the latent
        self.shown = None

    def connect(self, listener: Callable) -> None:
        self._listeners.append(listener)

    def disconnect_all(self) -> None:
        self._listeners.clear()
        self._history_listeners.clear()

    def _emit(self, origin) -> None:
        for cb in list(self._listeners):
            cb(origin)

    def reset(self, z: np.ndarray, source: str = "initial") -> None:
        """A new model: forget the history and selection."""
        self.history.clear()
        self.selected = None
        self.set(z, source)

    def set(self, z: np.ndarray, source: str, origin=None, commit: bool = True, image=None, final: bool = True,
            seconds: float = 0.0, rid: int = 0) -> None:
        """Make ``z`` the current latent. ``commit=False``: part of a gesture (one undo step once
        committed). ``image``: its decode, when the caller already has it (nothing decodes it again;
        ``final`` False: an approximate one that a slow decoder replaces when the user pauses)."""
        import numpy as np

        self.shown = None if image is None else (image, bool(final), float(seconds), int(rid))
        self.z = np.array(z, np.float32, copy=True)
        self.source = source
        if commit:
            self.history.push(self.z, source)
            self._dirty = False
        else:
            self._dirty = True
        self._emit(origin)

    def set_dim(self, dim: int, value: float, origin=None) -> None:
        """One slider moved: an uncommitted edit (``commit()`` closes the gesture)."""
        z = self.z.copy()
        z.reshape(-1)[dim] = value
        self.set(z, "sliders", origin=origin, commit=False)

    @property
    def editing(self) -> bool:
        """An edit is under way (a drag): it becomes a history entry when committed."""
        return self._dirty

    def connect_history(self, listener: Callable) -> None:
        """``listener()`` whenever an edit is committed to the history (a drag ended)."""
        self._history_listeners.append(listener)

    def commit(self) -> None:
        if self.z is not None and self._dirty:
            self.history.push(self.z, self.source)
            self._dirty = False
            for cb in list(self._history_listeners):
                cb()

    def undo(self) -> bool:
        self.commit()
        return self._move_to(self.history.undo())

    def redo(self) -> bool:
        return self._move_to(self.history.redo())

    def go_to(self, index: int) -> bool:
        """Jump to history entry ``index`` (the history list's click). An edit under way is committed
        first, which may drop the redo tail or the oldest entry: the entry clicked is found again."""
        entries = self.history.entries()
        if not 0 <= index < len(entries):
            return False
        target = entries[index]
        self.commit()
        now = self.history.entries()
        where = next((i for i, e in enumerate(now) if e is target), None)
        if where is None:  # the commit dropped it (it was a redo step): it becomes the newest entry
            self.set(target[0], target[1])
            return True
        return self._move_to(self.history.go_to(where))

    def _move_to(self, item) -> bool:
        """Make a history entry (latent, source) current; False when there is none."""
        if item is None:
            return False
        self.z, self.source = item[0].copy(), item[1]
        self.shown = None
        self._dirty = False
        self._emit(None)
        return True

    def restore(self, z: np.ndarray | None, source: str, items: list, position: int | None = None) -> None:
        """A session's latent and history, as they were saved."""
        import numpy as np

        self.history.replace(items, position)
        if z is None and self.history.position >= 0:
            z = self.history.entries()[self.history.position][0]
        if z is None:
            return
        self.z = np.array(z, np.float32, copy=True)
        self.source = source
        self.shown = None
        self._dirty = False
        self._emit(None)

    def as_text(self, decimals: int = 4) -> str:
        """The latent as text a person can paste into a script: ``[0.1234, -1.0000, ...]``."""
        if self.z is None:
            return ""
        flat = self.z.reshape(-1)
        body = ", ".join(f"{v:.{decimals}f}" for v in flat)
        if self.z.ndim > 1:
            return f"# shape {tuple(self.z.shape)}\n[{body}]"
        return f"[{body}]"
