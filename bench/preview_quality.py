"""Approximate previews of a spatial VAE: the linear map against the learned preview.

On the bundled ``photos-sd`` (or ``--model``) at a working size of ``--size`` px (default 256),
as the app does it: the learned preview is fitted on (latent, image) pairs of crops of the
*training* photographs (the map's images), then both previews are compared with the full decode
on crops of the two *held-out* photographs, which neither the VAE nor the preview saw.

Prints one JSON object as its last line: PSNR (dB) of the linear and the learned preview against
the full decode (and against the original images), their gain, the time of one preview of one
latent on one CPU thread (the worker's setting) for each and for the full decode, the time to
fit each preview, and the learned preview's parameter count. Targets: learned ≥ linear + 4 dB,
≤ 10 ms per 256 px preview.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


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
                   help="fit the learned preview to the images (as the app does) or to their full decodes")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    a = p.parse_args()
    import torch

    from latent_explorer.core.data import photos
    from latent_explorer.core.models.learned_preview import PreviewFitter, psnr
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
    targets = train_images if a.targets == "images" else model.decode(z_train, batch_size=1)

    fitter = PreviewFitter(z_train, targets, model.factor, linear=model.linear_decode, steps=a.steps)
    fitter.run()
    learned = fitter.result()
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
    out["meets_targets"] = bool(out["gain_db"] >= 4.0 and out["learned_ms"] <= 10.0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
