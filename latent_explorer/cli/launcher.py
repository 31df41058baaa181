"""``latent-explorer install-launcher [--remove]``: the app in the desktop's application menu.

Writes a freedesktop desktop entry, ``$XDG_DATA_HOME/applications/latent-explorer.desktop``
(``~/.local/share/applications`` by default), atomically. It starts this install's
``latent-explorer`` script (``python -m latent_explorer.cli`` where there is none) with ``gui``,
and shows the bundled 256 px icon. ``--remove`` deletes it. Linux and BSD desktops only.
"""
from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

from ..core.errors import UserError

DESKTOP_FILE = "latent-explorer.desktop"
# the characters the desktop entry spec reserves in Exec arguments (those need double quotes)
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def freedesktop(platform: str | None = None) -> bool:
    """True on the platforms whose desktops read ``.desktop`` entries (Linux, the BSDs)."""
    platform = sys.platform if platform is None else platform
    return platform.startswith(("linux", "freebsd", "openbsd", "netbsd", "dragonfly", "sunos"))


def applications_dir(environ=os.environ) -> Path:
    """``$XDG_DATA_HOME/applications``; a relative XDG_DATA_HOME is ignored, as the spec says."""
    home = environ.get("XDG_DATA_HOME", "")
    if not home or not os.path.isabs(home):
        home = os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(home) / "applications"


def _escape(value: str) -> str:
    """A desktop entry string value: backslash and control characters escaped."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _exec_arg(arg: str) -> str:
    """One Exec argument, quoted where the spec asks (before the string escaping of the value)."""
    arg = arg.replace("%", "%%")
    if not _RESERVED.intersection(arg):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def launch_command() -> list[str]:
    """This install's ``latent-explorer gui``: the console script beside this Python, else ``-m``."""
    python = os.path.abspath(sys.executable)  # not resolved: a venv's python is a symlink out of it
    folders = [sysconfig.get_path("scripts"), os.path.dirname(python)]
    for folder in filter(None, folders):
        script = os.path.join(os.path.abspath(folder), "latent-explorer")
        if os.path.isfile(script) and os.access(script, os.X_OK):
            return [script, "gui"]
    return [python, "-m", "latent_explorer.cli", "gui"]


def desktop_entry(command: list[str], icon: Path) -> str:
    """The text of the desktop entry that runs ``command`` and shows ``icon``."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=latent-explorer",
        "GenericName=VAE latent space explorer",
        "Comment=Explore the latent space of Variational Autoencoders",
        "TryExec=" + _escape(command[0]),
        "Exec=" + _escape(" ".join(_exec_arg(a) for a in command)),
        "Icon=" + _escape(str(icon)),
        "Terminal=false",
        "Categories=Graphics;Education;Science;",
        "Keywords=VAE;autoencoder;latent;interpolation;machine learning;",
        "StartupNotify=true",
    ]
    return "\n".join(lines) + "\n"


def _icon() -> Path:
    from ..core.paths import resources_dir

    icon = (resources_dir() / "icons" / "latent-explorer.png").resolve()
    if not icon.is_file():
        raise UserError(f"the app's icon {icon} is missing: reinstall latent-explorer")
    return icon


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def cmd_install_launcher(a) -> int:
    if not freedesktop():
        raise UserError(f"install-launcher writes a freedesktop .desktop entry for Linux desktops; "
                        f"there is none to write on {sys.platform}")
    folder = applications_dir()
    path = folder / DESKTOP_FILE
    if a.remove:
        try:
            path.unlink()
        except FileNotFoundError:
            print(f"no launcher to remove: {path} does not exist")
            return 0
        except OSError as e:
            raise UserError(f"cannot remove {path}: {_why(e)}") from None
        print(f"removed {path}")
        return 0
    text = desktop_entry(launch_command(), _icon())
    from ..core.paths import atomic_write_text

    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: is a file, not a folder")
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise UserError(f"cannot write {path}: {_why(e)}") from None
    print(f"wrote {path}")
    return 0
