"""Benches that cannot rot: every bench in bench/ runs in its ``--smoke`` mode, and the benchmark table
in docs/benchmarks.md is the one ``bench/make_table.py`` makes from the saved results.

The benches are found by ``bench/_results.discover()`` (a glob): ``bench/NAME.py`` that runs as a
script (an ``if __name__ == "__main__":`` block), unless its name starts with ``_`` (a helper, such
as ``_results.py``) or it says ``BENCH = False`` (a tool, such as ``make_table.py``). So a new bench
is covered as soon as it exists: it must take ``--smoke``, exit 0 and print one JSON object as its
last stdout line holding the keys it declares in ``KEYS``. Timing is never asserted here: the
smoke figures mean nothing (the benches measure; tests only check they still run).

The smoke runs are child processes, each on one torch thread; the selected ones start together,
two at a time (``LX_BENCH_JOBS``, at most the cores), when the first of these tests runs, and each
test waits for its own. Most of a smoke run is importing torch, diffusers and Qt on one core, so
two at a time halve the wait on a 2-core machine.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"


def _module(name: str):
    """A bench/ helper module, loaded from its file (bench/ is not put on sys.path for the suite)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH_DIR))  # (make_table imports _results by its plain name)
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH_DIR))
    return mod


results = _module("_results")
BENCHES = results.discover()


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", LATENT_EXPLORER_DATA=str(tmp_path / "data"), RAY_USAGE_STATS_ENABLED="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)  # this tree's
    return env


def test_the_benches_are_found():
    assert {"breeding", "preview_latency", "gpu_check"} <= set(BENCHES)
    assert not {"_results", "make_table"} & set(BENCHES)


#: the slowest smoke runs first (an ordering hint only: a bench not named here starts first of all)
SLOW_FIRST = ("classroom_load", "gpu_check", "preview_quality", "preview_latency", "diffusers_overhead",
              "model_quality", "small_folder_training")


def _smoke(name: str, tmp: Path) -> tuple[list, subprocess.CompletedProcess, float]:
    info = BENCHES[name]
    cmd = [sys.executable, str(info["path"]), "--smoke", *info["smoke_args"]]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp, env=_env(tmp))
    except subprocess.TimeoutExpired as e:
        p = subprocess.CompletedProcess(cmd, -9, e.stdout or "", (e.stderr or "") + "\n(timed out after 240 s)")
    return cmd, p, time.perf_counter() - t


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory):
    """Starts the smoke run of every selected bench (two at a time); ``smoke_runs[name]`` waits for one."""
    names = [item.callspec.params["name"] for item in request.session.items
             if getattr(item, "originalname", "") == "test_bench_smoke" and hasattr(item, "callspec")]
    names.sort(key=lambda n: SLOW_FIRST.index(n) if n in SLOW_FIRST else -1)
    jobs = max(1, min(int(os.environ.get("LX_BENCH_JOBS", "2")), os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {n: pool.submit(_smoke, n, tmp_path_factory.mktemp(f"smoke-{n}")) for n in dict.fromkeys(names)}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("name", sorted(BENCHES))
def test_bench_smoke(name, smoke_runs):
    info = BENCHES[name]
    assert info["keys"], f"bench/{name}.py: declare KEYS, the keys its JSON always has (see bench/_results.py)"
    cmd, p, seconds = smoke_runs[name].result()
    print(f"{name}: {seconds:.1f} s")
    tail = f"\n--- stdout (end) ---\n{p.stdout[-2000:]}\n--- stderr (end) ---\n{p.stderr[-3000:]}"
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}{tail}"
    lines = [line for line in p.stdout.splitlines() if line.strip()]
    assert lines, f"{name}: printed nothing{tail}"
    out = json.loads(lines[-1])
    assert isinstance(out, dict), f"{name}: the last line is not a JSON object{tail}"
    missing = [k for k in info["keys"] if k not in out]
    assert not missing, f"{name}: the JSON lacks {missing}{tail}"
    assert out.get("smoke") is True
    make_table = _module("make_table")  # its formatter for this bench reads this JSON (the docs' table)
    figures, _ = make_table.FORMATS.get(name, make_table.f_generic)(out)
    assert figures


def test_smoke_save_writes_the_record(tmp_path):
    """``--save PATH`` writes the result with the machine, date and load (what make_table reads)."""
    path = tmp_path / "breeding.json"
    p = subprocess.run([sys.executable, str(BENCH_DIR / "breeding.py"), "--smoke", "--save", str(path)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path, env=_env(tmp_path))
    assert p.returncode == 0, p.stderr
    rec = json.loads(path.read_text())
    assert rec["bench"] == "breeding" and rec["smoke"] is True
    assert rec["result"] == json.loads(p.stdout.splitlines()[-1])
    assert {"cpu", "cores", "torch", "gpu"} <= set(rec["machine"]) and rec["date"]
    assert len(rec["load"]["start"]) == 3 and len(rec["load"]["end"]) == 3
    # a smoke run never lands in bench/results/ (the docs' table) by default
    p = subprocess.run([sys.executable, str(BENCH_DIR / "breeding.py"), "--smoke", "--save"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path, env=_env(tmp_path))
    assert p.returncode != 0 and "full runs only" in p.stderr


def test_benchmark_table_is_generated():
    """docs/benchmarks.md's table is what bench/make_table.py makes from bench/results/*.json."""
    make_table = _module("make_table")
    doc = make_table.DOC.read_text(encoding="utf-8")
    assert doc == make_table.render(doc, make_table.table()), (
        "docs/benchmarks.md's benchmark table is out of date: run python bench/make_table.py")


def test_saved_results_are_full_runs_of_benches():
    for path in sorted((BENCH_DIR / "results").glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        assert rec["smoke"] is False, f"{path.name}: a smoke run's figures mean nothing"
        assert {"bench", "date", "machine", "load", "result"} <= set(rec), path.name
        assert path.stem == rec["bench"] + (f"-{rec['variant']}" if rec.get("variant") else ""), path.name
