"""Every JSON a user can hand the app is read by one bounded reader (core/jsonio.py): a file nested a few
thousand levels deep, or larger than its budget, is one clear line naming it, never a RecursionError
(today's main raised one through direction files, tree.json and collection manifests)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from latent_explorer.cli import main
from latent_explorer.core.errors import UserError
from latent_explorer.core.jsonio import MAX_DEPTH, loads_bounded, nesting_depth

DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a": ' * 3000 + "1" + "}" * 3000


def test_nesting_is_measured_outside_strings_and_bounded():
    assert nesting_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert nesting_depth('"\\"[[[["') == 0
    assert loads_bounded('{"a": "[[[["}') == {"a": "[[[["}
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads_bounded(ok) is not None
    for text in (DEEP, DEEP_OBJECT, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)):
        with pytest.raises(ValueError, match="levels deep") as e:
            loads_bounded(text, "x.json")
        assert "\n" not in str(e.value) and "x.json" in str(e.value)
    with pytest.raises(ValueError, match="larger than"):
        loads_bounded("[" + "1," * 600 + "1]", "x.json", max_bytes=1000)
    with pytest.raises(ValueError, match="invalid JSON"):
        loads_bounded("{nope", "x.json")


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT])
def test_a_direction_file(text):
    from latent_explorer.core.latent.attributes import Direction

    with pytest.raises(ValueError, match="not a direction file: the direction file nests"):
        Direction.from_json(text)


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT])
def test_a_family_tree(text):
    from latent_explorer.core.latent.breeding_file import read_family

    with pytest.raises(ValueError, match="the family tree nests"):
        read_family(text)


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT])
def test_a_collection_manifest(tmp_path, text):
    from latent_explorer.core.data.collection import Collection, check_resumable

    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(UserError, match="damaged manifest"):
        Collection(tmp_path)
    check_resumable(tmp_path, "abc")  # (not its own manifest: the writer decides; no RecursionError)


@pytest.mark.parametrize("text", [DEEP, json.dumps([1, 2])])
def test_a_model_folders_metrics_cost_only_the_metrics(tmp_path, text):
    from latent_explorer.core.models.loading import load_model
    from latent_explorer.core.paths import resources_dir

    folder = tmp_path / "digits-copy"
    shutil.copytree(resources_dir() / "models" / "digits", folder)
    (folder / "metrics.json").write_text(text)
    m = load_model(str(folder), device="cpu")
    assert m.metrics == {} and m.decode(np.zeros((1, 16), np.float32)).shape == (1, 28, 28, 1)


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT])
def test_a_lab_file(tmp_path, text):
    from latent_explorer.app.lab import read_steps

    (tmp_path / "lab.json").write_text(text)
    with pytest.raises(UserError, match="lab.json nests"):
        read_steps(tmp_path / "lab.json")


def test_the_command_line_says_one_line_and_exits_2(tmp_path, capsys):
    """traverse --direction and breed --pick on a hostile direction file and tree.json."""
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    code = main(["traverse", "--model", "digits", "--direction", str(deep), "--out", str(tmp_path / "g.png")])
    err = capsys.readouterr().err
    assert code == 2 and "nests" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    fam = tmp_path / "fam"
    fam.mkdir()
    (fam / "tree.json").write_text(DEEP_OBJECT)
    code = main(["breed", "--model", "digits", "--pick", "1", "--out", str(fam)])
    err = capsys.readouterr().err
    assert code == 2 and "nests" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_deep_direction_file_in_a_fresh_interpreter_does_not_crash_it(tmp_path):
    """The whole CLI path, as a user runs it (the stack a fresh interpreter has)."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20_000 + "]" * 20_000)
    r = subprocess.run([sys.executable, "-m", "latent_explorer.cli", "traverse", "--model", "digits", "--direction",
                        str(deep), "--out", str(tmp_path / "g.png")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "nests" in r.stderr and "Traceback" not in r.stderr
