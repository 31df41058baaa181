"""Shared test set-up: headless Qt, no network, small thread counts on the 2-core CI box."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A ConvVAE trained for one epoch on 256 digits: a real project-format model folder."""
    from latent_explorer.core.train import TrainOptions, train

    out = tmp_path_factory.mktemp("models") / "tiny"
    train(TrainOptions(data="mnist-5k", out=str(out), latent_dim=4, epochs=1, limit=256, batch_size=64,
                       device="cpu"))
    return out


@pytest.fixture(scope="session")
def class_server():
    """One classroom server (``latent-explorer serve`` on digits, any free port) for the HTTP and the
    browser tests: starting one costs seconds (the model, its map, Gradio's import)."""
    pytest.importorskip("gradio", reason="the classroom extra is not installed")
    from latent_explorer.web.server import ClassServer, ServeOptions

    srv = ClassServer(ServeOptions(model="digits", port=0, announce=False)).start_in_thread()
    yield srv
    srv.stop()
