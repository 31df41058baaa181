"""Bundled datasets by name, and folders of images, as one ``Dataset``.

* ``mnist-5k``: 5,000 MNIST digits (28×28 grey, 500 per class) stored in resources/data.
  Fixed split: per class, the first 400 train and the last 100 test (4,000 / 1,000).
* ``shapes``: procedural 64×64 shapes with known factors (see ``shapes.py``); the train
  split is 60,000 images from seed 0, the test split 10,000 from seed 1.
* ``photo-crops``: square crops of the bundled colour photographs (``photos.py``), 256 px unless a
  size is asked for, labelled by photograph; 240 crops drawn from seed 0 (the test split: only the
  held-out photographs).
* a folder: every readable image under it, resized and centre-cropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..paths import resources_dir
from . import shapes as shapes_mod

BUNDLED = {
    "mnist-5k": "5,000 MNIST digits, 28×28 grey, labels 0–9 (split 4,000 / 1,000)",
    "shapes": "procedural 64×64 shapes with 7 known factors (train 60,000 / test 10,000)",
    "photo-crops": "crops of 11 colour photographs from scikit-image and scikit-learn (2 held out for testing)",
}
PHOTOS_N = 240
SHAPES_TRAIN_N = 60_000
SHAPES_TEST_N = 10_000


@dataclass
class Dataset:
    name: str
    images: np.ndarray                 # uint8 N×H×W×C
    labels: np.ndarray | None = None   # int N (class) or None
    factors: np.ndarray | None = None  # int N×K ground-truth factors, when known
    factor_names: tuple[str, ...] = ()
    #: names of a factor's values where numbers would say less (shapes: "square", "ellipse", …)
    value_names: dict = field(default_factory=dict)
    paths: list[Path] | None = None
    skipped: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return self.images.shape[1]

    @property
    def channels(self) -> int:
        return self.images.shape[3]


def mnist_path() -> Path:
    return resources_dir() / "data" / "mnist-5k.npz"


def load_mnist_5k(split: str = "all") -> Dataset:
    p = mnist_path()
    if not p.exists():
        raise UserError(f"bundled dataset file missing: {p} (reinstall latent-explorer)")
    with np.load(p) as z:
        images, labels = z["images"], z["labels"].astype(np.int64)
    # rows are sorted by class, 500 each: per class the first 400 train, the last 100 test
    idx = np.arange(len(labels))
    rank = idx - np.searchsorted(labels, labels, side="left") if np.all(np.diff(labels) >= 0) else \
        np.array([np.sum(labels[:i] == labels[i]) for i in idx])
    if split == "train":
        keep = rank < 400
    elif split == "test":
        keep = rank >= 400
    elif split == "all":
        keep = np.ones(len(labels), bool)
    else:
        raise UserError(f"unknown split {split!r}: use train, test or all")
    return Dataset(f"mnist-5k[{split}]", images[keep][..., None], labels[keep])


def load_shapes(split: str = "train", n: int | None = None) -> Dataset:
    if split == "train":
        images, factors = shapes_mod.generate(n or SHAPES_TRAIN_N, seed=0)
    elif split in ("test", "all"):
        images, factors = shapes_mod.generate(n or SHAPES_TEST_N, seed=1)
    else:
        raise UserError(f"unknown split {split!r}: use train, test or all")
    return Dataset(f"shapes[{split}]", images, factors[:, 0], factors, shapes_mod.FACTOR_NAMES,
                   value_names={"shape": list(shapes_mod.SHAPE_NAMES)})


def load_photos(split: str = "all", n: int = PHOTOS_N, size: int = 256, seed: int = 0) -> Dataset:
    from . import photos

    if split not in photos.SPLITS:
        raise UserError(f"unknown split {split!r}: use train, test or all")
    sources: list = []
    images = photos.crops(split, n, size, seed=seed, augment=False, sources=sources)
    return Dataset(f"photo-crops[{split}]", images, np.asarray(sources, np.int64),
                   value_names={"label": [p.replace("_", " ") for p in photos.photo_names(split)]})


def load_dataset(name_or_dir: str, split: str = "all", image_size: int | None = None,
                 channels: int | None = None, limit: int | None = None, progress=None,
                 should_stop=None) -> Dataset:
    """A bundled dataset by name, or a folder of images (folders have no split)."""
    if name_or_dir == "mnist-5k":
        ds = load_mnist_5k(split)
    elif name_or_dir == "photo-crops":
        ds = load_photos(split, n=limit or PHOTOS_N, size=image_size or 256)
    elif name_or_dir == "shapes":
        ds = load_shapes(split, n=limit)
    else:
        folder = Path(name_or_dir).expanduser()
        if not folder.is_dir():
            raise UserError(
                f"unknown dataset {name_or_dir!r}: use a folder of images or one of {', '.join(BUNDLED)}")
        from .images import load_folder

        size = image_size or 64
        res = load_folder(folder, (size, size), channels or 3, progress=progress,
                          should_stop=should_stop, limit=limit)
        if len(res.images) == 0:
            raise UserError(f"{folder}: no readable images found" +
                            (f" ({len(res.skipped)} skipped)" if res.skipped else ""))
        return Dataset(folder.name, res.images, None, paths=res.paths, skipped=res.skipped)
    if limit:
        ds.images = ds.images[:limit]
        ds.labels = None if ds.labels is None else ds.labels[:limit]
        ds.factors = None if ds.factors is None else ds.factors[:limit]
    if image_size and ds.image_size != image_size or channels and ds.channels != channels:
        from .images import fit_to_size

        ds.images = fit_to_size(ds.images, (image_size or ds.image_size,) * 2, channels or ds.channels)
    return ds
