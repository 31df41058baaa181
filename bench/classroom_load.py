"""The classroom server (``latent-explorer serve``) under simulated students, over loopback HTTP.

The server runs in a child process (its CPU from ``/proc/PID/stat``, its memory ``VmRSS``). This
process is the class, speaking HTTP as browsers do (an ``httpx.AsyncClient`` a student, keep-alive):
each student joins, holds its event stream open, and every 200 ms sends a slider's random-walk step,
one change in flight, a newer one replacing the waiting one. Latency: from a change's scheduled time
to its answer read and its PNG decoded (``request_*``: from the request's start). Students join once
and stay: ``mb_per_student`` = (RSS after the run − RSS before anyone joined) / N. ``idle``: server
CPU with every student joined and silent against none. ``floor_ms``: one latent decoded and
PNG-encoded directly (one thread). ``*_waited_for_cpu``: runnable, waiting for a core (other load).

``--smoke`` (``_results.add_options``): 1 and 3 students for a second each on a 500-image map;
tests/test_benches.py runs it so the bench cannot rot.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import timeit

import httpx

import _results  # bench/ is sys.path[0]

KEYS = ("bench", "machine", "load", "floor_ms", "runs", "idle", "targets", "met")
PERIOD = 0.2            # a change every 200 ms: 5 a second per student
TIMEOUT = 10.0          # a change not answered in this long is an error
TARGETS = {  # p95 at 30 and 60 students, MB a student, extra CPU % of N idle students vs none
    "p95_ms_30": 50.0, "p95_ms_60": 100.0, "errors": 0, "mb_per_student": 5.0, "idle_cpu_percent": 1.0}
TICK = os.sysconf("SC_CLK_TCK")
COUNTS = ("asked", "served", "errors", "rate_limited", "superseded", "replaced")
CPU = ("server_cpu", "client_cpu", "server_waited_for_cpu", "client_waited_for_cpu")

SERVER = r"""
import json, os, sys
from latent_explorer.web.server import ClassServer, ServeOptions
srv = ClassServer(ServeOptions(model=sys.argv[1], port=0, announce=False,
                              map_limit=int(sys.argv[3]) if len(sys.argv) > 3 else None)).start_in_thread()
print("@@" + json.dumps({"port": srv.port, "pid": os.getpid()}), flush=True)
cl = srv.classroom
while sys.stdin.readline().strip() == "load":  # asked between runs, when nothing moves; EOF: stop
    print("@@" + json.dumps(dict(cl.load(float(sys.argv[2])), batches=cl.batcher.batches)), flush=True)
srv.stop()
"""


class Server:
    """The class server in a process of its own."""

    def __init__(self, model: str, window_s: float, map_limit: int | None = None):
        self.log = tempfile.TemporaryFile(mode="w+")
        extra = [str(map_limit)] if map_limit else []
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, model, str(window_s), *extra], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        hello = self._read()
        self.pid, self.url = hello["pid"], f"http://127.0.0.1:{hello['port']}/"

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise SystemExit("the class server stopped:\n" + self.stderr()[-4000:])

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def load(self) -> dict:  # Classroom.load(): the server's own figures
        self.proc.stdin.write("load\n")
        self.proc.stdin.flush()
        return self._read()

    def cpu_s(self) -> float:  # utime + stime
        with open(f"/proc/{self.pid}/stat") as f:
            return sum(map(int, f.read().rsplit(")", 1)[1].split()[11:13])) / TICK

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            return next(int(ln.split()[1]) / 1024 for ln in f if ln.startswith("VmRSS:"))

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def waited_s(pid) -> float:
    """Seconds the process's threads were ready to run but waited for a CPU (the machine's other load)."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError, IndexError), open(f"/proc/{pid}/task/{t}/schedstat") as f:
            total += int(f.read().split()[1])
    return total / 1e9


class Student:
    """One page: joined, its event stream open, dragging its sliders."""

    def __init__(self, client, url: str, seed: int):
        self.client, self.url, self.rng = client, url, random.Random(seed)
        self.connected, self.held, self.waiting = asyncio.Event(), None, None

    async def join(self) -> None:
        w = (await self.client.post(self.url + "le/join", json={})).raise_for_status().json()
        self.token, self.dims = w["token"], w["sliders"]
        self.values = {str(d): max(-4.0, min(4.0, round(w["z"][d], 2))) for d in self.dims}
        self.stream = asyncio.create_task(self._listen())
        await asyncio.wait_for(self.connected.wait(), 30)

    async def _listen(self) -> None:
        async with self.client.stream("GET", self.url + "le/events", params={"token": self.token},
                                      headers={"Accept": "text/event-stream"}, timeout=None) as r:
            r.raise_for_status()
            self.connected.set()
            await r.aread()  # reads until the stream ends (cancelled when the student leaves)

    def step(self) -> dict:
        """One move of the slider being dragged (now and then another slider)."""
        if self.held is None or self.rng.random() < 0.1:
            self.held = str(self.rng.choice(self.dims))
        v = self.values[self.held] + self.rng.gauss(0.0, 0.15)
        self.values[self.held] = round(max(-4.0, min(4.0, v)), 2)
        return {"token": self.token, "op": "dims", "values": dict(self.values)}

    async def drag(self, start: float, window: tuple[float, float], stats: dict) -> None:
        """A change every PERIOD from ``start`` until the window ends, then the last answers."""
        sender, k = None, 0
        while (t := start + k * PERIOD) < window[1]:
            await asyncio.sleep(max(0.0, t - time.perf_counter()))
            if self.waiting is not None and window[0] <= self.waiting[0]:
                stats["replaced"] += 1
            self.waiting, k = (t, self.step()), k + 1
            stats["asked"] += window[0] <= t
            if sender is None or sender.done():
                sender = asyncio.create_task(self._send(window, stats))
        await (sender or asyncio.sleep(0))  # the last change's answer

    async def _send(self, window, stats) -> None:
        while self.waiting is not None:
            (t, body), self.waiting = self.waiting, None
            outcome, why, sent = "errors", None, time.perf_counter()
            try:
                r = await self.client.post(self.url + "le/change", json=body, timeout=TIMEOUT)
                if r.status_code == 429:
                    outcome = "rate_limited"
                elif r.status_code != 200:
                    why = f"{r.status_code} {r.text[:120]}"
                elif (d := r.json()).get("superseded"):
                    outcome = "superseded"
                else:
                    base64.b64decode(d["png"].split(",", 1)[1], validate=True)
                    outcome = "served"
            except Exception as e:  # noqa: BLE001 - a timeout or a broken connection: an error
                why = f"{type(e).__name__}: {str(e)[:120]}"
            if window[0] <= t:
                stats[outcome] += 1
                if outcome == "served":  # from the user's action; from the request's start
                    stats["lat"].append(time.perf_counter() - t)
                    stats["rtt"].append(time.perf_counter() - sent)
                if why:
                    stats["error_samples"].add(why)


def pct(xs, q):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] * 1000, 1) if xs else None


def floor(calls: int) -> dict:
    """One latent decoded and PNG-encoded directly: what no server can beat."""
    import numpy as np
    import torch

    import latent_explorer
    from latent_explorer.app.classroom import png_bytes

    torch.set_num_threads(1)
    m = latent_explorer.load_model("digits")
    z = np.random.default_rng(0).standard_normal((1, *m.latent_shape)).astype(np.float32)
    times = timeit.repeat(lambda: png_bytes(m.decode(z)[0]), number=1, repeat=calls + 20)[20:]  # 20 warm up
    return {"calls": calls, "p50_ms": pct(times, 50), "p95_ms": pct(times, 95)}


async def cpu_over(server: Server, seconds: float) -> dict:
    """Over ``seconds``: the server's CPU and this process's, and their waits for a CPU, in % of a core."""
    def now():
        return time.perf_counter(), server.cpu_s(), sum(os.times()[:2]), waited_s(server.pid), waited_s("self")
    t0, *a = now()
    await asyncio.sleep(seconds)
    t1, *b = now()
    return {f"{k}_percent": round(100 * (y - x) / (t1 - t0), 2) for k, x, y in zip(CPU, a, b)}


async def measure(server: Server, class_: list, warm: float, seconds: float, rss0: float) -> dict:
    """Every student in ``class_`` drags for ``warm`` + ``seconds``."""
    n, before = len(class_), server.load()
    stats = dict(dict.fromkeys(COUNTS, 0), lat=[], rtt=[], error_samples=set())
    start = time.perf_counter() + 0.05
    window = (start + warm, start + warm + seconds)
    drivers = [asyncio.create_task(s.drag(start + PERIOD * i / n, window, stats)) for i, s in enumerate(class_)]
    await asyncio.sleep(window[0] - time.perf_counter())
    cpu = await cpu_over(server, window[1] - time.perf_counter())
    await asyncio.gather(*drivers)
    lat, rss, own, served = stats["lat"], server.rss_mb(), server.load(), max(1, stats["served"])
    batches = max(1, own["batches"] - before["batches"])
    return {"students": n, **{f"p{q}_ms": pct(lat, q) for q in (50, 95, 99)}, "max_ms": pct(lat, 100),
            **{f"request_p{q}_ms": pct(stats["rtt"], q) for q in (50, 95)}, "asked_per_s": round(n / PERIOD, 1),
            "served_per_s": round(stats["served"] / seconds, 1), **{k: stats[k] for k in COUNTS},
            "error_samples": sorted(stats["error_samples"])[:5], **cpu, "server_rss_mb": round(rss, 1),
            "mb_per_student": round((rss - rss0) / n, 2),
            **{f"{k}_ms_per_change": round(10 * cpu[f"{k}_percent"] * seconds / served, 2) for k in CPU[:2]},
            "server_mean_batch": round((own["decoded"] - before["decoded"]) / batches, 2),
            "server_own": {k: own.get(k) for k in ("connected", "p50_ms", "p95_ms")}}


async def main(a, counts: list[int], warm: float, idle_s: float) -> dict:
    def client(pool: int):  # a browser's: its own keep-alive pool (HTTP/1.1: one request a connection)
        return httpx.AsyncClient(limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
                                 timeout=TIMEOUT)

    server, out, class_ = Server(a.model, a.seconds, 500 if a.smoke else None), {"runs": []}, []
    try:
        await asyncio.sleep(1.0)  # the server's start-up settles
        none = [(await cpu_over(server, idle_s))["server_cpu_percent"]]
        out["rss_start_mb"] = rss0 = round(server.rss_mb(), 1)
        shared = client(max(counts) * 2 + 10) if a.one_client else None
        for n in counts:
            new = [Student(shared or client(4), server.url, seed=len(class_) + i) for i in range(n - len(class_))]
            await asyncio.gather(*(s.join() for s in new))
            class_ += new
            print(f"{n} students joined: dragging for {warm:g} + {a.seconds:g} s", file=sys.stderr, flush=True)
            out["runs"].append(await measure(server, class_, warm, a.seconds, rss0))
        idle = {"students": len(class_), "connected": server.load()["connected"], "seconds": idle_s,
                "server_cpu_percent": (await cpu_over(server, idle_s))["server_cpu_percent"]}
        for s in class_:
            await s.client.post(server.url + "le/leave", json={"token": s.token})
            s.stream.cancel()
        await asyncio.gather(*(s.stream for s in class_), return_exceptions=True)
        await asyncio.sleep(1.0)
        out["rss_after_leave_mb"] = round(server.rss_mb(), 1)
        none.append((await cpu_over(server, idle_s))["server_cpu_percent"])
        out["idle"] = dict(idle, none_cpu_percent=none,
                           extra_cpu_percent=round(idle["server_cpu_percent"] - sum(none) / 2, 2))
    finally:
        await asyncio.gather(*(c.aclose() for c in {s.client for s in class_}), return_exceptions=True)
        server.close()
    return dict(out, server_stderr_problems=[ln for ln in server.stderr().splitlines() if "Error" in ln][:10])


def table(runs: list[dict], fl: dict, idle: dict) -> str:
    cols = ("students p50_ms p95_ms p99_ms max_ms request_p95_ms asked_per_s served_per_s errors rate_limited "
            "server_cpu_percent server_waited_for_cpu_percent client_cpu_percent client_waited_for_cpu_percent "
            "server_mean_batch mb_per_student").split()
    rows = ["N p50 p95 p99 max req-p95 asked/s served/s err 429 srv% srv-wait% gen% gen-wait% batch MB/st".split()]
    rows += [["-" if r[c] is None else str(r[c]) for c in cols] for r in runs]
    w = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(x.rjust(w[i]) for i, x in enumerate(r)) for r in rows]
    lines.append(f"floor (direct decode + PNG): p50 {fl['p50_ms']} ms, p95 {fl['p95_ms']} ms; idle: {idle['students']} "
                 f"students {idle['server_cpu_percent']} % CPU, none {idle['none_cpu_percent']} % (before, after)")
    return "\n".join(lines)


def judge(runs: list[dict], idle: dict) -> dict:
    by = {r["students"]: r["p95_ms"] for r in runs}
    met = {f"p95_{n}": None if n not in by else by[n] is not None and by[n] <= TARGETS[f"p95_ms_{n}"]
           for n in (30, 60)}
    return {**met, "errors": all(r["errors"] == 0 for r in runs),
            "mb_per_student": all(r["mb_per_student"] <= TARGETS["mb_per_student"] for r in runs),
            "idle": idle["extra_cpu_percent"] <= TARGETS["idle_cpu_percent"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", default="1,10,30,60", help="class sizes, comma-separated (run ascending)")
    ap.add_argument("--seconds", type=float, default=30.0, help="measured seconds per class size")
    ap.add_argument("--model", default="digits")
    ap.add_argument("--one-client", action="store_true", help="one httpx client (one pool) for the whole class, not "
                    "one a student: its pool's cost grows with the class (the generator, not the server, saturates)")
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("classroom_load", a)
    counts, warm, idle_s = sorted({int(x) for x in a.students.split(",")}), 3.0, min(10.0, a.seconds)
    if a.smoke:  # 1 and 3 students, 1 s each, a 500-image map: proves the bench runs
        counts, a.seconds, warm, idle_s = [1, 3], 1.0, 0.3, 0.5
    fl = floor(20 if a.smoke else 200)
    out = asyncio.run(main(a, counts, warm, idle_s))
    runs, idle, m = out.pop("runs"), out.pop("idle"), _results.machine()
    result = {"bench": "classroom_load", "machine": {k: m[k] for k in ("cpu", "cores", "cores_usable")},
              "load": {"start": run.load_start, "end": _results.load()}, "model": a.model, "seconds": a.seconds,
              "clients": "one" if a.one_client else "one a student", "warm_up_s": warm, "floor_ms": fl, "runs": runs,
              "idle": idle, **out, "targets": TARGETS, "met": judge(runs, idle)}
    print(table(runs, fl, idle), flush=True)
    run.emit(result)
