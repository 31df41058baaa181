"""Traversal grids say which row is which: a label column (z index and KL) beside the rows."""
import numpy as np

from latent_explorer.core.export import label_rows, make_grid


def test_each_row_gets_its_label_in_its_own_band():
    tiles = np.zeros((3, 4, 28, 28, 1), np.uint8)
    grid = make_grid(tiles, pad=2)
    out = label_rows(grid, ["z4 · KL 2.47", "z1 · KL 2.21", "z15 · KL 1.81"], rows=3, pad=2)
    assert out.shape[0] == grid.shape[0] and out.shape[1] > grid.shape[1] and out.shape[2] == 1
    np.testing.assert_array_equal(out[:, -grid.shape[1]:], grid)  # the grid itself is untouched
    side = out[:, : out.shape[1] - grid.shape[1], 0]
    band = (grid.shape[0] - 2) / 3
    for r in range(3):
        rows = side[int(2 + r * band): int(2 + (r + 1) * band)]
        assert (rows < 128).any(), f"row {r} has no ink"
    # the gutters between bands stay clean
    assert (side[: 2] == 255).all()


def test_the_cli_traversal_grid_is_labelled(tmp_path):
    from latent_explorer.cli import main

    out = tmp_path / "t.png"
    assert main(["traverse", "--model", "digits-2d", "--steps", "5", "--out", str(out)]) == 0
    from PIL import Image

    img = np.asarray(Image.open(out))
    assert img.shape[1] > 5 * 30 + 2  # wider than 5 tiles: the label column is there
