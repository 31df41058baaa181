"""Training on a small folder of photographs with the defaults only: does it learn the images?

Builds a folder of 30 photographs of mixed subjects in a temporary folder from images that ship
with packages, offline: scikit-image's ``skimage/data`` (astronaut, chelsea, coffee, rocket,
motorcycle, Hubble deep field, retina, immunohistochemistry) and scikit-learn's sample images
(china, flower), three random square crops of each (45 to 80 % of the short side, 128 px, in
a shuffled order). Then trains exactly as the app's "Train a VAE" dialog does when only the
folder is chosen: the dialog's settings form makes the ``TrainOptions`` (about five minutes,
automatic batch size and augmentation, 64 px, 16 latent dimensions, β = 1), and the dialog's
``TrainThread.run`` trains (one torch thread) and writes metrics.json. The command line's
defaults are the same.

Measured on the model the folder holds (the kept epoch), on the held-out images (every 10th,
as training holds them out): the reconstruction MSE per pixel (values in [0, 1], decoded from the
posterior means) against the MSE of predicting the dataset's mean image (all 30 images).

Prints one JSON object as its last line: train_seconds, within_5_minutes, heldout_mse,
mean_image_mse, ratio (target ≤ 0.5), train_ratio, the plan and the epochs and steps done.
Needs scikit-image (``pip install scikit-image``); ``--minutes`` shortens the run for a look.
``--smoke``: 12 images, 5 steps (without scikit-image, crops of scikit-learn's two sample images
only); ``--save``: bench/results/ (bench/_results.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _results

KEYS = ("images", "image_size", "train_seconds", "within_5_minutes", "heldout_mse", "mean_image_mse", "ratio",
        "train_ratio", "epochs", "steps", "kept_epoch", "meets_target")
SKIMAGE = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
           "hubble_deep_field.jpg", "retina.jpg", "ihc.png")
SKLEARN = ("china.jpg", "flower.jpg")
TARGET_RATIO = 0.5
BUDGET_S = 300.0


def source_images(skimage_ok: bool = True) -> dict[str, np.ndarray]:
    """The source photographs; ``skimage_ok`` False: scikit-learn's two only (smoke runs without scikit-image)."""
    import importlib.util

    from PIL import Image

    sk_images = Path(importlib.util.find_spec("sklearn").origin).parent / "datasets" / "images"
    out = {}
    if skimage_ok:
        import skimage

        data = Path(skimage.__file__).parent / "data"
        out = {name.split(".")[0]: np.asarray(Image.open(data / name).convert("RGB")) for name in SKIMAGE}
    # (what sklearn.datasets.load_sample_image returns, without importing scikit-learn: seconds)
    out.update({name.split(".")[0]: np.asarray(Image.open(sk_images / name).convert("RGB")) for name in SKLEARN})
    return out


def build_folder(folder: Path, n: int = 30, seed: int = 0, skimage_ok: bool = True) -> list[str]:
    """``n`` distinct photographs: random square crops of the sources, saved as PNG in a shuffled order."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    src = source_images(skimage_ok)
    per = -(-n // len(src))
    crops = []
    for name in sorted(src):
        im = src[name]
        h, w = im.shape[:2]
        for k in range(per):
            side = int(min(h, w) * rng.uniform(0.45, 0.8))
            y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            crop = Image.fromarray(im[y:y + side, x:x + side]).resize((128, 128), Image.LANCZOS)
            crops.append((f"{name}-{k}", crop))
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, j in enumerate(rng.permutation(len(crops))[:n]):
        stem, img = crops[j]
        img.save(folder / f"{i:02d}-{stem}.png")
        names.append(stem)
    return names


def dialog_options(folder: Path, minutes: float | None, steps: int | None = None):
    """The TrainOptions the dialog makes when only the folder is chosen (``minutes``, ``steps``: a shorter look)."""
    from PySide6.QtWidgets import QApplication

    from latent_explorer.gui.dialogs.train_settings import TrainSettings

    app = QApplication.instance() or QApplication([])
    form = TrainSettings(folder=str(folder))
    if minutes is not None:
        form.set_length(minutes, "minutes")
    if steps is not None:
        form.set_length(steps, "steps")
    opts = form.options()
    form.deleteLater()
    app.processEvents()
    return opts


def train_like_the_dialog(opts) -> tuple[object, list[str], float]:
    """``TrainThread.run`` on this thread (what the dialog's thread runs): the result, warnings, seconds."""
    from latent_explorer.gui.dialogs.train_thread import TrainThread

    got: dict = {"warnings": []}
    t = TrainThread(opts)
    t.done.connect(lambda r: got.__setitem__("result", r))
    t.failed.connect(lambda m: got.__setitem__("failed", m))
    t.warning.connect(got["warnings"].append)
    t0 = time.perf_counter()
    t.run()
    seconds = time.perf_counter() - t0
    if "failed" in got:
        raise SystemExit(f"training failed: {got['failed']}")
    return got["result"], got["warnings"], seconds


def measure(out: Path, folder: Path) -> dict:
    """Held-out and training reconstruction MSE of the kept model against the dataset's mean image."""
    import latent_explorer as lx
    from latent_explorer.core.data.datasets import load_dataset

    model = lx.load_model(str(out), device="cpu")
    ds = load_dataset(str(folder), image_size=model.image_size[0], channels=3)
    x = ds.images.astype(np.float32) / 255
    held = np.arange(len(x)) % 10 == 9
    mean = x.mean(0, keepdims=True)
    mu, _ = model.encode(ds.images)
    rec = model.decode(mu).astype(np.float32) / 255

    def mse(a, b):
        return float(np.mean((a - b) ** 2))

    return {"heldout_mse": mse(rec[held], x[held]), "mean_image_mse": mse(mean, x[held]),
            "train_mse": mse(rec[~held], x[~held]), "train_mean_image_mse": mse(mean, x[~held]),
            "n_heldout": int(held.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=None, help="a shorter run (default: the dialog's default)")
    ap.add_argument("--keep", default=None, help="build the folder and the model here instead of a temp folder")
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("small_folder_training", a)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    images, steps, skimage_ok = 30, None, True
    if a.smoke:
        import importlib.util

        images, steps, skimage_ok = 12, 5, importlib.util.find_spec("skimage") is not None
        _results.offscreen()
    with tempfile.TemporaryDirectory(prefix="small-folder-") as tmp:
        root = Path(a.keep or tmp)
        os.environ["LATENT_EXPLORER_DATA"] = str(root / "data")  # the dialog's models folder
        folder = root / "photos"
        build_folder(folder, images, skimage_ok=skimage_ok)
        opts = dialog_options(folder, a.minutes, steps)
        result, warnings, seconds = train_like_the_dialog(opts)
        m = measure(Path(opts.out), folder)
        state = json.loads((Path(opts.out) / "training.json").read_text())
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    report = {
        "images": images, "image_size": 64, "model": Path(opts.out).name, "plan": state.get("plan"),
        "batch_size": state["options"]["batch_size"], "augment": state["options"]["augment"],
        "train_seconds": round(seconds, 1), "within_5_minutes": seconds <= BUDGET_S,
        "epochs": state.get("last_epoch"), "steps": state.get("steps"), "kept_epoch": state["epoch"],
        "heldout_mse": round(m["heldout_mse"], 5), "mean_image_mse": round(m["mean_image_mse"], 5),
        "ratio": round(m["heldout_mse"] / m["mean_image_mse"], 3), "target_ratio": TARGET_RATIO,
        "train_ratio": round(m["train_mse"] / m["train_mean_image_mse"], 3), "n_heldout": m["n_heldout"],
        "warnings": warnings, "cancelled": bool(result.cancelled),
    }
    report["meets_target"] = report["ratio"] <= TARGET_RATIO and report["within_5_minutes"]
    if not skimage_ok:
        report["sources"] = "scikit-learn's 2 sample images only (no scikit-image)"
    run.emit(report)


if __name__ == "__main__":
    main()
