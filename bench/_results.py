"""What every bench shares: ``--smoke`` and ``--save``, the machine record, and which files are benches.

A *bench* is ``bench/NAME.py`` whose name does not start with ``_``, that runs as a script (an
``if __name__ == "__main__":`` block) and does not say ``BENCH = False`` at module level (a tool,
such as ``make_table.py``). Files starting with ``_`` (this one) are helpers. Every bench:

- prints one JSON object as its last stdout line (progress goes before it or to stderr);
- declares ``KEYS``, a module-level tuple of the keys that object always has, smoke runs included;
- takes ``--smoke``: tiny sizes, one repeat, a few frames, so that it runs in seconds. Its figures
  mean nothing; it proves the bench still runs. ``tests/test_benches.py`` runs every bench so
  (``python bench/NAME.py --smoke``, plus the module-level tuple ``SMOKE_ARGS`` where a bench has
  one, e.g. gpu_check's ``--device cpu``), offscreen, on one torch thread;
- takes ``--save [PATH]``: also writes ``bench/results/NAME.json`` (or PATH): the JSON object under
  ``result``, with the command, the date, the machine (CPU model, cores, memory, torch and its
  threads, the GPU if any, the commit) and the load average at the start and at the end.
  ``bench/make_table.py`` makes the table in docs/benchmarks.md from those files.

In a bench::

    import _results                       # bench/ is sys.path[0] when run as python bench/NAME.py
    KEYS = ("p50_ms", "p95_ms")
    ap = argparse.ArgumentParser(...); _results.add_options(ap); a = ap.parse_args()
    run = _results.start("NAME", a)       # the load average and the clock start here
    if a.smoke: ...                       # shrink the sizes
    run.emit(result)                      # prints the JSON line (and saves it with --save)
"""
from __future__ import annotations

import ast
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

BENCH = False  # a helper, not a bench

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


# ---- which files are benches (tests/test_benches.py and make_table.py use this) ----------------

def _module_constant(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def _has_main_block(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) and "__name__" in ast.unparse(node.test):
            return True
    return False


def discover(folder: Path = HERE) -> dict[str, dict]:
    """``{name: {"path", "keys", "smoke_args"}}`` for every bench in ``folder`` (see the rule above)."""
    out = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if _module_constant(tree, "BENCH") is False or not _has_main_block(tree):
            continue
        keys = _module_constant(tree, "KEYS")
        out[path.stem] = {"path": path, "keys": tuple(keys) if keys is not None else None,
                          "smoke_args": tuple(_module_constant(tree, "SMOKE_ARGS") or ())}
    return out


# ---- options and the run record ----------------------------------------------------------------

def add_options(ap) -> None:
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, one repeat, a few frames: seconds; checks the bench runs (figures mean nothing)")
    ap.add_argument("--save", nargs="?", const="", default=None, metavar="PATH",
                    help="also write the JSON with the machine, date and load to bench/results/NAME.json (or PATH)")


def offscreen() -> None:
    """Qt without a display (smoke runs, and any run on a machine without one). Before Qt is imported."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def machine() -> dict:
    """The machine a result was measured on."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count()
    out = {"cpu": cpu_model(), "cores": os.cpu_count(), "cores_usable": affinity, "memory_gib": _memory_gib(),
           "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}",
           "torch": None, "torch_threads": None, "gpu": None, "commit": _commit()}
    try:
        import torch

        out["torch"], out["torch_threads"] = torch.__version__, torch.get_num_threads()
        if torch.cuda.is_available():
            out["gpu"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            out["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return out


def load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Run:
    """One run of a bench: its start (date, load, clock) and, at ``emit``, its JSON line and file."""

    def __init__(self, name: str, args, variant: str | None = None):
        self.name, self.args, self.variant = name, args, variant
        self.smoke = bool(getattr(args, "smoke", False))
        self.save = getattr(args, "save", None)
        self.date, self.load_start, self.t0 = now(), load(), time.perf_counter()
        self.command = "python " + " ".join(shlex.quote(a) for a in [f"bench/{Path(sys.argv[0]).name}"] + sys.argv[1:])
        if self.smoke and "torch" in sys.modules:  # seconds, not figures: leave the other core alone
            sys.modules["torch"].set_num_threads(1)
        if self.save == "" and self.smoke:
            raise SystemExit("--save without a path keeps full runs only (bench/results/ feeds the docs' table); "
                             "give a path to save a smoke run")

    def path(self) -> Path | None:
        if self.save is None:
            return None
        if self.save:
            return Path(self.save)
        return RESULTS / (self.name + (f"-{self.variant}" if self.variant else "") + ".json")

    def emit(self, result: dict) -> dict:
        """Print ``result`` as the last stdout line; with ``--save`` write the record too."""
        if self.smoke:
            result = dict(result, smoke=True)
        path = self.path()
        if path is not None:
            record = {"bench": self.name, "variant": self.variant, "command": self.command, "smoke": self.smoke,
                      "date": self.date, "seconds": round(time.perf_counter() - self.t0, 1),
                      "machine": machine(), "load": {"start": self.load_start, "end": load()}, "result": result}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"saved {path}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        print(json.dumps(result), flush=True)
        return result


def start(name: str, args, variant: str | None = None) -> Run:
    return Run(name, args, variant)
