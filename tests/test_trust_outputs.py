"""Half outputs, memory bombs, provenance and refusing early (issue 22).

- An animation and its recipe ``FILE.json`` appear together or not at all; a recipe that cannot be written
  is exit 2 in one line, before any work, and nothing is left under the final name.
- A job whose every value is in range but whose whole would not fit (2,000 frames of 4096 px) is refused
  from an estimate before anything is allocated; an extreme image (1×50000) is cropped before resizing.
- A direction made on other weights is walked with a warning naming both hashes.
- ``--address`` at something that is not Ray is refused in seconds; ``--screenshot`` onto a file that cannot be
  written is exit 2 before the model loads; ``--window-size`` below the window's minimum says so.
"""
from __future__ import annotations

import os
import socket
import threading

import numpy as np
import pytest
from PIL import Image

from latent_explorer.cli import main
from latent_explorer.core.errors import UserError


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from latent_explorer.core.data.datasets import load_mnist_5k

    d = tmp_path_factory.mktemp("imgs")
    te = load_mnist_5k("test")
    files = []
    for i in (0, 1):
        p = d / f"a{i}.png"
        Image.fromarray(te.images[i, ..., 0]).save(p)
        files.append(str(p))
    return files


# ---- half outputs -------------------------------------------------------------------------------
def test_a_morph_whose_recipe_cannot_be_written_writes_nothing(images, tmp_path, capsys):
    out = tmp_path / "m.gif"
    (tmp_path / "m.gif.json").mkdir()  # the recipe's place is taken by a folder
    assert main(["morph", "--model", "digits", *images, "--frames", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "m.gif.json" in err and "Traceback" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.gif.json"]


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_an_animation_and_its_recipe_appear_together_or_not_at_all(tmp_path, monkeypatch, suffix):
    from latent_explorer.core import export

    frames = np.zeros((3, 8, 8, 1), np.uint8)
    out = tmp_path / f"m{suffix}"
    export.save_animation(out, frames, recipe={"kind": "morph"})
    assert out.exists() and (tmp_path / f"m{suffix}.json").exists()
    before = out.read_bytes()
    real = os.replace

    def failing(src, dst, *a, **k):  # the recipe's move fails after the animation's succeeded
        if str(dst).endswith(".json"):
            raise IsADirectoryError(21, "Is a directory", str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(export.os, "replace", failing)
    with pytest.raises(UserError, match="nothing was written") as e:
        export.save_animation(out, frames[:2], recipe={"kind": "morph"})
    assert "\n" not in str(e.value)
    assert not out.exists() or out.read_bytes() == before  # never the new animation without its recipe
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


# ---- memory bombs --------------------------------------------------------------------------------
def test_a_morph_too_large_for_memory_is_refused_before_decoding(images, tmp_path, capsys, monkeypatch):
    from latent_explorer.core.models.convvae_model import ConvVAEModel

    decoded = []
    monkeypatch.setattr(ConvVAEModel, "decode", lambda self, z, *a, **k: decoded.append(len(z)))
    out = tmp_path / "m.gif"
    assert main(["morph", "--model", "digits", *images, "--frames", "2000", "--out-size", "4096", "--out",
                 str(out)]) == 2
    assert decoded == []  # refused from its estimate, before a single frame was decoded
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "of memory" in err and "--frames" in err
    assert not out.exists()


def test_grids_and_animations_are_estimated_before_they_are_allocated(monkeypatch):
    from latent_explorer.core import export, export_settings
    from latent_explorer.core.export_settings import ExportSettings

    monkeypatch.setattr(export_settings, "MEMORY_BUDGET", 1 << 20)
    tiles = np.zeros((4, 28, 28, 1), np.uint8)
    assert export.make_grid(tiles).shape[0] > 28
    with pytest.raises(UserError, match="of memory"):
        export.make_grid(tiles, settings=ExportSettings(scale=16))
    with pytest.raises(UserError, match="of memory"):
        export.save_animation("/nonexistent/x.gif", np.zeros((40, 28, 28, 1), np.uint8),
                              settings=ExportSettings(size=512, frames=40))


def test_an_extreme_strip_is_cropped_before_it_is_resized():
    import tracemalloc

    from latent_explorer.core.data.images import fit_array

    strip = np.random.default_rng(0).integers(0, 255, (1, 50_000, 3), np.uint8)
    tracemalloc.start()
    out = fit_array(strip, (128, 128))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.shape == (128, 128, 3) and peak < 50 << 20  # (resized whole it was 2.4 GB)
    photo = np.random.default_rng(1).integers(0, 255, (90, 120, 3), np.uint8)
    assert fit_array(photo, (64, 64)).shape == (64, 64, 3)


# ---- provenance ----------------------------------------------------------------------------------
def test_a_direction_made_on_other_weights_is_walked_with_a_warning(tmp_path, capsys):
    from latent_explorer.core.latent.attributes import Direction

    d = Direction("up", np.full(16, 0.1, np.float32), recipe={"model": "digits", "model_hash": "0123456789abcdef"})
    f = tmp_path / "d.json"
    f.write_text(d.to_json())
    out = tmp_path / "w.png"
    assert main(["traverse", "--model", "digits", "--direction", str(f), "--steps", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "other weights" in err and "0123456789ab" in err and out.exists()
    from latent_explorer.core.models.loading import load_model

    same = Direction("up", d.vector, recipe={"model_hash": load_model("digits", device="cpu").weights_hash()})
    f.write_text(same.to_json())
    assert main(["traverse", "--model", "digits", "--direction", str(f), "--steps", "3", "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err


# ---- refuse early --------------------------------------------------------------------------------
def _server(reply: bytes | None):
    """A TCP service on localhost that answers ``reply`` (None: says nothing) to whatever it is sent."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            try:
                conn.recv(64)
                if reply is not None:
                    conn.sendall(reply)
                    conn.close()
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_an_address_that_is_not_ray_is_refused_in_seconds(images, tmp_path, capsys, monkeypatch):
    from latent_explorer.core.data.collection_ray import check_address

    pytest.importorskip("pyarrow")
    web = _server(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    silent = _server(None)
    try:
        addr = f"127.0.0.1:{web.getsockname()[1]}"
        import ray

        def never(*a, **k):  # ray.init retries for minutes against what is not Ray: it must not be reached
            raise AssertionError("ray.init was called with an address that is not a Ray service")

        monkeypatch.setattr(ray, "init", never)
        folder = os.path.dirname(images[0])
        assert main(["encode", "--model", "digits", "--images", folder, "--out", str(tmp_path / "c"),
                     "--engine", "ray", "--address", addr]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "not a Ray service" in err
        with pytest.raises(UserError, match="does not answer as Ray does"):
            check_address(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
    finally:
        web.close()
        silent.close()


def test_a_screenshot_onto_a_file_that_cannot_be_written_is_refused_first(tmp_path, capsys, monkeypatch):
    import latent_explorer.cli as cli

    monkeypatch.setattr(cli, "_run_gui", lambda args: pytest.fail("the window opened"))
    if os.geteuid() == 0:
        target = "/proc/version"   # root may write any file with a mode; not this one
    else:
        target = str(tmp_path / "shot.png")
        open(target, "wb").close()
        os.chmod(target, 0o444)
    assert main(["gui", "--screenshot", target]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--screenshot" in err and target in err
