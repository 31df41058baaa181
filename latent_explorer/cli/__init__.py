"""The ``latent-explorer`` command line: lab demos, scripts and tests.

Exit codes: 0 success; 2 a user's mistake (bad argument, unusable file or model), with one
line that names the file or value; 1 an internal error. No traceback for a user's mistake.
With no arguments it opens the GUI on the default bundled model.

``options.py`` parses and bounds every option, ``paths.py`` checks inputs and outputs before
any work, ``commands.py`` holds the subcommands.
"""
from __future__ import annotations

import sys

from ..core.errors import UserError
from .commands import COMMANDS
from .options import build_parser

__all__ = ["COMMANDS", "build_parser", "gui_main", "main"]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _run_gui(args) -> int:
    from ..gui.app import run_gui

    return run_gui(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if any("\0" in a for a in argv):  # the OS never passes one; a script might
        parser.error("an argument contains a NUL character")
    args = parser.parse_args(argv)
    args.argv = argv
    command = args.command or "gui"
    try:
        if command == "gui":
            from .paths import check_gui

            check_gui(args)
            return _run_gui(args)
        return COMMANDS[command](args)
    except UserError as e:
        print(f"latent-explorer {command}: {_one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # an internal error: say so plainly, keep the traceback for a bug report
        import traceback

        traceback.print_exc()
        print(f"latent-explorer {command}: internal error: {_one_line(e)}", file=sys.stderr)
        return 1


def gui_main() -> None:
    """The ``latent-explorer-gui`` script and main.py: the ``gui`` subcommand, options from sys.argv."""
    sys.exit(main(["gui", *sys.argv[1:]]))
