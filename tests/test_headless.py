"""latent_explorer.core and latent_explorer.app never import Qt: the headless heart runs anywhere.

Every module of both packages (found with pkgutil, so new modules are covered without listing
them here; ``app`` only once it exists) is imported in a fresh interpreter, which must then hold
no Qt module; and no source line of theirs may import Qt, not even lazily inside a function.
"""
import ast
import importlib
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import latent_explorer.core

QT = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "superqt", "qtpy", "shiboken6")
PACKAGES = ("latent_explorer.core", "latent_explorer.app")


def headless_packages() -> list[str]:
    return [p for p in PACKAGES if importlib.util.find_spec(p) is not None]


def headless_modules() -> list[str]:
    mods = []
    for pkg in headless_packages():
        mods.append(pkg)
        mods += [m.name for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + ".")]
    return mods


def test_the_walk_finds_every_core_module():
    mods = headless_modules()
    root = Path(latent_explorer.core.__file__).parent
    files = {".".join(("latent_explorer", "core", *p.relative_to(root).with_suffix("").parts))
             for p in root.rglob("*.py") if p.name != "__init__.py"}
    assert files <= set(mods), sorted(files - set(mods))
    assert "latent_explorer.core.checkpoint" in mods and "latent_explorer.core.models.diffusers_load" in mods


def test_headless_packages_import_no_qt():
    mods = headless_modules()
    code = (
        "import sys, importlib\n"
        f"QT = {QT!r}\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "    bad = sorted(k for k in sys.modules if k.split('.')[0] in QT)\n"
        "    if bad:\n"
        "        print(m, 'imported', ','.join(bad[:5]))\n"
        "        break\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(mods) >= 10
    assert out.stdout.strip() == "", f"Qt modules imported: {out.stdout}"


def test_no_headless_source_imports_qt_even_lazily():
    offenders = []
    for pkg in headless_packages():
        root = Path(importlib.util.find_spec(pkg).origin).parent
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                if any(n.split(".")[0] in QT for n in names):
                    offenders.append(f"{path.relative_to(root.parent.parent)}:{node.lineno}")
    assert offenders == [], offenders


WEB = ("gradio", "fastapi", "starlette", "uvicorn", "httpx", "segno")


def _imports(root: Path):
    """(path, line, imported module, relative level) of every import under ``root``."""
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield path, node.lineno, a.name, 0
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path, node.lineno, node.module, node.level


def test_core_and_app_know_no_web_and_the_web_no_qt():
    """The classroom (``web/``) is a front-end as the window is: core and app never import a web
    framework or ``web``; ``web`` never imports Qt or the window."""
    pkg = Path(latent_explorer.core.__file__).parent.parent
    offenders = []
    for sub in ("core", "app"):
        for path, line, mod, level in _imports(pkg / sub):
            if mod.split(".")[0] in WEB or (level == 0 and mod.startswith("latent_explorer.web")) or \
                    (level and mod.split(".")[0] == "web"):
                offenders.append(f"{path.relative_to(pkg)}:{line} {mod}")
    for path, line, mod, level in _imports(pkg / "web"):
        if mod.split(".")[0] in QT or (level and mod.split(".")[0] == "gui") or mod.startswith("latent_explorer.gui"):
            offenders.append(f"{path.relative_to(pkg)}:{line} {mod}")
    assert offenders == [], offenders
