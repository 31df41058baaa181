"""``latent-explorer analogy --model SPEC A B C``: "A is to B as C is to ?" as a PNG grid.

The three images are encoded to their posterior means (the robust loader ``explain`` and
``reconstruct`` use), then C + s·(B − A) is decoded for each ``--strengths`` value
(``core.latent.analogy``). The grid has two rows, as wide as the longer of them: A, B, C on the
first, the results at each strength, left to right, on the second (blank tiles fill the rest).
The PNG's recipe holds the model, its weights hash, the sources, their latents, the strengths
and the export settings: ``core.latent.analogy_from_recipe`` gives the same latents back.
"""
from __future__ import annotations

from . import common, paths


def analogy_grid(inputs, results):
    """uint8 2×cols×H×W×C tiles: the inputs on row 1, the results on row 2, white where empty."""
    import numpy as np

    inputs, results = np.asarray(inputs), np.asarray(results)
    cols = max(len(inputs), len(results))
    tiles = np.full((2, cols, *results.shape[1:]), 255, np.uint8)
    tiles[0, :len(inputs)] = inputs
    tiles[1, :len(results)] = results
    return tiles


def cmd_analogy(a) -> int:
    from ..core.export import make_grid, recipe_with, save_png
    from ..core.latent import analogy, analogy_recipe

    out = paths.output_file("--out", a.out, (".png",))
    files = common.input_images([a.image_a, a.image_b, a.image_c], least=3)
    settings = common.export_settings(a)
    m = common.load(a)
    batch, mean = common.encode_files(m, files)
    results = m.decode(analogy(mean[0], mean[1], mean[2], a.strengths))
    recipe = common.recipe(m, **analogy_recipe(mean[0], mean[1], mean[2], a.strengths, sources=files))
    save_png(out, make_grid(analogy_grid(batch, results), settings=settings), recipe_with(recipe, settings))
    shown = ", ".join(f"{s:g}" for s in a.strengths)
    print(f"wrote {out} (C + s·(B − A) at s = {shown})")
    return 0
