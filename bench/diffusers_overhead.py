"""Benchmark: our diffusers VAE wrapper against calling diffusers directly, and the tiered preview.

The Stable Diffusion VAE architecture (block_out_channels 128-256-512-512, layers_per_block 2,
4 latent channels) with random weights, at 256 px on this machine's CPU (or GPU with --device):
- overhead_ratio: our fp32 ``decode`` (unscale, decode, clamp, uint8) over ``vae.decode``
  alone on the same latent; interleaved repeats, medians;
- first_preview_ms: a latent change -> the approximate (linear) preview image ready, median;
- worker_preview_ms (p50, p95): the same through the app's path: a change every 40 ms asks the
  DecodeWorker (as ``TieredPreviewer`` does) and the clock, started at the change's scheduled
  time, stops when the preview canvas has painted that change's image (offscreen Qt);
- app_full_decode_s: the app's full decode (all cores) against one_thread_full_decode_s, the
  same decode on the single torch thread the GUI worker uses for everything else (ratio);
- full_decode_s_fp32 / full_decode_s_bf16: our full decode in fp32 and in bf16. Where the CPU
  has no bf16 units (cpu_has_bf16 false) torch runs bf16 convolutions far slower than fp32, so
  bf16 is timed at a small size (--bf16-size, default 32 px) and full_decode_s_bf16 is the
  ×(256/32)² estimate, marked full_decode_s_bf16_estimated.
On a busy shared CPU (load average above the core count) torch uses one thread unless
--threads says otherwise: the thread pool's spin-waits cost more than a second thread gains.
The last stdout line is one JSON object; progress goes to stderr.
Usage: python bench/diffusers_overhead.py [--repeats 2] [--threads N] [--yield-gap 256,512]
``--smoke``: a narrow SD-like VAE (32 channels a block, one layer) at 64 px, one repeat, a few
worker previews, and the yield gap at 32 px too; ``--save``: bench/results/ (bench/_results.py).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

import _results

KEYS = ("device", "cpu", "torch_threads", "size", "overhead_ratio", "first_preview_ms", "worker_preview_ms_p50",
        "worker_preview_ms_p95", "app_full_decode_s", "one_thread_full_decode_s", "full_decode_s_fp32",
        "full_decode_s_bf16", "cpu_has_bf16")


def cpu_name() -> str:
    try:
        return next(line for line in open("/proc/cpuinfo") if line.startswith("model name")).split(":", 1)[1].strip()
    except (OSError, StopIteration):
        return "unknown"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def time_bf16(vae, a, bf16_size: int) -> tuple[float, float]:
    """Our bf16 decode at ``bf16_size`` px, and that scaled to ``a.size`` (conv cost ~ pixels)."""
    from latent_explorer.core.models.diffusers_vae import DiffusersVAEModel

    low = DiffusersVAEModel(vae, spec="sd-vae-random", device=a.device, size=bf16_size, precision="bf16")
    low._lowp_vae()  # the bf16 copy is made once, at the first decode: not part of the timing
    zl = low.sample_prior(1, seed=0)
    if bf16_size != 32:
        low.set_size(32)
        low.decode(low.sample_prior(1, seed=0))  # warm-up
        low.set_size(bf16_size)
    log(f"timing a bf16 decode at {bf16_size} px")
    small = timed(lambda: low.decode(zl))
    log(f"bf16 {small:.2f} s at {bf16_size} px")
    return small * (a.size / bf16_size) ** 2, small


def worker_preview_ms(model, z, changes: int = 40, interval_ms: int = 40) -> list[float]:
    """Latent change -> approximate preview painted, through the DecodeWorker and the preview widget."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from latent_explorer.app.jobs import tiers
    from latent_explorer.gui.widgets.preview import PreviewView
    from latent_explorer.gui.worker import DecodeWorker

    app = QApplication.instance() or QApplication([])
    view = PreviewView()
    view.resize(512, 512)
    view.show()
    worker = DecodeWorker(torch_threads=None, model=model)
    worker.start()
    rng = np.random.default_rng(2)
    pending, out, state = [], [], {"i": 0, "t0": 0.0}

    def painted(rid):
        now = time.perf_counter()
        while pending and pending[0][0] <= rid:
            out.append((now - pending.pop(0)[1]) * 1e3)

    view.view.painted.connect(painted)

    def change():
        i = state["i"]
        if i >= changes:
            return
        zi = z[0] + rng.standard_normal(z.shape[1:]).astype(np.float32) * 0.05
        rid = worker.submit("preview", tiers.approx, zi, on_result=lambda d: view.show_image(
            d.image, worker.latest_id("preview") or 0))
        pending.append((rid, state["t0"] + i * interval_ms / 1e3))
        state["i"] = i + 1

    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(change)
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: state["i"] >= changes and not pending and loop.quit())
    state["t0"] = time.perf_counter() + interval_ms / 1e3
    timer.start()
    poll.start(5)
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    timer.stop()
    poll.stop()
    worker.stop(5000)
    view.close()
    app.processEvents()
    return out


def yield_gaps(vae, sizes) -> dict:
    """The worst gap (ms) between two looks of a background decode at whether a request waits, per size."""
    from latent_explorer.app.jobs import learned_decodes as decodes
    from latent_explorer.core.models.diffusers_vae import DiffusersVAEModel

    class Looks:  # the worker's TaskContext as decode_chunk sees it: nothing ever waits
        def __init__(self, model):
            self.model, self.cancelled, self.times = model, False, []

        def checkpoint(self):
            pass

        def waiting(self):
            self.times.append(time.perf_counter())
            return False

    torch.set_num_threads(1)  # as on the worker
    model = DiffusersVAEModel(vae, spec="sd-vae-random", device="cpu", size=64)
    model.decode(model.sample_prior(1, seed=0))  # warm-up (kernel selection) at a small size
    model.weights_hash()  # (the app's "hash" request computes it once, right after the load)
    out = {}
    for size in sizes:
        model.set_size(size)
        z = model.sample_prior(1, seed=0)
        ctx = Looks(model)
        targets = decodes.DecodeTargets(tuple(model.latent_shape), [0])
        t0 = time.perf_counter()
        decodes.decode_chunk(ctx, targets, z, count=1)
        t = [t0] + ctx.times + [time.perf_counter()]
        gaps = np.diff(t) * 1e3
        out[str(size)] = {"decode_s": round(t[-1] - t0, 2), "looks": len(ctx.times),
                          "worst_gap_ms": round(float(gaps.max()), 1),
                          "p99_gap_ms": round(float(np.percentile(gaps, 99)), 1)}
        log(f"yield gap at {size} px: worst {gaps.max():.0f} ms over {len(ctx.times)} looks in {t[-1] - t0:.1f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2, help="interleaved pairs (ours, direct)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: 1 on a busy CPU, else default)")
    ap.add_argument("--bf16-size", type=int, default=0,
                    help="size for the bf16 timing (0: --size, or 32 where the CPU has no bf16 units)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-bf16", action="store_true")
    ap.add_argument("--yield-gap", default="", help="sizes (e.g. 256,512): only measure a background decode's yield gap")
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("diffusers_overhead", a, variant="yield-gap" if a.yield_gap else None)
    changes = 40
    if a.smoke:
        a.size, a.repeats, a.bf16_size, changes = 64, 1, 16, 5
        _results.offscreen()

    from diffusers import AutoencoderKL

    from latent_explorer.core.models.diffusers_vae import DiffusersVAEModel, cpu_bf16_units

    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    torch.set_num_threads(a.threads or (1 if busy else torch.get_num_threads()))
    log(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    torch.manual_seed(0)
    t = time.perf_counter()
    width, layers = ([32] * 4, 1) if a.smoke else ([128, 256, 512, 512], 2)
    vae = AutoencoderKL(block_out_channels=width, down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=layers, latent_channels=4,
                        norm_num_groups=32, sample_size=512, scaling_factor=0.18215).eval()
    build_s = time.perf_counter() - t
    if a.yield_gap:
        gaps = yield_gaps(vae, [int(v) for v in a.yield_gap.split(",")])
        run.emit({"cpu": cpu_name(), "torch_threads": 1, "load_average": round(os.getloadavg()[0], 2),
                  "yield_gap": gaps})
        return
    model = DiffusersVAEModel(vae, spec="sd-vae-random", device=a.device, size=a.size)
    z = model.sample_prior(1, seed=0)
    zt = torch.from_numpy(z).to(a.device)
    last = {}

    def direct():
        with torch.inference_mode():
            vae.decode(zt / model.scaling_factor).sample

    def ours():
        last["image"] = model.decode(z)

    model.set_size(64)
    model.decode(model.sample_prior(1, seed=0))  # warm-up (kernel selection) at a small size
    model.set_size(a.size)
    log("warm; timing fp32 decodes")
    times = {"direct": [], "ours": []}
    for i in range(a.repeats):  # interleaved, alternating which goes first
        for name in (("direct", "ours") if i % 2 == 0 else ("ours", "direct")):
            times[name].append(timed(direct if name == "direct" else ours))
            log(f"  {name} {times[name][-1]:.2f} s")
    direct_s, ours_s = statistics.median(times["direct"]), statistics.median(times["ours"])

    # the app's full decode (app.jobs.tiers.final: interruptible, on every core) against the
    # same decode on the one torch thread the GUI worker keeps for everything else
    from types import SimpleNamespace

    from latent_explorer.app.jobs.tiers import final

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    one_thread_s = timed(ours)
    app_s = timed(lambda: final(SimpleNamespace(model=model, checkpoint=lambda: None), z[0]))
    torch.set_num_threads(threads)
    log(f"full decode on 1 thread {one_thread_s:.2f} s, in the app (all cores) {app_s:.2f} s")

    fit_s = timed(model.fit_preview)
    log(f"linear preview fitted in {fit_s:.1f} s")
    approx_err = float(np.abs(model.approx_decode(z).astype(float) - last["image"]).mean())
    rng = np.random.default_rng(1)
    preview_ms, zs = [], z
    for _ in range(30):  # a slider drag: each step changes the latent, the preview must follow
        zs = zs + rng.standard_normal(z.shape).astype(np.float32) * 0.05
        preview_ms.append(timed(lambda: model.approx_decode(zs)) * 1e3)

    through_worker = worker_preview_ms(model, z, changes)
    log(f"approximate preview through the worker to the paint: p50 {np.percentile(through_worker, 50):.1f} ms")

    units = cpu_bf16_units()
    bf16_size = a.bf16_size or (a.size if units else 32)
    bf16_s = bf16_small_s = None
    if not a.skip_bf16:
        bf16_s, bf16_small_s = time_bf16(vae, a, bf16_size)

    result = {
        "device": a.device, "cpu": cpu_name(), "torch_threads": torch.get_num_threads(),
        "load_average": round(os.getloadavg()[0], 2), "size": a.size, "repeats": a.repeats,
        "build_random_vae_s": round(build_s, 2),
        "diffusers_decode_s": round(direct_s, 3), "our_decode_s": round(ours_s, 3),
        "overhead_ratio": round(ours_s / direct_s, 4),
        "first_preview_ms": round(statistics.median(preview_ms), 2),
        "first_preview_ms_p95": round(float(np.percentile(preview_ms, 95)), 2),
        "worker_preview_ms_p50": round(float(np.percentile(through_worker, 50)), 2),
        "worker_preview_ms_p95": round(float(np.percentile(through_worker, 95)), 2),
        "worker_preview_changes": len(through_worker),
        "preview_fit_s": round(fit_s, 2), "preview_fit_rms": round(model._linear.fit_error, 4),
        "preview_mean_abs_error_levels": round(approx_err, 1),
        "full_decode_s_fp32": round(ours_s, 3),
        "app_full_decode_s": round(app_s, 3), "one_thread_full_decode_s": round(one_thread_s, 3),
        "app_vs_one_thread_ratio": round(app_s / one_thread_s, 3),
        "full_decode_s_bf16": None if bf16_s is None else round(bf16_s, 3),
        "full_decode_s_bf16_estimated": bf16_s is not None and bf16_size != a.size,
        "bf16_decode_s_measured": None if bf16_small_s is None else round(bf16_small_s, 3),
        "bf16_measured_size": bf16_size,
        "cpu_has_bf16": bool(units), "cpu_bf16_flags": units,
    }
    if a.smoke:  # the --yield-gap path too, at a tiny size
        result["yield_gap"] = yield_gaps(vae, [32])
    run.emit(result)


if __name__ == "__main__":
    main()
