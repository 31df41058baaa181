"""Fuzzing the command line: every subcommand, every option, a table of bad values each.

Every case must exit 2 with exactly one line on stderr and no traceback, before any real work
(a bad value that slipped through would run the command, and most likely fail the exit code).
Runs in-process (``main(argv)``, SystemExit caught) to stay fast, plus a few subprocess cases;
hypothesis throws arbitrary text at every numeric and list option of the parser.
"""
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latent_explorer import cli
from latent_explorer.cli import build_parser, main
from latent_explorer.core.latent.breeding import FamilyTree
from latent_explorer.core.latent.breeding_file import family_json

NOT_NUMBERS = ["", " ", "abc", "nan", "NaN", "inf", "-inf", "+inf", "1e400", "0x10", "1_000", "3,,4", "12x",
               "1,2", "--", "9" * 60, "½"]
NOT_WHOLE = NOT_NUMBERS + ["1.5", "1e3", "2.0"]
SEEDS = NOT_WHOLE + ["-1", str(2**32), str(10**30)]
SIZES = ["", "0", "-8", "12x", "x12", "12x12x12", "8192x0", "9000", "abc", "nan", "1.5", "3,,4", "64x64x",
         "×", str(10**12)]
DEVICES = ["", "gpu", "cuda:x", "cuda:", "tpu", "cpu0", "cuda:99999"]

# the bad values of each subcommand's options; {file} is an existing file, {dir} an existing folder
MODEL = {"--model": ["", " ", "nosuchmodel", "{file}"], "--device": DEVICES, "--precision": ["fp8", ""],
         "--size": SIZES, "--config": ["", "/no/such/config/folder"]}
EXPORT = {"--scale": NOT_WHOLE + ["0", "-2", "17"], "--filter": ["", "bicubic", "Nearest"]}
ANIMATION = {**EXPORT, "--out-size": NOT_WHOLE + ["0", "15", "4097", "-512"], "--ease": ["", "cubic", "ease"],
             "--loop": ["", "bounce", "pingpong"], "--quality": NOT_WHOLE + ["0", "11"]}
TABLE = {
    "info": (["--model", "digits"], dict(MODEL)),
    "sample": (["--model", "digits", "--out", "{tmp}/ok.png"], {
        **MODEL, **EXPORT, "-n": NOT_WHOLE + ["0", "-3", "1025"], "--seed": SEEDS,
        "--temperature": NOT_NUMBERS + ["-0.1", "101"],
        "--out": ["", "x.jpg", "noext", "{tmp}/missing/x.png", "{file}/x.png", "{dir}.png"]}),
    "traverse": (["--model", "digits-2d", "--out", "{tmp}/t.png"], {
        **MODEL, **EXPORT, "--steps": NOT_WHOLE + ["0", "257"], "--range": NOT_NUMBERS + ["-1", "1000"],
        "--seed": SEEDS,
        "--image": ["", "/no/such.png", "{dir}"], "--direction": ["", "/no/such.json", "{dir}", "{file}", "{png}"],
        "--out": ["", "t.gif", "{file}/t.png", "{dir}.png", "{tmp}/nope/t.png"]}),
    "direction": (["--model", "digits", "--from", "label:0", "--to", "label:1", "--out", "{tmp}/d.json"], {
        **MODEL, "--from": ["", "label:", "label:x", "label:99", "factor:shape", "factor:=1", "factor:size=1",
                            "/no/such.png"],
        "--to": ["", "label:-1", "factor:x=1", "{file}"], "--method": ["", "pca"],
        "--data": ["", "nothing-here", "{file}"],
        "--out": ["", "d.png", "noext", "{file}/d.json", "{tmp}/nope/d.json"]}),
    "morph": (["--model", "digits", "{png}", "{png}", "--out", "{tmp}/m.gif"], {
        **MODEL, **ANIMATION, "--frames": NOT_WHOLE + ["0", "1", "2001"], "--fps": NOT_WHOLE + ["0", "61", "121"],
        "--method": ["cubic", ""], "--out": ["", "m.jpg", "{file}/m.gif", "{dir}.png", "{tmp}/nope/m.gif"]}),
    "reconstruct": (["--model", "digits", "{png}", "--out", "{tmp}/rec"], {
        **MODEL, **EXPORT, "--out": ["", "{file}", "{file}/sub", "{file}/a/b"]}),
    "encode": (["--model", "digits", "--images", "{dir}", "--out", "{tmp}/z.npz"], {
        **MODEL, "--images": ["", "/no/such/folder", "{file}"],
        "--out": ["", "z.png", "{dir}.npz", "{file}/z.npz", "{tmp}/nope/z.npz", "{file}", "{file}/coll"],
        "--shard-size": NOT_WHOLE + ["0", "15", "65537"], "--engine": ["", "spark"], "--address": [""]}),
    "evaluate": (["--model", "digits"], {**MODEL, "--data": ["", "nothing-here", "{file}", "/no/such/dir"]}),
    "explain": (["--model", "digits", "{png}", "--samples", "2", "--out", "{tmp}/ex"], {
        **MODEL, "--samples": NOT_WHOLE + ["0", "-1", "257", str(10**9)], "--seed": SEEDS,
        "--out": ["", "{file}", "{file}/sub", "{file}/a/b"]}),
    "analogy": (["--model", "digits", "{png}", "{png}", "{png}", "--out", "{tmp}/an.png"], {
        **MODEL, **EXPORT,
        "--strengths": ["", ",", "1,", ",1", "0,,1", "a,b", "nan", "inf", "1e400", "4.5", "-4.01", "0,5",
                        "1;2", "1 2", "0x1", "0,0,0,0,0,0,0,0,0,0", "½"],
        "--out": ["", "an.gif", "noext", "{dir}.png", "{file}/an.png", "{tmp}/nope/an.png"]}),
    "breed": (["--model", "digits", "{png}", "{png2}", "--out", "{tmp}/fam"], {
        **MODEL, **EXPORT, "--children": NOT_WHOLE + ["0", "-1", "17"],
        "--mutation": NOT_NUMBERS + ["-0.1", "-1", "2.01"],
        "--seed": SEEDS, "--generations": NOT_WHOLE + ["0", "-2", "101"],
        "--pick": ["", ",", "0", "1,,2", "a", "17", "-1", "1.5", "1,2,3,4,5,6,7", "1;2"],
        "--out": ["", "{file}", "{file}/sub", "{file}/a/b"]}),
    "train": (["--data", "mnist-5k", "--out", "{tmp}/m", "--epochs", "1", "--limit", "8", "--device", "cpu"], {
        "--data": ["", "nothing-here", "{file}"], "--out": ["", "{file}", "{file}/m"],
        "--latent-dim": NOT_WHOLE + ["0", "-2", "4097", str(10**9)], "--beta": NOT_NUMBERS + ["-1", "1e9"],
        "--tc-beta": NOT_NUMBERS + ["-0.5"], "--epochs": NOT_WHOLE + ["0", "-1", "100001"],
        "--image-size": NOT_WHOLE + ["0", "3", "2000", "30", "-64"], "--batch-size": NOT_WHOLE + ["0", "70000"],
        "--lr": NOT_NUMBERS + ["0", "-1e-3", "11"], "--seed": SEEDS, "--kl-warmup": NOT_WHOLE + ["-1"],
        "--hidden-channels": ["", "3,,4", ",", "32,", ",32", "a,b", "0,32", "32,-64", "1,2,3,4,5,6,7", "99999",
                              "32;64", "32 64", "1.5,2", "nan"],
        "--limit": NOT_WHOLE + ["0", "-5"], "--decoder": ["", "unet"], "--device": DEVICES}),
    "gui": (["--model", "digits"], {
        "--device": DEVICES, "--precision": ["fp8"], "--size": SIZES, "--config": ["", "/no/such/config"],
        "--images": ["", "/no/such/folder", "{file}"], "--collection": ["", "/no/such/folder", "{file}", "{dir}"],
        "--screenshot": ["", "{dir}", "{tmp}/nope/shot.png", "{file}/shot.png"]}),
    "install-launcher": ([], {"--remove": ["x", "", "{file}", "--bogus"]}),
}
EXTRA = [["frobnicate"], ["--bogus"], ["models", "--bogus"], ["models", "extra"], ["sample"],
         ["sample", "--model", "digits"], ["train", "--out", "x"], ["morph", "--model", "digits", "--out", "m.gif"],
         ["reconstruct", "--model", "digits", "--out", "r"], ["info", "--model"], ["gui", "--size"],
         ["sample", "--model", "digits", "--out", "x\0.png"], ["morph", "--model", "digits", "{png}", "--out", "m.gif"],
         ["morph", "--model", "digits", "{png}", "/no/such.png", "--out", "{tmp}/m.gif"],
         ["reconstruct", "--model", "digits", "/no/such.png", "--out", "{tmp}/r"],
         ["reconstruct", "--model", "digits", "{dir}", "--out", "{tmp}/r"],
         ["sample", "--model", "digits", "--out", "{tmp}/ok.png", "-n", "1", "-n", "x"],
         ["explain", "--model", "digits"], ["explain", "{png}"], ["explain", "--model", "digits", "/no/such.png"],
         ["explain", "--model", "digits", "{dir}"], ["explain", "--model", "digits", "{file}"],
         ["explain", "--model", "digits", "{png}", "{png}"], ["explain", "--model", "digits", "{png}", "--samples"],
         ["explain", "--model", "digits", "{png}", "--out", "{file}"],
         ["morph", "--model", "digits", "{png}", "{png}", "--scale", "2", "--out-size", "64", "--out", "{tmp}/m.gif"],
         ["morph", "--model", "digits", "{png}", "{png}", "--close", "--frames", "2", "--out", "{tmp}/m.gif"],
         ["morph", "--model", "digits", "{png}", "{png}", "{png}", "--frames", "2", "--out", "{tmp}/m.gif"],
         ["morph", "--model", "digits", "{png}", "{png}", "--close=yes", "--out", "{tmp}/m.gif"],
         ["sample", "--model", "digits", "--out", "{tmp}/ok.png", "--out-size", "64"],
         ["analogy", "--model", "digits", "{png}", "{png}", "--out", "{tmp}/an.png"],
         ["analogy", "--model", "digits", "{png}", "{png}", "{png}", "{png}", "--out", "{tmp}/an.png"],
         ["analogy", "--model", "digits", "{png}", "{png}", "{png}"],
         ["analogy", "--model", "digits", "{png}", "/no/such.png", "{png}", "--out", "{tmp}/an.png"],
         ["analogy", "--model", "digits", "{png}", "{png}", "{dir}", "--out", "{tmp}/an.png"],
         ["analogy", "--model", "digits", "{png}", "{file}", "{png}", "--out", "{tmp}/an.png"],
         ["analogy", "--model", "digits", "{png}", "{png}", "{png}", "--out", "{dir}"],
         ["analogy", "--model", "digits", "{png}", "{png}", "{png}", "--strengths", "--out", "{tmp}/an.png"],
         ["breed", "--model", "digits", "{png}", "--out", "{tmp}/b"],  # one parent
         ["breed", "--model", "digits", *["{png}", "{png2}"] * 3, "{png}", "--out", "{tmp}/b"],  # seven
         ["breed", "--model", "digits", "{png}", "/no/such.png", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "{png}", "{dir}", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "{png}", "{file}", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "{png}", "{png}", "--out", "{tmp}/b"],  # one latent twice
         ["breed", "--model", "digits", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "--pick", "1", "--out", "{dir}"],
         ["breed", "{png}", "{png2}", "--out", "{tmp}/b"], ["breed", "--model", "digits", "{png}", "{png2}"],
         ["breed", "--model", "digits", "{png}", "{png2}", "--pick", "1", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "{png}", "{png2}", "--generations", "2", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "{png}", "{png2}", "--generations", "2", "--pick", "9", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "{png}", "{png2}", "--generations", "2", "--pick", "2,2", "--out", "{tmp}/b"],
         ["breed", "--model", "digits", "{png}", "{png2}", "--out", "{tmp}/fam16"],  # a family is there
         ["breed", "--model", "digits", "--out", "{tmp}/fam16"],
         ["breed", "--model", "digits", "--pick", "3", "--out", "{tmp}/fam16"],
         ["breed", "--model", "digits", "--pick", "1", "--out", "{tmp}/badfam"],
         ["breed", "--model", "digits-2d", "--pick", "1", "--out", "{tmp}/fam16"],  # another latent shape
         *(["breed", "--model", "digits", "--pick", "1", "--out", "{tmp}/" + name]
           for name in ("hashfam", "gensfam", "abfam", "rootsfam", "bigfam")),
         ["install-launcher", "extra"], ["install-launcher", "--remove=yes"], ["install-launcher", "--rem", "--x"]]


def _cases():
    for cmd, (base, options) in TABLE.items():
        for opt, values in options.items():
            for v in values:
                yield pytest.param([cmd, *_without(base, opt), opt, v], id=f"{cmd} {opt} {v!r}"[:80])
    for argv in EXTRA:
        yield pytest.param(argv, id=" ".join(map(repr, argv))[:80])


def _without(base, opt):
    out, skip = [], False
    for i, a in enumerate(base):
        if skip:
            skip = False
        elif a == opt:
            skip = True
        else:
            out.append(a)
    return out


@pytest.fixture(scope="module")
def where(tmp_path_factory):
    import numpy as np
    from PIL import Image

    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "afile").write_text("I am a regular file")
    (tmp / "adir").mkdir()
    (tmp / "adir.png").mkdir()
    (tmp / "adir.npz").mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp / "a.png")
    square = np.zeros((28, 28), np.uint8)
    square[8:20, 8:20] = 255
    Image.fromarray(square).save(tmp / "b.png")
    family = FamilyTree()  # a family of two children, of the 16-d digits model's shape, to continue
    family.set_parents([family.add_root(np.full(16, v, np.float32)) for v in (-1.0, 1.0)])
    family.breed(2, 0.1, seed=0)
    good = json.loads(family_json(family, model="digits"))
    damaged = {"hashfam": {"model_hash": 5}, "gensfam": {"generations": 7}, "abfam": {"generations": "ab"},
               "rootsfam": {"children": [0, 1]},  # its roots: they would breed on as "gen 1" again
               "bigfam": {"roots": {**good["roots"], "0": [1e39] * 16}}}  # beyond a float32
    for name, text in (("fam16", json.dumps(good)), ("badfam", "{"),
                       *((k, json.dumps({**good, **v})) for k, v in damaged.items())):
        (tmp / name).mkdir()
        (tmp / name / "tree.json").write_text(text)
    return {"tmp": str(tmp), "file": str(tmp / "afile"), "dir": str(tmp / "adir"), "png": str(tmp / "a.png"),
            "png2": str(tmp / "b.png")}


def _fill(argv, where):
    out = []
    for a in argv:
        for k, v in where.items():
            a = a.replace("{" + k + "}", v)
        out.append(a)
    return out


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.fixture
def no_window(monkeypatch, where):
    def refuse(args):
        raise AssertionError("a window would have opened")

    monkeypatch.setattr(cli, "_run_gui", refuse)
    monkeypatch.setenv("XDG_DATA_HOME", where["tmp"] + "/xdg")  # never the real application menu
    monkeypatch.chdir(where["tmp"])


@pytest.mark.parametrize("argv", list(_cases()))
def test_bad_values_exit_2_with_one_line(argv, where, capsys, no_window):
    code, err = _run(_fill(argv, where), capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("latent-explorer"), err


NUMERIC = [("sample", "-n"), ("sample", "--seed"), ("sample", "--temperature"), ("sample", "--size"),
           ("traverse", "--steps"), ("traverse", "--range"), ("morph", "--frames"), ("morph", "--fps"),
           ("morph", "--out-size"), ("morph", "--scale"), ("morph", "--quality"), ("sample", "--scale"),
           ("traverse", "--scale"),
           ("train", "--latent-dim"), ("train", "--beta"), ("train", "--tc-beta"), ("train", "--epochs"),
           ("train", "--image-size"), ("train", "--batch-size"), ("train", "--lr"), ("train", "--kl-warmup"),
           ("train", "--hidden-channels"), ("train", "--limit"), ("train", "--device"), ("gui", "--size"),
           ("explain", "--samples"), ("explain", "--seed"), ("analogy", "--strengths"), ("analogy", "--scale"),
           ("breed", "--children"), ("breed", "--mutation"), ("breed", "--generations"), ("breed", "--pick")]
BASES = {"sample": ["--model", "m", "--out", "o.png"], "traverse": ["--model", "m", "--out", "o.png"],
         "morph": ["--model", "m", "a", "b", "--out", "o.gif"], "train": ["--data", "d", "--out", "o"], "gui": [],
         "explain": ["--model", "m", "img.png"], "analogy": ["--model", "m", "a", "b", "c", "--out", "o.png"],
         "breed": ["--model", "m", "a", "b", "--out", "o"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=12), st.floats().map(repr), st.integers().map(str),
                       st.lists(st.integers(-5, 2000).map(str), max_size=8).map(",".join)))
@pytest.mark.parametrize("cmd,opt", NUMERIC)
def test_any_text_is_parsed_within_bounds_or_refused_in_one_line(cmd, opt, value, capsys):
    if value.startswith("-") and not value[1:2].isdigit():
        value = " " + value  # argparse would read it as an option: that is a different (tested) error
    try:
        args = build_parser().parse_args([cmd, *BASES[cmd], opt, value])
    except SystemExit as e:
        err = capsys.readouterr().err
        assert e.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        return
    v = getattr(args, opt.lstrip("-").replace("-", "_") if opt != "--range" else "range_")
    for x in (v if isinstance(v, (list, tuple)) else [v]):
        if isinstance(x, (int, float)):
            assert 0 <= x <= 10**5 or opt in ("--seed", "--limit") or (opt == "--strengths" and -4 <= x <= 4), \
                (opt, value, v)
            assert x == x and abs(x) != float("inf")


@pytest.mark.parametrize("argv,needle", [
    (["sample", "--model", "digits", "-n", "nan", "--out", "x.png"], "argument -n: 'nan' is not a whole number"),
    (["reconstruct", "--model", "digits", "{png}", "--out", "{file}"], "is a file, not a folder"),
    (["gui", "--screenshot", "{dir}"], "is a folder"),
    (["train", "--data", "mnist-5k", "--out", "{tmp}/m", "--hidden-channels", "3,,4"], "has an empty entry"),
    (["morph", "--model", "digits", "{png}", "{png}", "--out-size", "4097", "--out", "{tmp}/m.gif"],
     "argument --out-size: '4097' is out of range: use 16 to 4096"),
    (["breed", "--model", "digits", "--pick", "1", "--out", "{tmp}/bigfam"], "beyond a float32's range"),
])
def test_in_a_real_process(argv, needle, where):
    p = subprocess.run([sys.executable, "-m", "latent_explorer.cli", *_fill(argv, where)], capture_output=True,
                       text=True, timeout=120, cwd=where["tmp"])
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_out_checks_run_before_the_model_is_loaded(where, capsys, monkeypatch):
    from latent_explorer.core.models import loading

    monkeypatch.setattr(loading, "load_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    code, err = _run(_fill(["reconstruct", "--model", "digits", "{png}", "--out", "{file}/x"], where), capsys)
    assert code == 2 and "is a file, not a folder" in err
    code, err = _run(_fill(["encode", "--model", "digits", "--images", "{dir}", "--out", "{dir}.npz"], where), capsys)
    assert code == 2 and "is a folder" in err
    code, err = _run(_fill(["explain", "--model", "digits", "{png}", "--samples", "3", "--out", "{file}"], where), capsys)
    assert code == 2 and "is a file, not a folder" in err
    code, err = _run(_fill(["explain", "--model", "digits", "/no/such.png"], where), capsys)
    assert code == 2 and "/no/such.png: no such file" in err


def test_good_gui_options_reach_the_window_and_no_arguments_opens_it(where, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(cli, "_run_gui", lambda args: opened.append(args) or 0)
    assert main([]) == 0 and opened[-1].command is None
    argv = _fill(["gui", "--images", "{dir}", "--screenshot", "{tmp}/shot.png", "--size", "512x768",
                  "--device", "CPU"], where)
    assert main(argv) == 0
    a = opened[-1]
    assert (a.size, a.device, a.images, a.precision) == ((512, 768), "cpu", where["dir"], None)


def test_the_bounds_themselves_are_accepted():
    p = build_parser()
    a = p.parse_args(["sample", "--model", "m", "--out", "o.png", "-n", "1024", "--seed", str(2**32 - 1),
                      "--temperature", "0", "--size", " 8192 "])
    assert (a.n, a.seed, a.temperature, a.size) == (1024, 2**32 - 1, 0.0, 8192)
    a = p.parse_args(["train", "--data", "d", "--out", "o", "--hidden-channels", "8, 16 ,1024", "--lr", "1e-4",
                      "--beta", ".5", "--kl-warmup", "0", "--image-size", "4"])
    assert (a.hidden_channels, a.lr, a.beta, a.kl_warmup, a.image_size) == ([8, 16, 1024], 1e-4, 0.5, 0, 4)
    a = p.parse_args(["explain", "--model", "m", "i.png", "--samples", "256", "--seed", "0"])
    assert (a.samples, a.seed, a.out, a.json) == (256, 0, None, False)
    assert p.parse_args(["explain", "--model", "m", "i.png", "--samples", " 1 "]).samples == 1


def test_the_export_bounds_are_accepted():
    p = build_parser()
    a = p.parse_args(["morph", "--model", "m", "a", "b", "--out", "o.gif", "--out-size", " 4096", "--fps", "60",
                      "--quality", "10", "--frames", "2000", "--ease", "ease-in-out", "--loop", "ping-pong", "--close",
                      "--filter", "lanczos"])
    assert (a.out_size, a.scale, a.fps, a.quality, a.frames, a.ease, a.loop, a.close, a.filter) == \
        (4096, None, 60, 10, 2000, "ease-in-out", "ping-pong", True, "lanczos")
    a = p.parse_args(["morph", "--model", "m", "a", "b", "--out", "o.gif", "--scale", "16", "--fps", "1",
                      "--quality", "1"])
    assert (a.scale, a.out_size, a.fps, a.quality, a.ease, a.loop, a.close, a.filter) == \
        (16, None, 1, 1, "linear", "loop", False, "nearest")
    for cmd, base in (("sample", ["--out", "o.png"]), ("traverse", ["--out", "o.png"]),
                      ("reconstruct", ["x.png", "--out", "o"])):
        a = p.parse_args([cmd, "--model", "m", *base, "--scale", "1", "--filter", "lanczos"])
        assert (a.scale, a.filter) == (1, "lanczos")
