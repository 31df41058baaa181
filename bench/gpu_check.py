"""Ready for a GPU: one command that checks and times everything the app does on CUDA, and prints one JSON.

    python bench/gpu_check.py                  # on CUDA (the default --device)
    python bench/gpu_check.py --device cpu     # the same on the CPU
    python bench/gpu_check.py --device cpu --smoke   # seconds (tests/test_benches.py runs this)

Parts, each recorded as ``{"status": "ok" | "skipped" | "failed", ...}`` with its figures, a
``reason`` when skipped and a ``message`` when failed, so one failing part hides none of the others:

- ``load``: every bundled model loaded on the device (``load_model(name, device=...)``), seconds each,
  and where its weights ended up;
- ``agreement``: per bundled model, the posterior means (``encode``) and the float decode (before
  the uint8 rounding) on the device against the CPU, from the same inputs (the reference model's own
  decodes of prior samples): max |difference| ≤ 1e-4 in fp32. On CUDA with TF32 off (strict fp32);
  what the app gets with torch's default (cuDNN convolutions in TF32) is reported beside it.
  With ``--device cpu`` the "device" model is a second, independent CPU load: determinism;
- ``precision``: photos-sd's bf16 and fp16 full decodes (``load_model(..., precision=...)``) against
  its fp32 decode on the same device: max |difference| and PSNR of the uint8 images (bf16 ≥ 40 dB,
  fp16 ≥ 45 dB; on a CPU bf16 gives about 52 dB and fp16 63 dB), and whether it fell back to fp32.
  The ConvVAE models have no reduced-precision path (they decode in fp32);
- ``preview``: latent change -> preview delivered, through the app's worker
  (``app.scheduler.Scheduler``, its default one torch thread) with the job the window submits
  (``tiers.approx`` for a slow decoder, else ``decode.decode``), for digits and photos-sd at its
  default working size: p50 / p95 ms over a drag of changes, one after another;
- ``sd_full_decode``: photos-sd's full decode at 256 and 512 px, fp32 (and bf16 where it is fast:
  CUDA, or a CPU with bf16 units), median seconds;
- ``learned_fit``: the learned preview's fit (``PreviewFitter``, the app's ``FIT_STEPS``) on photos-sd
  pairs (256 px on CUDA) encoded on the device; the fitter itself runs on the CPU, one thread, as in the app;
- ``training``: 30 s of ``core.train.train`` on mnist-5k on the device: steps, steps/s, held-out −ELBO;
- ``ray_encode``: a folder of digit PNGs encoded by ``encode_collection_ray`` on a local Ray, which
  gives each model actor one GPU when the machine has one (the CPU otherwise), against the local
  engine's shards.

How much each part does (``sizes``): on CUDA all of the above (16 images a model, 4 latents for
the precision check at 256 px, 5 repeats, 64 fitting pairs at 256 px, 200 preview changes); with
``--device cpu`` the slow Stable Diffusion work shrinks (photos-sd at 64 px for the agreement and
for bf16/fp16, one decode a size after one warm-up at 64 px, 32 fitting pairs at 128 px, 50
changes): about four minutes on a 2-core CPU, where photos-sd takes ~9 s to decode at 256 px and
~45 s at 512 px. ``--smoke``: seconds: 64 px
(32 px for the precision check), no 512 px decode, 10 fitting steps, 3 training steps, 8 preview
changes, and Ray skipped (a local Ray takes 10-20 s to start on two cores; ``--ray`` runs it).
``--only load,agreement`` runs some parts. Exit code 1 when a part failed, 2 when the device is not
there; the JSON is printed either way. ``--save``: bench/results/gpu_check.json (``-cpu`` for the CPU).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

import _results

KEYS = ("device", "smoke", "summary", "parts")
SMOKE_ARGS = ("--device", "cpu")  # tests/test_benches.py: the smoke run on the CPU
FP32_TOL = 1e-4
LOWP_PSNR_DB = {"bf16": 40.0, "fp16": 45.0}


def sizes(device: str, smoke: bool) -> dict:
    """How much each part does: on CUDA the full check; on a CPU less of the slow SD work (a 512 px
    decode takes seconds there, and bf16 without bf16 units far longer); --smoke: seconds."""
    if smoke:
        return dict(agree_n=2, agree_size=64, lowp_size=32, lowp_n=1, decode_sizes=(64,), repeats=1,
                    fit=(64, 8, 10), changes=8)
    if str(device).startswith("cuda"):
        return dict(agree_n=16, agree_size=256, lowp_size=256, lowp_n=4, decode_sizes=(256, 512), repeats=5,
                    fit=(256, 64, None), changes=200)
    return dict(agree_n=4, agree_size=64, lowp_size=64, lowp_n=2, decode_sizes=(256, 512), repeats=1,
                fit=(128, 32, None), changes=50)


class Skip(Exception):
    """A part that does not apply here: its reason is recorded."""


class Parts:
    """Runs each part in isolation: ok / skipped (reason) / failed (message), with its seconds."""

    def __init__(self):
        self.parts: dict[str, dict] = {}

    def run(self, name: str, fn, *args, **kwargs) -> dict:
        t0 = time.perf_counter()
        print(f"[gpu_check] {name}…", file=sys.stderr, flush=True)
        try:
            out = dict(fn(*args, **kwargs) or {})
            problems = out.pop("problems", [])
            rec = {"status": "failed", "message": "; ".join(problems)} if problems else {"status": "ok"}
            rec.update(out)
        except Skip as e:
            rec = {"status": "skipped", "reason": str(e)}
        except Exception as e:  # noqa: BLE001 - one failing part must not hide the others
            tb = traceback.extract_tb(e.__traceback__)
            where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            rec = {"status": "failed", "message": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                   "where": where}
            traceback.print_exc(file=sys.stderr)
        rec["seconds"] = round(time.perf_counter() - t0, 2)
        self.parts[name] = rec
        print(f"[gpu_check] {name}: {rec['status']} ({rec['seconds']} s)", file=sys.stderr, flush=True)
        return rec

    def summary(self) -> dict:
        out = {"ok": 0, "skipped": 0, "failed": 0}
        for rec in self.parts.values():
            out[rec["status"]] += 1
        return out


# ---- helpers -------------------------------------------------------------------------------------

def sync(device: str) -> None:
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def median_s(fn, device: str, repeats: int, warm: bool = True) -> float:
    if warm:
        fn()  # warm-up (kernel selection, cuDNN autotuning, allocations)
    return float(np.median([timed(fn, device) for _ in range(repeats)]))


@contextlib.contextmanager
def strict_fp32(device: str):
    """CUDA convolutions and matmuls in IEEE fp32 (no TF32) inside the block; nothing on a CPU."""
    if not str(device).startswith("cuda"):
        yield
        return
    import torch

    conv = getattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision", None)
    if conv is not None:  # torch ≥ 2.9: the fp32_precision API (mixing it with allow_tf32 is refused)
        saved = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        try:
            yield
        finally:
            torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision = saved
    else:
        saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def float_decode(model, z: np.ndarray):
    """The decode before the uint8 rounding, as a CPU float tensor in [0, 1]."""
    import torch

    if hasattr(model, "decode_tensor"):  # a diffusers VAE: [-1, 1]
        return model.decode_tensor(z).float().div(2).add(0.5).clamp(0, 1).cpu()
    with torch.inference_mode():
        x = torch.from_numpy(np.asarray(z, np.float32).reshape(-1, *model.latent_shape)).to(model.device)
        return model.vae.decode(x).float().clamp(0, 1).cpu()


def weights_device(model) -> str:
    try:
        return str(next(model.vae.parameters()).device)
    except (AttributeError, StopIteration):
        return str(getattr(model, "device", "?"))


def load(name: str, device: str, **kwargs):
    import latent_explorer as lx

    return lx.load_model(name, device=device, **kwargs)


# ---- the parts -----------------------------------------------------------------------------------

def part_load(names, device: str) -> dict:
    out, problems = {}, []
    for name in names:
        t = time.perf_counter()
        m = load(name, device)
        where = weights_device(m)
        out[name] = {"load_s": round(time.perf_counter() - t, 3), "weights_on": where,
                     "latent_shape": list(m.latent_shape), "image_size": list(m.image_size),
                     "kind": type(m).__name__}
        if not where.startswith(device.split(":")[0]):
            problems.append(f"{name}: weights on {where}, not {device}")
    return {"models": out, "problems": problems}


def part_agreement(names, device: str, sz: dict) -> dict:
    """Encode and float decode on ``device`` against the CPU (on a CPU: a second CPU load)."""
    out, problems = {}, []
    n = sz["agree_n"]
    for name in names:
        ref = load(name, "cpu")
        if hasattr(ref, "set_size"):
            ref.set_size(sz["agree_size"])
        z0 = ref.sample_prior(n, seed=0)
        images = ref.decode(z0)  # the model's own images: inputs it is meant for
        mean_ref, _ = ref.encode(images)
        dec_ref = float_decode(ref, mean_ref)
        other = load(name, device)
        if hasattr(other, "set_size"):
            other.set_size(ref.image_size)
        row = {}
        with strict_fp32(device):
            mean_dev, _ = other.encode(images)
            dec_dev = float_decode(other, mean_ref)
        row["encode_max_abs"] = float(np.abs(mean_dev - mean_ref).max())
        row["decode_max_abs"] = float((dec_dev - dec_ref).abs().max())
        levels = other.decode(mean_ref).astype(int) - ref.decode(mean_ref).astype(int)
        row["uint8_levels_max"] = int(np.abs(levels).max())
        if device.startswith("cuda"):  # as the app runs it: torch's defaults (cuDNN convolutions in TF32)
            mean_tf, _ = other.encode(images)
            row["tf32_default_encode_max_abs"] = float(np.abs(mean_tf - mean_ref).max())
            row["tf32_default_decode_max_abs"] = float((float_decode(other, mean_ref) - dec_ref).abs().max())
        for k in ("encode_max_abs", "decode_max_abs"):
            if not row[k] <= FP32_TOL:
                problems.append(f"{name}: {k} {row[k]:.2e} > {FP32_TOL:g}")
        out[name] = row
    return {"against": "cpu" if device.startswith("cuda") else "a second cpu load (determinism)",
            "strict_fp32": device.startswith("cuda"), "tolerance": FP32_TOL, "images": n,
            "photos_sd_size": sz["agree_size"], "models": out, "problems": problems}


def part_precision(device: str, sz: dict) -> dict:
    import torch

    from latent_explorer.core.models.learned_preview import psnr

    size = sz["lowp_size"]
    ref = load("photos-sd", device, size=size)
    z = ref.sample_prior(sz["lowp_n"], seed=0)

    def as_uint8(x):  # as DiffusersVAEModel.decode makes its images from the same float decode
        return x.mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()

    with strict_fp32(device):
        a = float_decode(ref, z)
    out, problems = {"size": size, "latents": len(z), "reference": "fp32 on the same device"}, []
    for precision in ("bf16", "fp16"):
        m = load("photos-sd", device, size=size, precision=precision)
        b = float_decode(m, z)
        row = {"max_abs": round(float((a - b).abs().max()), 5), "mean_abs": round(float((a - b).abs().mean()), 6),
               "psnr_db": round(psnr(as_uint8(a), as_uint8(b)), 2), "decode_dtype": m.dtype,
               "fell_back_to_fp32": bool(m.fp32_fallback), "notices": list(m.notices)}
        if row["psnr_db"] < LOWP_PSNR_DB[precision]:
            problems.append(f"{precision}: {row['psnr_db']} dB < {LOWP_PSNR_DB[precision]} dB against fp32")
        out[precision] = row
    out["convvae_models"] = "no reduced-precision path: ConvVAE models decode in fp32"
    out["problems"] = problems
    return out


def part_preview(device: str, sz: dict) -> dict:
    import torch

    from latent_explorer.app.jobs import decode as decode_jobs
    from latent_explorer.app.jobs import tiers
    from latent_explorer.app.scheduler import Scheduler

    changes = sz["changes"]
    out = {"changes": changes}
    threads = torch.get_num_threads()
    for name in ("digits", "photos-sd"):
        model = load(name, device)
        slow = tiers.can_approximate(model)
        s = Scheduler(model=model)  # the app's worker rules, its one torch thread, results through the inbox
        s.start()
        try:
            if slow:  # as the window does right after loading a slow decoder: fit the linear preview
                got = []
                s.submit("load", tiers.prepare, on_result=got.append)
                if not s.wait_for(lambda: got, timeout=300):
                    raise RuntimeError(f"{name}: preparing the preview took over 300 s")
            job = tiers.approx if slow else decode_jobs.decode
            rng = np.random.default_rng(0)
            z = model.sample_prior(1, seed=0)[0]
            lat = []
            for i in range(changes + 1):
                zi = z + rng.standard_normal(z.shape).astype(np.float32) * 0.05
                got = []
                t = time.perf_counter()
                s.submit("preview", job, zi, on_result=got.append)
                if not s.wait_for(lambda: got, timeout=60):
                    raise RuntimeError(f"{name}: a preview took over 60 s")
                if i:  # (the first is a warm-up)
                    lat.append((time.perf_counter() - t) * 1000)
        finally:
            s.stop(5000)
            torch.set_num_threads(threads)  # (the worker set one thread for the process)
        out[name] = {"job": job.__module__.rsplit(".", 1)[-1] + "." + job.__name__,
                     "size": list(model.image_size), "p50_ms": round(float(np.percentile(lat, 50)), 2),
                     "p95_ms": round(float(np.percentile(lat, 95)), 2)}
    return out


def part_sd_decode(device: str, sz: dict, smoke: bool) -> dict:
    from latent_explorer.app.jobs.tiers import lowp_default

    repeats = sz["repeats"]
    fast_lowp, units = lowp_default(device)
    cuda = str(device).startswith("cuda")
    out = {"repeats": repeats,
           "warm_up": "each size" if cuda else "once, at 64 px (a CPU decode at 512 px takes most of a minute)"}
    if not cuda:
        m = load("photos-sd", device, size=64)
        m.decode(m.sample_prior(1, seed=0))
    for size in sz["decode_sizes"]:
        m = load("photos-sd", device, size=size)
        z = m.sample_prior(1, seed=0)
        row = {"fp32_s": round(median_s(lambda: m.decode(z), device, repeats, warm=cuda), 3)}
        if fast_lowp:
            m.set_precision("bf16")
            row["bf16_s"] = round(median_s(lambda: m.decode(z), device, repeats, warm=cuda), 3)
        else:
            row["bf16_s"] = "skipped: no bf16 units on this CPU (far slower than fp32 here)"
        out[str(size)] = row
    if smoke:
        out["256"] = out["512"] = "skipped in --smoke (64 px instead)"
    if str(device).startswith("cuda"):
        import torch

        out["max_memory_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    out["lowp_units"] = units
    return out


def part_learned_fit(device: str, sz: dict) -> dict:
    import torch

    from latent_explorer.app.jobs.learned import FIT_STEPS
    from latent_explorer.core.data import photos
    from latent_explorer.core.models.learned_preview import PreviewFitter

    size, pairs, steps = sz["fit"]
    pairs, steps = max(pairs, 4), steps or FIT_STEPS
    model = load("photos-sd", device, size=size)
    t = time.perf_counter()
    model.fit_preview()
    linear_s = time.perf_counter() - t
    images = photos.crops("train", pairs, size, seed=101, augment=False)
    t = time.perf_counter()
    latents, _ = model.encode(images)
    encode_s = time.perf_counter() - t
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the worker: the fit, and the previews it makes
    try:
        fitter = PreviewFitter(latents, images, model.factor, linear=model.linear_decode, steps=steps)
        fitter.run()
        learned = fitter.result()
        model.set_learned_preview(learned)
        z = latents[:1]
        model.approx_decode(z)
        preview_ms = []
        for _ in range(10):
            t = time.perf_counter()
            model.approx_decode(z)
            preview_ms.append((time.perf_counter() - t) * 1000)
    finally:
        torch.set_num_threads(threads)
    return {"size": size, "pairs": pairs, "steps": steps, "linear_fit_s": round(linear_s, 2),
            "encode_pairs_s": round(encode_s, 2), "fit_s": round(fitter.seconds, 2),
            "steps_per_s": round(steps / max(fitter.seconds, 1e-9), 1), "fit_runs_on": "cpu, 1 thread (as the app)",
            "learned_psnr_db": round(learned.psnr, 2), "linear_psnr_db": round(learned.linear_psnr, 2),
            "learned_preview_ms": round(float(np.median(preview_ms)), 2)}


def part_training(device: str, smoke: bool) -> dict:
    from latent_explorer.core.train import TrainOptions, train

    with tempfile.TemporaryDirectory(prefix="lx-gpu-train-") as tmp:
        opts = TrainOptions(data="mnist-5k", out=str(Path(tmp) / "model"), device=device,
                            **(dict(steps=3, limit=256) if smoke else dict(minutes=0.5)))
        r = train(opts)
    last = r.history[-1] if r.history else None
    return {"length": "3 steps on 256 images" if smoke else "30 s (loading included)", "seconds": round(r.seconds, 2),
            "steps": r.steps_done, "epochs": r.epochs_done, "batch_size": opts.batch_size,
            "steps_per_s": round(r.steps_done / max(r.seconds, 1e-9), 1),
            "test_neg_elbo": None if last is None or last.test_neg_elbo is None else round(last.test_neg_elbo, 2)}


def part_ray(device: str, smoke: bool, run_ray: bool) -> dict:
    import importlib.util

    if smoke and not run_ray:
        raise Skip("in --smoke: a local Ray takes 10-20 s to start on two cores (--ray runs it)")
    if importlib.util.find_spec("ray") is None:
        raise Skip("Ray is not installed (pip install -e '.[cluster]')")
    import ray

    from encode_throughput import make_folder
    from latent_explorer.core.data.collection import Collection, encode_collection
    from latent_explorer.core.data.collection_ray import encode_collection_ray, start_local_ray

    n, shard = (64, 16) if smoke else (2000, 250)
    with tempfile.TemporaryDirectory(prefix="lx-gpu-ray-") as tmp:
        tmp = Path(tmp)
        (tmp / "images").mkdir()
        make_folder(tmp / "images", n)
        encode_collection(load("digits", device), tmp / "images", tmp / "local", shard)
        t = time.perf_counter()
        start_local_ray(num_cpus=min(4, os.cpu_count() or 1))
        start_s = time.perf_counter() - t
        try:
            gpus = int(ray.cluster_resources().get("GPU", 0))
            t = time.perf_counter()
            encode_collection_ray(dict(spec="digits", device=device), tmp / "images", tmp / "ray", shard)
            ray_s = time.perf_counter() - t
        finally:
            ray.shutdown()
        pl, ml, _, _ = Collection(tmp / "local").latents()
        pr, mr, _, _ = Collection(tmp / "ray").latents()
    same = bool(pl.equals(pr) and np.allclose(ml, mr, atol=FP32_TOL))
    problems = [] if same else ["the Ray shards differ from the local engine's"]
    if device.startswith("cuda") and not gpus:
        problems.append("the local Ray sees no GPU")
    return {"images": n, "shard_size": shard, "ray_start_s": round(start_s, 2), "ray_s": round(ray_s, 2),
            "images_per_s": round(n / ray_s, 1), "cluster_gpus": gpus,
            "actors": max(1, min(-(-n // shard), gpus)) if gpus else "one per CPU",
            "gpus_per_actor": 1 if gpus else 0, "same_shards_as_local": same, "problems": problems}


# ---- main ----------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--ray", action="store_true", help="with --smoke: run the Ray part too")
    ap.add_argument("--only", default="", help="comma list of parts to run (default: all)")
    _results.add_options(ap)
    a = ap.parse_args()
    device = a.device.lower()
    import torch

    run = _results.start("gpu_check", a, variant="cpu" if device == "cpu" else None)

    from latent_explorer.core.models.loading import bundled_models

    result = {"device": device, "smoke": a.smoke, "torch": torch.__version__, "cpu": _results.cpu_model(),
              "gpu": None, "summary": {}, "parts": {}}
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            result["error"] = "torch sees no CUDA GPU here: run with --device cpu"
            run.emit(result)
            return 2
        result["gpu"] = torch.cuda.get_device_name(torch.device(device))
        result["cuda"] = torch.version.cuda
    names = list(bundled_models())
    sz = sizes(device, a.smoke)
    parts = Parts()
    todo = {
        "load": lambda: part_load(names, device),
        "agreement": lambda: part_agreement(names, device, sz),
        "precision": lambda: part_precision(device, sz),
        "preview": lambda: part_preview(device, sz),
        "sd_full_decode": lambda: part_sd_decode(device, sz, a.smoke),
        "learned_fit": lambda: part_learned_fit(device, sz),
        "training": lambda: part_training(device, a.smoke),
        "ray_encode": lambda: part_ray(device, a.smoke, a.ray),
    }
    only = [p for p in a.only.split(",") if p]
    for name, fn in todo.items():
        if only and name not in only:
            parts.parts[name] = {"status": "skipped", "reason": "not in --only"}
            continue
        parts.run(name, fn)
    result["summary"], result["parts"] = parts.summary(), parts.parts
    run.emit(result)
    return 1 if result["summary"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
