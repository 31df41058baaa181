"""Starting the app the way a desktop does: main.py from any Python, no display, the menu entry, the icon.

main.py is run by a Python that has none of the project's packages (this Python's base
interpreter with ``-I -S``: no site-packages, no PYTHONPATH, no user site), as a file manager's
double-click would. The desktop entry is written under a temporary XDG_DATA_HOME.
"""
import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from latent_explorer import cli
from latent_explorer.cli import launcher

ROOT = Path(__file__).resolve().parent.parent
MAIN_PY = ROOT / "main.py"
BARE_PYTHON = [getattr(sys, "_base_executable", None) or sys.executable, "-I", "-S"]
posix_only = pytest.mark.skipif(os.name != "posix", reason="a .venv/bin/python shell script")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland and freedesktop only")


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "LATENT_EXPLORER_REEXEC", "DISPLAY", "WAYLAND_DISPLAY",
                        "QT_QPA_PLATFORM")}
    return {**env, **extra}


def _readme_install_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"launch the app on the bundled default model:\s*```\s*\n(.+?)\n```", text, re.S)
    assert block, "the README's install-and-launch command moved"
    return block.group(1).strip()


def _lines(text):
    return [ln for ln in text.splitlines() if ln.strip()]


@pytest.fixture
def lone_main(tmp_path):
    """main.py alone in a folder: no package beside it, no .venv."""
    folder = tmp_path / "app folder"
    folder.mkdir()
    shutil.copy(MAIN_PY, folder / "main.py")
    return folder


def _run_main(main_py, *args, cwd, **env):
    return subprocess.run([*BARE_PYTHON, str(main_py), *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=_env(**env))


def test_main_py_without_venv_or_packages_names_the_install_command(lone_main, tmp_path):
    r = _run_main(lone_main / "main.py", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert len(_lines(r.stderr)) == 1, r.stderr
    assert _readme_install_command() in r.stderr and str(lone_main) in r.stderr


@posix_only
def test_main_py_reexecutes_itself_with_the_venv_python(lone_main, tmp_path):
    fake = lone_main / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "venv python" "$0" "$@" "guard=$LATENT_EXPLORER_REEXEC"\n')
    fake.chmod(0o755)
    r = _run_main(lone_main / "main.py", "--screenshot", "a b.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["venv python", str(fake), str(lone_main / "main.py"), "--screenshot",
                                     "a b.png", "guard=1"]
    # the guard: a venv Python that runs main.py without being the venv (broken) is not exec'd again
    r = _run_main(lone_main / "main.py", cwd=tmp_path, LATENT_EXPLORER_REEXEC="1")
    assert r.returncode == 2 and len(_lines(r.stderr)) == 1 and "Traceback" not in r.stderr, r.stderr
    assert ".venv" in r.stderr and r.stdout == ""


@posix_only
@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="no .venv beside main.py")
def test_the_real_main_py_moves_to_its_venv(tmp_path):
    r = _run_main(MAIN_PY, "--screenshot", str(tmp_path / "nope" / "shot.png"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert _lines(r.stderr) == [f"latent-explorer gui: --screenshot {tmp_path / 'nope' / 'shot.png'}: "
                                f"folder {tmp_path / 'nope'} does not exist"], r.stderr


def test_no_display_is_recognised(monkeypatch):
    from latent_explorer.gui.app import no_display

    monkeypatch.delitem(sys.modules, "PySide6.QtGui", raising=False)  # as before Qt starts
    linux = "linux"
    if os.name == "posix":
        assert no_display({}, linux)
        assert no_display({"QT_QPA_PLATFORM": "xcb"}, linux)
        assert no_display({"QT_QPA_PLATFORM": "wayland;xcb"}, linux)
    for env in ({"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}, {"QT_QPA_PLATFORM": "offscreen"},
                {"QT_QPA_PLATFORM": "vnc:size=800x600"}, {"QT_QPA_PLATFORM": "minimal"}):
        assert not no_display(env, linux), env
    assert not no_display({}, "darwin")


@linux_only
def test_gui_without_a_display_says_so_and_a_screenshot_still_works(tmp_path):
    env = _env(LATENT_EXPLORER_DATA=tempfile.mkdtemp(prefix="lx-data-"))
    r = subprocess.run([sys.executable, "-m", "latent_explorer.cli", "gui"], capture_output=True, text=True,
                       timeout=60, env=env, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(_lines(r.stderr)) == 1 and "no display" in r.stderr and "--screenshot" in r.stderr, r.stderr
    shot = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "latent_explorer.cli", "gui", "--model", "digits-2d", "--device", "cpu",
                        "--screenshot", str(shot)], capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert shot.stat().st_size > 10_000


def _read_entry(path: Path):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _exec_args(value: str) -> list[str]:
    """An Exec value back into arguments: the string escapes first, then the spec's quoting."""
    text = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "s": " "}.get(m[1], m[1]), value)
    args, arg, quoted, i = [], None, False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and text[i + 1:i + 2] in ('"', "`", "$", "\\"):
            arg, i = arg + text[i + 1], i + 2
            continue
        if c == '"':
            quoted, arg = not quoted, arg or ""
        elif c == " " and not quoted:
            if arg is not None:
                args.append(arg)
            arg = None
        else:
            arg = (arg or "") + c
        i += 1
    assert not quoted, value
    return [a.replace("%%", "%") for a in args + ([arg] if arg is not None else [])]


@linux_only
def test_install_launcher_writes_a_desktop_entry_and_removes_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert cli.main(["install-launcher"]) == 0
    path = tmp_path / "share" / "applications" / "latent-explorer.desktop"
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    entry = _read_entry(path)
    assert (entry["Type"], entry["Name"], entry["Terminal"]) == ("Application", "latent-explorer", "false")
    assert entry["Comment"] and entry["Categories"] == "Graphics;Education;Science;"
    args = _exec_args(entry["Exec"])
    assert os.path.isabs(args[0]) and os.path.isfile(args[0]) and args[-1] == "gui", args
    assert os.path.isabs(entry["Icon"]) and Path(entry["Icon"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    # the command in the entry starts this install
    r = subprocess.run([*args, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--screenshot" in r.stdout, r.stderr

    assert cli.main(["install-launcher", "--remove"]) == 0
    assert capsys.readouterr().out.strip() == f"removed {path}" and not path.exists()
    assert cli.main(["install-launcher", "--remove"]) == 0
    assert "no launcher to remove" in capsys.readouterr().out


def test_desktop_entry_quotes_awkward_paths():
    command = ["/opt/my apps/la$t \"explorer\"/bin/latent-explorer", "--x=100%", "back\\slash", "gui"]
    text = launcher.desktop_entry(command, Path("/icons/a b.png"))
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read_string(text)
    assert _exec_args(entry["Desktop Entry"]["Exec"]) == command
    assert entry["Desktop Entry"]["Icon"] == "/icons/a b.png"


def test_install_launcher_refuses_in_one_line(tmp_path, monkeypatch, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(afile))
    monkeypatch.setattr(sys, "platform", "linux")
    assert cli.main(["install-launcher"]) == 2
    err = capsys.readouterr().err
    assert len(_lines(err)) == 1 and str(afile) in err and "Traceback" not in err, err
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(sys, "platform", platform)
        assert cli.main(["install-launcher"]) == 2
        err = capsys.readouterr().err
        assert len(_lines(err)) == 1 and "freedesktop" in err, err
    assert launcher.applications_dir({"XDG_DATA_HOME": "relative/share"}) == \
        Path(os.path.expanduser("~")) / ".local" / "share" / "applications"


def test_the_icon_loads_and_matches_its_svg(qapp):
    from PySide6.QtGui import QImage

    from latent_explorer.gui.icon import app_icon, icon_path, render

    icon = app_icon()
    assert not icon.isNull() and not icon.pixmap(32, 32).isNull()
    png = QImage(str(icon_path("png")))
    assert (png.width(), png.height()) == (256, 256)
    drawn = render(256)
    png = png.convertToFormat(QImage.Format.Format_ARGB32)
    # the committed PNG is the SVG's rendering (python -m latent_explorer.gui.icon): compare a coarse grid
    diffs = [abs(a - b) for x in range(4, 256, 12) for y in range(4, 256, 12)
             for a, b in zip(png.pixelColor(x, y).getRgb(), drawn.pixelColor(x, y).getRgb())]
    assert sum(diffs) / len(diffs) < 4
