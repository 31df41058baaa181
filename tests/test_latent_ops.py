"""Interpolation, blends and traversals."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from latent_explorer.core.latent import (barycentric, interpolate, lerp, path, slerp, traversal_latents,
                                         triangle_weights)

vec = arrays(np.float32, 8, elements=st.floats(-3, 3, width=32))


@settings(max_examples=60, deadline=None)
@given(vec, vec)
def test_endpoints_are_exact(a, b):
    for f in (lerp, slerp):
        out = f(a, b, np.array([0.0, 1.0]))
        np.testing.assert_allclose(out[0], a, atol=1e-5)
        np.testing.assert_allclose(out[1], b, atol=1e-5)


def test_slerp_keeps_unit_norm(rng):
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    out = slerp(a, b, np.linspace(0, 1, 11))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # lerp cuts the corner: its midpoint is shorter
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.99


def test_slerp_opposite_vectors_is_defined_and_unit(rng):
    a = rng.standard_normal(10)
    a /= np.linalg.norm(a)
    out = slerp(a, -a, np.linspace(0, 1, 9))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out[-1], -a, atol=1e-5)
    # the path is continuous: successive frames are close
    assert np.max(np.linalg.norm(np.diff(out, axis=0), axis=1)) < 0.45


def test_slerp_nearly_parallel_vectors_falls_back_smoothly(rng):
    a = rng.standard_normal(10).astype(np.float32)
    b = a * 1.0000001
    out = slerp(a, b, np.linspace(0, 1, 5))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, np.broadcast_to(a, out.shape), atol=1e-5)


def test_slerp_works_on_spatial_latents(rng):
    a, b = rng.standard_normal((4, 8, 8)), rng.standard_normal((4, 8, 8))
    out = interpolate(a, b, 5)
    assert out.shape == (5, 4, 8, 8)
    np.testing.assert_allclose(out[-1], b, atol=1e-5)


def test_path_through_keyframes(rng):
    keys = rng.standard_normal((3, 6)).astype(np.float32)
    out = path(keys, 9, "lerp")
    assert out.shape == (9, 6)
    np.testing.assert_allclose(out[0], keys[0], atol=1e-6)
    np.testing.assert_allclose(out[4], keys[1], atol=1e-6)
    np.testing.assert_allclose(out[8], keys[2], atol=1e-6)


def test_barycentric_blend_and_triangle_weights():
    keys = np.eye(3, dtype=np.float32)
    np.testing.assert_allclose(barycentric(keys, [0.2, 0.3, 0.5]), [0.2, 0.3, 0.5], atol=1e-6)
    np.testing.assert_allclose(barycentric(keys, [2, 2, 4]), [0.25, 0.25, 0.5], atol=1e-6)
    w = triangle_weights((0.25, 0.25), (0, 0), (1, 0), (0, 1))
    np.testing.assert_allclose(w, [0.5, 0.25, 0.25], atol=1e-9)
    with pytest.raises(ValueError):
        barycentric(keys, [1, -1, 0])


def test_traversal_rows_move_one_dimension(rng):
    base = rng.standard_normal(5).astype(np.float32)
    grid = traversal_latents(base, steps=7, value_range=2.0)
    assert grid.shape == (5, 7, 5)
    for d in range(5):
        np.testing.assert_allclose(grid[d, :, d], np.linspace(-2, 2, 7), atol=1e-6)
        others = np.delete(grid[d], d, axis=1)
        np.testing.assert_allclose(others, np.broadcast_to(np.delete(base, d), others.shape))
