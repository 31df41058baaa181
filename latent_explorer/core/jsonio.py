"""One bounded reader for every JSON a user can hand the app.

Direction files, family trees, collection manifests, lab files, model folders' ``config.json`` and
``metrics.json``, export recipes: each is read with ``loads_bounded`` (text) or ``read_bounded``
(a file), which refuse, in one line, a file larger than its budget, nested deeper than
``MAX_DEPTH`` (Python's parser would raise RecursionError a few thousand levels down, or exhaust
the stack), or not JSON at all. The depth is measured before parsing, outside strings, with
numpy, so a hostile file costs one pass over its bytes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

#: deeper than any file the app writes (a session or a tree is < 10 levels)
MAX_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def nesting_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest in ``text`` (brackets inside strings do not count)."""
    bare = _STRING.sub('""', text)
    b = np.frombuffer(bare.encode("utf-8", "surrogatepass"), np.uint8)
    if b.size == 0:
        return 0
    step = (b == ord("[")).astype(np.int32) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(step).max(initial=0))


def loads_bounded(text: str | bytes, what: str = "the file", max_bytes: int = 64 * 2**20,
                  max_depth: int = MAX_DEPTH):
    """``json.loads(text)`` within limits; a ValueError saying what is wrong with ``what`` otherwise."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise ValueError(f"{what} is larger than {_size(max_bytes)}")
        text = text.decode("utf-8", errors="replace")
    if len(text) > max_bytes:
        raise ValueError(f"{what} is larger than {_size(max_bytes)}")
    depth = nesting_depth(text)
    if depth > max_depth:
        raise ValueError(f"{what} nests {depth} levels deep (at most {max_depth}): not a file the app wrote")
    try:
        return json.loads(text)
    except RecursionError:  # (the depth check above should have caught it)
        raise ValueError(f"{what} nests too deeply") from None
    except ValueError as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        where = f" at line {e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ValueError(f"{what} is invalid JSON ({msg}{where})") from None


def read_bounded(path: str | Path, what: str | None = None, max_bytes: int = 64 * 2**20,
                 max_depth: int = MAX_DEPTH):
    """``loads_bounded`` of a file, its size checked before it is read; OSError passes through."""
    path = Path(path)
    what = what or str(path)
    if path.stat().st_size > max_bytes:
        raise ValueError(f"{what} is larger than {_size(max_bytes)}")
    return loads_bounded(path.read_bytes(), what, max_bytes, max_depth)


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n / 1024:g} KiB"
