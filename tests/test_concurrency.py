"""What a classroom's sessions share is safe to use from many threads at once.

Thirty to sixty browser sessions share one loaded model and one map (``app.classroom``: every
student's ``ExplorerModel`` holds the teacher's ``MapData`` and prior holes). For each object they
share, 30 threads released together by a barrier make their *first* call on a freshly built object,
each with its own inputs, and every result must equal the same call made alone on another fresh
object. A hang fails the test (the threads are joined with a deadline), it never hangs the suite.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

THREADS = 30
DEADLINE_S = 30.0


@contextlib.contextmanager
def switching(seconds: float | None):
    """The interpreter's thread switch interval set to ``seconds`` (None: as it is): a tiny one
    interleaves Python code between threads at almost every bytecode, so a check-then-act race shows."""
    before = sys.getswitchinterval()
    if seconds is not None:
        sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def together(fn, inputs, deadline: float = DEADLINE_S, switch_s: float | None = None) -> list:
    """``fn(*inputs[i])`` on one thread each, all released at once by a barrier: the results in order.
    Fails (never hangs) when a thread is still running after ``deadline`` seconds, and re-raises the
    first error a thread met."""
    n = len(inputs)
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def work(i):
        try:
            barrier.wait(deadline)
            results[i] = fn(*inputs[i])
        except BaseException as e:  # noqa: BLE001 - handed to the test below
            errors.append((i, e))

    threads = [threading.Thread(target=work, args=(i,), daemon=True, name=f"session-{i}") for i in range(n)]
    t0 = time.monotonic()
    with switching(switch_s):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, t0 + deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"{len(alive)} of {n} threads still running after {deadline:.0f} s (a hang): {alive[:3]}…"
    if errors:
        i, e = errors[0]
        raise AssertionError(f"thread {i} failed: {type(e).__name__}: {e}") from e
    return results


def assert_same(got, want, what: str = "", atol: float = 1e-6) -> None:
    """Equal results: arrays within ``atol``, tuples/lists/dicts element by element, the rest ==."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), what
        for k in want:
            assert_same(got[k], want[k], f"{what}[{k!r}]", atol)
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), what
        for k, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{what}[{k}]", atol)
    elif isinstance(want, np.ndarray):
        got = np.asarray(got)
        assert got.shape == want.shape and got.dtype == want.dtype, f"{what}: {got.shape} {got.dtype}"
        if want.dtype.kind in "fc":
            np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=what)
        else:
            np.testing.assert_array_equal(got, want, err_msg=what)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=0, abs=atol), what
    elif hasattr(want, "__dataclass_fields__"):
        assert type(got) is type(want), what
        for k in want.__dataclass_fields__:
            assert_same(getattr(got, k), getattr(want, k), f"{what}.{k}", atol)
    else:
        assert got == want, what


def check(make, call, inputs, atol: float = 1e-6, switch_s: float | None = None) -> list:
    """``call(obj, *args)`` for every args in ``inputs``: on one fresh ``make()`` from 30 threads at
    once, and alone, one after another, on another fresh ``make()``; the two must agree."""
    shared = make()
    got = together(lambda *a: call(shared, *a), inputs, switch_s=switch_s)
    alone = make()
    want = [call(alone, *a) for a in inputs]
    for i, (g, w) in enumerate(zip(got, want)):
        assert_same(g, w, f"input {i}", atol)
    return got


def _points(n=THREADS, seed=1, spread=3.0):
    """Map points, some well outside the data's hull."""
    return [(p,) for p in np.random.default_rng(seed).normal(0.0, spread, (n, 2))]


# ---- the map: its click blend, projection, prior holes and labels ---------------------------------
def _cloud(n=1000, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.normal(size=(n, d)).astype(np.float32)


def test_map_interpolator_first_clicks():
    """scipy's Delaunay point location builds its table (barycentric transforms) on first use, and 30
    first clicks at once hung inside ``find_simplex``; the interpolator builds it when it is made."""
    from latent_explorer.core.latent.project import MapInterpolator

    xy, lat = _cloud()  # (1,000 points: unfixed, 30 first clicks hung here every time; 200 sometimes)
    check(lambda: MapInterpolator(xy, lat), lambda m, p: (m.latent_at(p), m.weights_at(p)), _points())


def test_map_interpolators_made_at_once():
    """Interpolators built by many threads at once (a reprojection while others are made), each then
    clicked: building the point-location table concurrently, even on separate objects, must not hang."""
    from latent_explorer.core.latent.project import MapInterpolator

    def one(seed):
        xy, lat = _cloud(100, 4, seed)
        return MapInterpolator(xy, lat).latent_at((0.1 * seed, -0.2))

    got = together(one, [(s,) for s in range(THREADS)])
    for s in range(THREADS):
        assert_same(got[s], one(s), f"seed {s}")


def test_blend_weights_of_pins():
    """A blend of k ≥ 4 pins triangulates them on every call: 30 sessions blending at once."""
    from latent_explorer.core.latent.project import blend_weights

    rng = np.random.default_rng(3)
    inputs = [(rng.normal(size=(3 + i % 5, 2)), rng.normal(0, 2, 2)) for i in range(THREADS)]
    check(lambda: None, lambda _, pins, p: blend_weights(pins, p), inputs)


def _map_data(d=8, n=300, seed=0, method="pca", labels=True, paths=None):
    from latent_explorer.app.jobs.map_data import MapData, interpolator
    from latent_explorer.core.latent.project import fit_projection, point_density

    rng = np.random.default_rng(seed)
    mean = (rng.normal(size=(n, d)) * 0.4).astype(np.float32)  # narrower than the prior: holes at its edge
    logvar = rng.normal(-4.0, 0.3, (n, d)).astype(np.float32)
    proj = fit_projection(mean, method)
    interp = None if method == "identity" else interpolator(proj.xy, mean)
    return MapData("test", np.zeros((n, 4, 4, 1), np.uint8), rng.integers(0, 4, n) if labels else None, mean, logvar,
                   np.zeros(n, np.float32), proj, interp, point_density(proj.xy), None,
                   paths=paths, value_names={"label": ["zero", "one", "two", "three"]})


def _explorer(d=8, method="pca", **kw):
    """A session's application model over a fresh map, with the prior's holes as the Theory view makes them."""
    from latent_explorer.app.model import ExplorerModel
    from latent_explorer.core.latent import posterior_map as pm

    data = _map_data(d, method=method, **kw)
    m = ExplorerModel()
    m.map = data
    prior = pm.prior_on_map(data.projection)
    rect = pm.map_rect(data.xy, prior)
    spread = pm.posterior_spread(data.projection, data.logvar)
    m.prior_holes = (rect, pm.holes(data.xy, prior, rect, 64, spread=spread))
    return m


def _clicks(m, n=THREADS):
    """Map points for ``n`` sessions: every other one in a hole of ``m``'s map, the rest anywhere."""
    (x0, y0, w, h), holes = m.prior_holes
    ii, jj = np.nonzero(holes)
    assert len(ii), "the test map has no holes"
    pick = np.linspace(0, len(ii) - 1, n).astype(int)
    cells = [(x0 + (jj[k] + 0.5) * w / holes.shape[1], y0 + (ii[k] + 0.5) * h / holes.shape[0]) for k in pick]
    anywhere = [p for (p,) in _points(n)]
    return [(cells[i] if i % 2 else anywhere[i], i * 7) for i in range(n)]


def _session_calls(m, p, i):
    hole = m.hole_at(*p)
    return m.latent_at(*p), hole, m.label(i), m.map.label_text(i), m.theory_unavailable


def test_explorer_model_map_lookups():
    """What a session asks of the shared map: the latent at a click (the blend), a hole's latent and
    an image's label."""
    for make in (lambda: _explorer(), lambda: _explorer(2, "identity"),
                 lambda: _explorer(labels=False, paths=[f"/x/{i}.png" for i in range(300)])):
        got = check(make, _session_calls, _clicks(make()), switch_s=1e-5)
        assert any(g[1] is not None for g in got) and any(g[1] is None for g in got)  # both kinds of click


def test_projection_locate_and_posterior_on_the_map():
    """Placing latents on the map (PCA, and t-SNE's neighbours), and a posterior's ellipse on it."""
    from latent_explorer.core.latent import posterior_map as pm
    from latent_explorer.core.latent.project import Projection, fit_projection

    rng = np.random.default_rng(4)
    mean = rng.normal(size=(200, 6)).astype(np.float32)
    inputs = [(rng.normal(size=(1 + i % 3, 6)).astype(np.float32), np.exp(rng.normal(-1, 0.3, 6)))
              for i in range(THREADS)]

    def calls(proj, z, var):
        g = pm.projected_gaussian(proj, z[0], var)
        return proj.locate(z), proj.locate(z[0]), g, None if g is None else pm.ellipse(*g, 2.0, 24)

    check(lambda: fit_projection(mean, "pca"), calls, inputs)
    xy = rng.normal(size=(200, 2)).astype(np.float32)
    check(lambda: Projection("tsne", xy.copy(), mean.copy()), calls, inputs)


# ---- latents: morphs, traversals, blends ----------------------------------------------------------
def test_latent_paths_and_traversals():
    import importlib

    ip = importlib.import_module("latent_explorer.core.latent.interpolate")
    from latent_explorer.core.latent.traverse import traversal_latents

    rng = np.random.default_rng(5)
    inputs = [(rng.normal(size=(3, 8)).astype(np.float32), rng.dirichlet(np.ones(3))) for _ in range(THREADS)]

    def calls(_, keys, w):
        return (ip.slerp(keys[0], keys[1], 0.3), ip.interpolate(keys[0], keys[1], 5, "lerp"),
                ip.path_latents(keys, 7, "slerp", "ease-in-out"), ip.path(keys, 6), ip.barycentric(keys, w),
                ip.triangle_weights(w[:2], (0, 0), (1, 0), (0, 1)),
                traversal_latents(keys[0], 5, 2.0, dims=[0, 3]), traversal_latents(keys[1], 3, absolute=False))

    check(lambda: None, calls, inputs)


# ---- the Theory view: posterior, KL, ELBO split, z = μ + σ·ε ---------------------------------------
def _digits():
    from latent_explorer.core.models.loading import load_model

    return load_model("digits", device="cpu")


@pytest.fixture(scope="module")
def digit_images():
    from latent_explorer.core.data.datasets import load_dataset

    return load_dataset("mnist-5k", "test").images[:THREADS]


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: 30 callers on a busy 2-core box are far faster (the ConvVAE's own test
    keeps torch's default threads)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_explain_numbers_and_posterior_samples(digit_images, one_torch_thread):
    """The Theory view's numbers (``explain``: μ, σ, KL per dimension, the ELBO split at a sampled z)
    and its posterior draws z = μ + σ·ε, each from its own seeded generator (no global RNG)."""
    from latent_explorer.app.jobs import theory
    from latent_explorer.core import explain

    def calls(model, image, i):
        ctx = SimpleNamespace(model=model)
        nums = theory.image_numbers(ctx, image)  # explain.explain: posterior, KL, recon at z = μ + σ·ε
        lat = theory.latent_numbers(ctx, image, nums.mean * 0.5)
        draws = theory.posterior_draws(ctx, nums.mean, nums.logvar, 2, seed=i)
        eps, z = explain.sample_posterior(nums.mean, nums.logvar, 4, seed=i)
        return nums, lat, draws, eps, z, explain.kl_per_dim(nums.mean, nums.logvar), explain.log_prior(z)

    check(_digits, calls, [(im, i) for i, im in enumerate(digit_images)])


# ---- the model: encode and decode ----------------------------------------------------------------
def _z(i, d=16):
    return np.random.default_rng(100 + i).normal(size=(1 + i % 3, d)).astype(np.float32)


def test_convvae_encode_decode(digit_images):
    inputs = [(digit_images[i:i + 1 + i % 2], _z(i)) for i in range(THREADS)]
    check(_digits, lambda m, im, z: (m.encode(im), m.decode(z), m.sample_prior(2, seed=len(z))), inputs)


def test_convvae_traced_decoder_first_decodes():
    """The traced decoder (``warm_up``) asked for by many sessions at once, and its first decodes."""
    def warmed():
        m = _digits()
        m.warm_up()
        return m

    def warm_and_decode(m, z):
        m.warm_up()
        return m.decode(z)

    inputs = [(_z(i),) for i in range(THREADS)]
    check(warmed, lambda m, z: m.decode(z), inputs)
    check(_digits, warm_and_decode, inputs)
    m = _digits()
    together(lambda: m.warm_up(), [()] * THREADS)
    assert m._graph is not None


# ---- a Stable Diffusion-style VAE: decodes and the approximate preview built on first use ---------
def _tiny_kl_model(precision="fp32"):
    import torch

    diffusers = pytest.importorskip("diffusers")
    from latent_explorer.core.models.diffusers_model import DiffusersVAEModel

    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(block_out_channels=[32, 32], down_block_types=["DownEncoderBlock2D"] * 2,
                                  up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=8,
                                  layers_per_block=1, sample_size=16).eval()
    return DiffusersVAEModel(vae, spec="tiny", device="cpu", precision=precision, size=16)


def test_diffusers_vae_decodes_and_first_previews(one_torch_thread):
    """Sessions decoding while the linear preview is fitted on first use (``linear_decode``): the fit
    must not change the working size under the others' feet, and is made once."""
    zs = [(np.random.default_rng(i).normal(size=(1, 4, 8, 8)).astype(np.float32),) for i in range(THREADS)]
    imgs = [np.random.default_rng(i).integers(0, 256, (1, 16, 16, 3), np.uint8) for i in range(THREADS)]

    def calls(m, z, i):  # some threads ask for the preview first, the others decode or encode in full
        if i % 3 == 0:
            return m.approx_decode(z), m.image_size, m.latent_shape
        if i % 3 == 1:
            return m.decode(z), m.image_size, m.latent_shape
        return m.encode(imgs[i]), m.image_size, m.latent_shape

    fits = []

    def made():
        m = _tiny_kl_model()
        real = m.fit_preview
        m.fit_preview = lambda *a, **k: (fits.append(1), real(*a, **k))[1]
        return m

    check(made, calls, [(z, i) for i, (z,) in enumerate(zs)])
    assert len(fits) == 2  # once per model


def test_diffusers_vae_reduced_precision_copy_made_once(one_torch_thread):
    """The bf16 decoder copy is made on the first reduced-precision decode: once, whoever asks first."""
    zs = [(np.random.default_rng(i).normal(size=(1, 4, 8, 8)).astype(np.float32),) for i in range(THREADS)]
    shared = _tiny_kl_model("bf16")
    copies = []
    real = shared._lowp_vae

    got = together(lambda z: (copies.append(real()), shared.decode(z))[1], zs)
    alone = _tiny_kl_model("bf16")
    for (z,), g in zip(zs, got):
        assert_same(g, alone.decode(z), atol=0)
    assert len({id(c) for c in copies}) == 1


# ---- the images -------------------------------------------------------------------------------
def test_bundled_images_cached_on_first_use():
    """The shapes renderer and the bundled photographs are cached (``lru_cache``) on first use."""
    from latent_explorer.core.data import photos, shapes

    def calls(_, i):
        return shapes.generate(2, seed=i), photos.load_photo(photos.photo_names("all")[i % 11])

    for cached in (shapes._coverage, photos.load_photo):
        cached.cache_clear()
    got = together(lambda i: calls(None, i), [(i,) for i in range(THREADS)])
    for i, g in enumerate(got):
        assert_same(g, calls(None, i), f"input {i}")


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    pytest.importorskip("pyarrow")
    from PIL import Image

    from latent_explorer.core.data.collection import encode_collection
    from latent_explorer.core.data.datasets import load_dataset

    root = tmp_path_factory.mktemp("coll")
    src = root / "images"
    src.mkdir()
    ds = load_dataset("mnist-5k", "all")
    for i in range(2 * THREADS):
        Image.fromarray(ds.images[i * 13][..., 0]).save(src / f"d{i:03d}.png")
    encode_collection(_digits(), src, root / "out", shard_size=2)  # one row group a shard: many groups
    return root / "out"


def test_collection_thumbnails_read_lazily(collection):
    """A collection's thumbnails: row groups read on first use and a few kept (an LRU), from 30
    threads that each read other groups, so the cache fills and evicts while they read."""
    from latent_explorer.core.data.collection import Collection, CollectionImages

    n = len(Collection(collection))
    rng = np.random.default_rng(6)
    inputs = [(rng.integers(0, n, 6),) for _ in range(THREADS)]

    def calls(images, idx):
        return images[idx], images[int(idx[0])], [images[int(j)] for j in idx[::-1]]

    # keep=4 with a tiny switch interval: the old unguarded LRU raised KeyError here in 3 runs of 5
    check(lambda: CollectionImages(Collection(collection), keep=4), calls, inputs, switch_s=1e-6)
