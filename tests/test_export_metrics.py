"""Exports carry their recipe; metrics match their definitions."""
import json

import numpy as np
import pytest

from latent_explorer.core.export import make_grid, read_png_recipe, save_animation, save_png
from latent_explorer.core.metrics import histogram_discretize, mig, mutual_info
from latent_explorer.core.paths import atomic_write


def test_png_carries_its_recipe(tmp_path):
    img = make_grid(np.zeros((4, 8, 8, 3), np.uint8), cols=2)
    assert img.shape == (2 * 10 + 2, 2 * 10 + 2, 3)
    save_png(tmp_path / "g.png", img, {"model": "digits", "latent": np.arange(3, dtype=np.float32)})
    assert read_png_recipe(tmp_path / "g.png") == {"model": "digits", "latent": [0.0, 1.0, 2.0]}


@pytest.mark.parametrize("suffix", [".gif", ".mp4", ".png"])
def test_animation_exports(tmp_path, suffix):
    frames = (np.random.default_rng(0).random((6, 28, 28, 1)) * 255).astype(np.uint8)
    out = save_animation(tmp_path / f"m{suffix}", frames, recipe={"method": "slerp"})
    assert out.stat().st_size > 100
    if suffix == ".png":
        assert read_png_recipe(out)["method"] == "slerp"
    else:
        assert json.loads((tmp_path / f"m{suffix}.json").read_text())["method"] == "slerp"
    if suffix == ".gif":
        import imageio.v3 as iio

        assert iio.imread(out).shape[0] == 6


def test_atomic_write_keeps_the_original_on_failure(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("original")
    with pytest.raises(RuntimeError):
        with atomic_write(p) as f:
            f.write(b"half")
            raise RuntimeError("disk full")
    assert p.read_text() == "original"
    assert [q.name for q in tmp_path.iterdir()] == ["f.txt"]


def test_mutual_info_matches_sklearn(rng):
    from sklearn.metrics import mutual_info_score

    a, b = rng.integers(0, 5, 1000), rng.integers(0, 3, 1000)
    b = np.where(rng.random(1000) < 0.5, a % 3, b)
    assert mutual_info(a, b) == pytest.approx(mutual_info_score(a, b), abs=1e-12)


def test_histogram_discretize_like_disentanglement_lib(rng):
    # 0..9 in 5 equal bins of width 1.8: two values per bin, numbered from 1; the maximum lands in
    # the last bin (np.digitize against the left edges), not in a sixth one
    x = np.stack([np.arange(10.0), np.arange(10.0)[::-1] * 3 - 7], 1)
    d = histogram_discretize(x, 5)
    assert d[:, 0].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert d[:, 1].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]  # per column, scale and shift free
    d = histogram_discretize(rng.standard_normal((500, 2)), 20)
    assert d.min(0).tolist() == [1, 1] and d.max(0).tolist() == [20, 20]  # the extremes: first and last bin


def test_mig_perfect_code_is_one_and_noise_is_near_zero(rng):
    factors = np.stack([rng.integers(0, 4, 10_000), rng.integers(0, 10, 10_000)], 1)
    perfect = np.concatenate([factors.astype(float) + rng.normal(0, 0.01, factors.shape),
                              rng.standard_normal((10_000, 2))], 1)
    assert mig(perfect, factors)["mig"] > 0.9
    mixed = np.stack([factors[:, 0] + factors[:, 1], factors[:, 0] + factors[:, 1]], 1).astype(float)
    assert mig(mixed, factors)["mig"] < 0.05
    assert mig(rng.standard_normal((10_000, 3)), factors)["mig"] < 0.02


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    import os
    import stat

    with atomic_write(tmp_path / "f.bin") as f:
        f.write(b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o666 & ~mask
