#!/usr/bin/env python3
"""Double-click entry point: opens the latent-explorer window on the bundled digits model.

A file manager runs this file with whatever ``python3`` it finds, usually one without the
project's packages. So before anything of the project is imported:

1. run by the Python of the ``.venv`` beside this file (the README's install): just run;
2. else, if that ``.venv`` exists: re-execute this file with its Python, same arguments
   (``LATENT_EXPLORER_REEXEC`` marks the second run, so a broken venv cannot loop);
3. else, if this Python can import the app and its packages: just run;
4. else: print one line with the README's install-and-launch command and exit 2.

Plain Python 3 syntax only: an old system Python must be able to read this far.
"""
import os
import sys

HERE = os.path.dirname(os.path.realpath(os.path.abspath(__file__)))
VENV = os.path.join(HERE, ".venv")
REEXEC = "LATENT_EXPLORER_REEXEC"
INSTALL = ("python3 -m venv .venv && .venv/bin/pip install -e . "
           "$(nvidia-smi -L >/dev/null 2>&1 || echo torch==2.13.0) && .venv/bin/latent-explorer")
NEEDED = ("latent_explorer", "PySide6", "numpy", "torch")


def _venv_python():
    if os.name == "nt":
        return os.path.join(VENV, "Scripts", "python.exe")
    return os.path.join(VENV, "bin", "python")


def _same(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _in_venv():
    return _same(sys.prefix, VENV) if os.path.isdir(VENV) else False


def _missing():
    """The first package this Python cannot find (found, not imported), or None."""
    import importlib.util

    for name in NEEDED:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def _refuse(why):
    sys.stderr.write("latent-explorer: {}; to install it and launch the app, run in {}: {}\n"
                     .format(why, HERE, INSTALL))
    sys.stderr.flush()
    sys.exit(2)


def _reexec(python):
    os.environ[REEXEC] = "1"
    argv = [python, os.path.join(HERE, os.path.basename(__file__))] + sys.argv[1:]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if os.name == "nt":  # execv on Windows spawns and returns; wait for the child instead
            import subprocess

            sys.exit(subprocess.call(argv))
        os.execv(python, argv)
    except OSError as e:
        _refuse("could not start {} ({})".format(python, e.strerror or e))


def bootstrap():
    """Make sure the app can be imported here, re-executing with the .venv's Python if needed."""
    if _in_venv():
        os.environ.pop(REEXEC, None)  # not inherited by anything the app starts
        return
    python = _venv_python()
    if os.path.exists(python) and not os.environ.get(REEXEC):
        _reexec(python)
    missing = _missing()
    if missing is None:
        return
    if os.path.isdir(VENV) and not os.path.exists(python):
        _refuse("the .venv beside main.py has no Python at {} (recreate it: rm -rf .venv)".format(python))
    if os.path.isdir(VENV):
        _refuse("the .venv beside main.py cannot import {} (recreate it: rm -rf .venv)".format(missing))
    _refuse("{} cannot import {} and there is no .venv beside main.py".format(sys.executable or "python", missing))


if __name__ == "__main__":
    bootstrap()
    try:
        from latent_explorer.cli import gui_main
    except ImportError as e:  # a damaged install: say so in one line, as above
        _refuse("cannot import {} ({})".format(getattr(e, "name", None) or "latent_explorer", e))
    gui_main()
