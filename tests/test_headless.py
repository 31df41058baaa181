"""latent_explorer.core never imports Qt: the headless heart runs anywhere."""
import pkgutil
import subprocess
import sys

import latent_explorer.core


def test_core_imports_no_qt():
    mods = [m.name for m in pkgutil.walk_packages(latent_explorer.core.__path__, "latent_explorer.core.")]
    code = (
        "import sys, importlib\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'superqt', 'qtpy'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(mods) >= 10
    assert out.stdout.strip() == "", f"Qt modules imported by core: {out.stdout}"
