"""Bundled datasets: the mnist-5k split and the procedural shapes."""
import numpy as np

from latent_explorer.core.data import shapes
from latent_explorer.core.data.datasets import load_dataset, load_mnist_5k


def test_mnist_split_is_400_100_per_class():
    tr, te, al = load_mnist_5k("train"), load_mnist_5k("test"), load_mnist_5k("all")
    assert tr.images.shape == (4000, 28, 28, 1) and te.images.shape == (1000, 28, 28, 1)
    assert np.bincount(tr.labels).tolist() == [400] * 10
    assert np.bincount(te.labels).tolist() == [100] * 10
    # per class the first 400 train and the last 100 test
    for c in range(10):
        cls = al.images[al.labels == c]
        np.testing.assert_array_equal(cls[:400], tr.images[tr.labels == c])
        np.testing.assert_array_equal(cls[400:], te.images[te.labels == c])


def test_shapes_are_deterministic_and_factorised():
    a, fa = shapes.generate(64, seed=5)
    b, fb = shapes.generate(64, seed=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa, fb)
    assert a.shape == (64, 64, 64, 3) and a.dtype == np.uint8
    assert fa.shape == (64, 7)
    assert (fa.max(0) < np.array(shapes.FACTOR_SIZES)).all()
    c, _ = shapes.generate(64, seed=6)
    assert not np.array_equal(a, c)


def test_shapes_factors_drive_the_pixels():
    base = np.array([[0, 3, 0, 7, 7, 3, 2]])
    img = shapes.render(base)[0].astype(int)
    for k, size in enumerate(shapes.FACTOR_SIZES):
        f = base.copy()
        f[0, k] = (f[0, k] + 1) % size
        other = shapes.render(f)[0].astype(int)
        assert np.abs(other - img).sum() > 0, shapes.FACTOR_NAMES[k]


def test_shapes_scale_covers_5_to_30_percent():
    f = shapes.sample_factors(2000, seed=0)
    cov = shapes.coverage(f).mean(axis=(1, 2))
    small, large = cov[f[:, 1] == 0].mean(), cov[f[:, 1] == 5].mean()
    assert 0.04 < small < 0.06 and 0.26 < large < 0.31


def test_background_always_darker_than_object():
    lum = np.array([0.299, 0.587, 0.114])
    assert (shapes.BACKGROUND_COLOURS @ lum).max() < (shapes.OBJECT_COLOURS @ lum).min()


def test_shapes_edges_are_antialiased():
    img, _ = shapes.generate(1, seed=0)
    cov = shapes.coverage(shapes.sample_factors(1, seed=0))[0]
    assert ((cov > 0.05) & (cov < 0.95)).sum() > 10


def test_load_dataset_resizes_for_a_model():
    ds = load_dataset("mnist-5k", "test", image_size=32, channels=3, limit=10)
    assert ds.images.shape == (10, 32, 32, 3)
