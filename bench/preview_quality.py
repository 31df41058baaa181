"""Approximate previews of a spatial VAE: the linear map against the learned preview.

On the bundled ``photos-sd`` (or ``--model``) at a working size of ``--size`` px (default 256),
as the app does it: the learned preview is fitted on (latent, image) pairs of crops of the
*training* photographs (the map's images), then both previews are compared with the full decode
on crops of the two *held-out* photographs, which neither the VAE nor the preview saw.

The preview stands in for the full decode, which is not the image, so the same run also fits,
with the same budget (steps, seed), a preview to the *full decodes* of the training latents
instead of the images — all of them, and ``--cap`` of them alone as the app does
(``app/jobs/learned_decodes.py``: it decodes that many map latents while the worker is idle) —
and times the decodes (one by one, one thread, as the app makes them). As the app does it, it
also fits to the ``--cap`` decodes starting from the image fit's weights (a warm start) for
``--warm-steps`` steps (default: the app's ``WARM_STEPS``; a comma list compares several), side
by side with the from-scratch fit to the same decodes.

Prints one JSON object as its last line: PSNR (dB) of the linear and the learned preview against
the full decode (and against the original images), their gain, the time of one preview of one
latent on one CPU thread (the worker's setting) for each and for the full decode, the time to
fit each preview, and the learned preview's parameter count; then ``image_fit_*``,
``decode_fit_*`` and ``capped_decode_fit_*``: the three fits against the full decode of the
held-out crops, and ``decodes_s`` / ``capped_decodes_s``: the time the decodes took;
``warm_decode_fit_*``: the warm start (the app's ``WARM_STEPS``, or the first of ``--warm-steps``)
and ``warm_sweep``: each of ``--warm-steps``; ``*_replaces``: whether the fit beats the image fit
on its own held-out decodes, as the app judges it (with its linear-map margin). Targets:
learned ≥ linear + 4 dB, ≤ 10 ms per 256 px preview. ``--smoke``: 64 px, 8 pairs, 4 held out, 10
steps, a cap of 6 decodes, 2 repeats; ``--save``: bench/results/ (bench/_results.py).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import _results

KEYS = ("model", "size", "linear_psnr_vs_full_db", "learned_psnr_vs_full_db", "gain_db", "linear_ms", "learned_ms",
        "full_decode_ms", "learned_fit_s", "image_fit_psnr_vs_full_db", "decode_fit_psnr_vs_full_db",
        "capped_decode_fit_psnr_vs_full_db", "warm_decode_fit_psnr_vs_full_db", "warm_sweep", "decodes_s",
        "meets_targets")


def per_preview_ms(fn, z: np.ndarray, repeats: int) -> float:
    fn(z[:1])
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(z[i % len(z):i % len(z) + 1])
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="photos-sd")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--pairs", type=int, default=160, help="training pairs (crops of the training photographs)")
    p.add_argument("--test", type=int, default=24, help="held-out crops (of the held-out photographs)")
    p.add_argument("--steps", type=int, default=1200, help="training steps of the learned preview")
    p.add_argument("--targets", choices=("images", "decodes"), default="images",
                   help="the learned preview of the main figures: fitted to the images (as the app does first) "
                        "or to their full decodes")
    p.add_argument("--cap", type=int, default=None, help="decodes the app makes (default: its MAX_DECODES)")
    p.add_argument("--warm-steps", default=None,
                   help="steps of the warm-started fit to the capped decodes (default: the app's WARM_STEPS); "
                        "a comma list compares several")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    _results.add_options(p)
    a = p.parse_args()
    run = _results.start("preview_quality", a)
    if a.smoke:
        a.size, a.pairs, a.test, a.steps, a.cap, a.warm_steps, a.repeats = 64, 8, 4, 10, 6, "5", 2
    import torch

    from latent_explorer.app.jobs.learned import MIN_GAIN_DB, WARM_STEPS
    from latent_explorer.app.jobs.learned_decodes import MAX_DECODES, plan
    from latent_explorer.core.data import photos
    from latent_explorer.core.models.learned_preview import LearnedPreview, PreviewFitter, psnr
    from latent_explorer.core.models.loading import load_model

    torch.set_num_threads(a.threads)
    model = load_model(a.model, device="cpu", size=a.size)
    t0 = time.perf_counter()
    model.fit_preview()
    linear_fit_s = time.perf_counter() - t0

    train_images = photos.crops("train", a.pairs, a.size, seed=101, augment=False)
    test_images = photos.crops("test", a.test, a.size, seed=202, augment=False)
    t0 = time.perf_counter()
    z_train, _ = model.encode(train_images)
    z_test, _ = model.encode(test_images)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = model.decode(z_test, batch_size=1)
    full_ms = (time.perf_counter() - t0) / len(z_test) * 1000
    decodes, decode_s = [], []
    for z in z_train:  # one by one, as the app's background decodes
        t0 = time.perf_counter()
        decodes.append(model.decode(z[None], batch_size=1)[0])
        decode_s.append(time.perf_counter() - t0)
    decodes = np.stack(decodes)
    picked = plan(len(z_train), min(len(z_train), MAX_DECODES if a.cap is None else a.cap))  # the app's choice

    def fit(latents, targets, kind, steps=a.steps, init=None):
        fitter = PreviewFitter(latents, targets, model.factor, linear=model.linear_decode, steps=steps,
                               targets=kind, init=init)
        fitter.run()
        return fitter, fitter.result()

    fits = {"images": fit(z_train, train_images, "images"), "decodes": fit(z_train, decodes, "decodes"),
            "capped": fit(z_train[picked], decodes[picked], "decodes")}
    warm_steps = [int(s) for s in a.warm_steps.split(",")] if a.warm_steps else [WARM_STEPS]
    image_net = fits["images"][1].net
    warm = [fit(z_train[picked], decodes[picked], "decodes", steps, image_net) for steps in warm_steps]
    assert all(f.warm for f, _ in warm)
    fitter, learned = fits[a.targets]
    model.set_learned_preview(learned)

    lin_out, learned_out = model.linear_decode(z_test), model.approx_decode(z_test)
    out = {
        "model": a.model, "size": a.size, "factor": model.factor, "latent_shape": list(model.latent_shape),
        "pairs": a.pairs, "held_out": a.test, "targets": a.targets, "threads": a.threads,
        "linear_psnr_vs_full_db": round(psnr(lin_out, full), 2),
        "learned_psnr_vs_full_db": round(psnr(learned_out, full), 2),
        "linear_psnr_vs_image_db": round(psnr(lin_out, test_images), 2),
        "learned_psnr_vs_image_db": round(psnr(learned_out, test_images), 2),
        "full_psnr_vs_image_db": round(psnr(full, test_images), 2),
        "linear_ms": round(per_preview_ms(model.linear_decode, z_test, a.repeats), 2),
        "learned_ms": round(per_preview_ms(model.approx_decode, z_test, a.repeats), 2),
        "full_decode_ms": round(full_ms, 1),
        "linear_fit_s": round(linear_fit_s, 2), "learned_fit_s": round(fitter.seconds, 1),
        "learned_steps": a.steps, "learned_parameters": learned.parameters, "encode_s": round(encode_s, 1),
        "held_out_pairs_psnr_learned_db": round(learned.psnr, 2),
        "held_out_pairs_psnr_linear_db": round(learned.linear_psnr, 2),
    }
    out["gain_db"] = round(out["learned_psnr_vs_full_db"] - out["linear_psnr_vs_full_db"], 2)
    for key, name in (("images", "image_fit"), ("decodes", "decode_fit"), ("capped", "capped_decode_fit")):
        f, r = fits[key]
        out[f"{name}_psnr_vs_full_db"] = round(psnr(LearnedPreview(r.net).decode(z_test, model.image_size), full), 2)
        out[f"{name}_pairs"], out[f"{name}_s"] = len(f.latents), round(f.seconds, 1)
    out["decode_fit_gain_db"] = round(out["decode_fit_psnr_vs_full_db"] - out["image_fit_psnr_vs_full_db"], 2)
    out["capped_decode_fit_gain_db"] = round(out["capped_decode_fit_psnr_vs_full_db"]
                                             - out["image_fit_psnr_vs_full_db"], 2)
    def vs_full(net) -> float:
        return round(psnr(LearnedPreview(net).decode(z_test, model.image_size), full), 2)

    def replaces(f, r) -> bool:  # the app's judgement: beats the linear map by the margin and the preview in use
        return bool(r.psnr >= r.linear_psnr + MIN_GAIN_DB and r.psnr > f.score(LearnedPreview(image_net).decode))

    out["capped_decode_fit_steps"] = a.steps
    out["capped_decode_fit_replaces"] = replaces(*fits["capped"])
    (f, r), steps = warm[0], warm_steps[0]
    out["warm_decode_fit_psnr_vs_full_db"] = vs_full(r.net)
    out["warm_decode_fit_gain_db"] = round(out["warm_decode_fit_psnr_vs_full_db"]
                                           - out["image_fit_psnr_vs_full_db"], 2)
    out["warm_decode_fit_pairs"], out["warm_decode_fit_s"] = len(f.latents), round(f.seconds, 1)
    out["warm_decode_fit_steps"], out["warm_decode_fit_replaces"] = steps, replaces(f, r)
    out["warm_sweep"] = [{"steps": s, "psnr_vs_full_db": vs_full(r.net), "s": round(f.seconds, 1),
                          "replaces": replaces(f, r)} for s, (f, r) in zip(warm_steps, warm)]
    out["decodes_s"], out["capped_decodes_s"] = round(sum(decode_s), 1), round(sum(decode_s[i] for i in picked), 1)
    out["decode_ms_per_image"] = round(float(np.median(decode_s)) * 1000, 1)
    out["meets_targets"] = bool(out["gain_db"] >= 4.0 and out["learned_ms"] <= 10.0)
    run.emit(out)


if __name__ == "__main__":
    main()
