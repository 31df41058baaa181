"""Latent analogies: ``core.latent.analogy`` (C + s·(B − A)) and ``latent-explorer analogy``.

The CLI's grid is checked tile by tile against the digits model's own decodes of the posterior
means of three test digits, and its recipe is replayed to the same pixels.
"""
import numpy as np
import pytest
from PIL import Image

from latent_explorer.cli import main
from latent_explorer.core.export import read_png_recipe
from latent_explorer.core.latent import analogy, analogy_from_recipe, analogy_recipe

TILE, PAD = 28, 2


def test_analogy_of_known_vectors():
    a, b, c = np.array([1.0, 0, 0]), np.array([1.0, 2, 0]), np.array([0.0, 0, 5])
    z = analogy(a, b, c, [0, 1, 1.5, -1])
    assert z.dtype == np.float32 and z.shape == (4, 3)
    np.testing.assert_array_equal(z[0], c)
    np.testing.assert_array_equal(z[1], c + b - a)
    np.testing.assert_array_equal(z[2], [0, 3, 5])
    np.testing.assert_array_equal(z[3], [0, -2, 5])
    np.testing.assert_array_equal(analogy(a, b, c), (c + b - a)[None])  # default strength 1
    np.testing.assert_array_equal(analogy(a, b, c, 0.5), [[0, 1, 5]])


def test_analogy_keeps_a_spatial_latent_shape():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 4, 8, 8)).astype(np.float32)
    z = analogy(a, b, c, (0.0, 1.0, 2.0))
    assert z.shape == (3, 4, 8, 8)
    np.testing.assert_array_equal(z[0], c)
    np.testing.assert_allclose(z[1], c + b - a, atol=1e-6)
    np.testing.assert_allclose(z[2], c + 2 * (b - a), atol=1e-6)


@pytest.mark.parametrize("strengths", [[], [float("nan")], [1.0, float("inf")]])
def test_analogy_refuses_no_or_non_finite_strengths(strengths):
    with pytest.raises(ValueError):
        analogy(np.zeros(2), np.ones(2), np.zeros(2), strengths)


def test_analogy_refuses_latents_of_different_shapes():
    with pytest.raises(ValueError, match="shape"):
        analogy(np.zeros(2), np.zeros(3), np.zeros(2))


def test_recipe_round_trip():
    a, b, c = np.eye(3, dtype=np.float32)
    r = analogy_recipe(a, b, c, [0, 2], sources=["a.png", "b.png", "c.png"])
    assert r["kind"] == "analogy" and r["strengths"] == [0.0, 2.0] and r["sources"] == ["a.png", "b.png", "c.png"]
    np.testing.assert_array_equal(analogy_from_recipe(r), analogy(a, b, c, [0, 2]))
    with pytest.raises(ValueError):
        analogy_from_recipe({"kind": "morph"})


@pytest.fixture(scope="module")
def digits():
    from latent_explorer.core.models.loading import load_model

    return load_model("digits", device="cpu")


@pytest.fixture(scope="module")
def three_digits(tmp_path_factory):
    """Test digits 1, 7 and 3 saved as PNGs: A, B, C."""
    from latent_explorer.core.data.datasets import load_dataset

    split = load_dataset("mnist-5k", "test")
    folder = tmp_path_factory.mktemp("analogy")
    files = []
    for name, digit in zip("abc", (1, 7, 3)):
        files.append(folder / f"{name}.png")
        Image.fromarray(split.images[split.labels == digit][0, ..., 0]).save(files[-1])
    return files


def _means(model, files):
    from latent_explorer.core.data.images import fit_to_size, load_image

    batch = np.stack([fit_to_size(load_image(p)[None], model.image_size, model.channels)[0] for p in files])
    return batch, model.encode(batch)[0]


def _tile(grid, row, col):
    y, x = PAD + row * (TILE + PAD), PAD + col * (TILE + PAD)
    return grid[y:y + TILE, x:x + TILE]


def test_cli_grid_holds_the_sources_and_decodes_of_c_plus_b_minus_a(digits, three_digits, tmp_path, capsys):
    out = tmp_path / "analogy.png"
    strengths = [0.0, 0.5, 1.0, 1.5, -1.0]
    code = main(["analogy", "--model", "digits", "--device", "cpu", *map(str, three_digits),
                 "--strengths", "0,0.5,1,1.5,-1", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().out
    grid = np.asarray(Image.open(out))
    cols = len(strengths)
    assert grid.shape == (2 * (TILE + PAD) + PAD, cols * (TILE + PAD) + PAD)
    batch, mean = _means(digits, three_digits)
    for i in range(3):  # row 1: A, B, C as encoded, then blank
        np.testing.assert_array_equal(_tile(grid, 0, i), batch[i, ..., 0])
    assert all((_tile(grid, 0, i) == 255).all() for i in range(3, cols))
    want = digits.decode((mean[2] + mean[1] - mean[0])[None])[0, ..., 0]
    np.testing.assert_array_equal(_tile(grid, 1, strengths.index(1.0)), want)
    np.testing.assert_array_equal(_tile(grid, 1, 0), digits.decode(mean[2:3])[0, ..., 0])  # s = 0 is C

    recipe = read_png_recipe(out)
    assert recipe["kind"] == "analogy" and recipe["model"] == "digits" and recipe["model_hash"]
    assert recipe["strengths"] == strengths and recipe["sources"] == [str(p) for p in three_digits]
    assert recipe["export"] == {"filter": "nearest", "scale": None, "size": None}
    np.testing.assert_allclose(recipe["latents"], mean, atol=1e-6)
    replay = digits.decode(analogy_from_recipe(recipe))
    for j in range(cols):
        np.testing.assert_array_equal(_tile(grid, 1, j), replay[j, ..., 0])


def test_cli_one_strength_and_export_settings(three_digits, tmp_path, capsys):
    out = tmp_path / "one.png"
    code = main(["analogy", "--model", "digits", "--device", "cpu", *map(str, three_digits),
                 "--strengths", "1", "--scale", "2", "--filter", "lanczos", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * (2 * TILE + PAD) + PAD, 3 * (2 * TILE + PAD) + PAD)  # three columns at least
    recipe = read_png_recipe(out)
    assert recipe["strengths"] == [1.0] and recipe["export"] == {"filter": "lanczos", "scale": 2, "size": None}


@pytest.mark.parametrize("argv,needle", [
    (["{a}", "{b}", "/no/such.png", "--out", "{tmp}/x.png"], "/no/such.png: no such file"),
    (["{a}", "{b}", "{c}", "--out", "{tmp}"], "--out"),
    (["{a}", "{b}", "{c}", "--out", "{tmp}/x.gif"], "expected a .png file"),
    (["{a}", "{b}", "{c}", "--strengths", "0,,1", "--out", "{tmp}/x.png"], "has an empty entry"),
    (["{a}", "{b}", "{c}", "--strengths", "4.5", "--out", "{tmp}/x.png"], "from -4 to 4"),
    (["{a}", "{b}", "{c}", "--strengths", ",".join(["1"] * 10), "--out", "{tmp}/x.png"], "expected 1 to 9"),
    (["{a}", "{b}", "--out", "{tmp}/x.png"], "required: C"),
])
def test_cli_bad_values_exit_2_with_one_line(argv, needle, three_digits, tmp_path, capsys):
    fill = {"{a}": str(three_digits[0]), "{b}": str(three_digits[1]), "{c}": str(three_digits[2]),
            "{tmp}": str(tmp_path)}
    for k, v in fill.items():
        argv = [x.replace(k, v) for x in argv]
    try:
        code = main(["analogy", "--model", "digits", "--device", "cpu", *argv])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.glob("x.*"))
