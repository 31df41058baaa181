"""The layers keep their promises: controllers never reach one another, the app layer holds the model,
the commands and the scheduler, and the docs' rule table is the one the scheduler enforces."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "latent_explorer"
CONTROLLERS = ("models", "previews", "sliders", "maps", "morphs", "exports", "bookmarks", "sessions", "training",
               "readiness", "theory", "breeding", "compare", "lab", "directions", "learned")
_ALT = "|".join(CONTROLLERS)


def _code(path: Path) -> str:
    """The file without its docstrings and comments (they may name other controllers)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'"""[\s\S]*?"""', '""', text)
    return "\n".join(line.split("#")[0] for line in text.splitlines())


def cross_references() -> set[tuple[str, str, str]]:
    """(file, other controller, name) for every ``ctx.<controller>.<name>`` in gui/controllers, and every
    ``<controller>`` taken from the context into a local name (``maps = self.ctx.maps``)."""
    refs = set()
    for p in sorted((PKG / "gui" / "controllers").glob("*.py")):
        code = _code(p)
        for m in re.finditer(rf"\b(?:self\.ctx|ctx|c)\.({_ALT})\.([A-Za-z_]\w*)", code):
            refs.add((p.name, m.group(1), m.group(2)))
        for m in re.finditer(rf"=\s*(?:self\.ctx|ctx|c)\.({_ALT})\b(?!\.)", code):
            refs.add((p.name, m.group(1), "<alias>"))
        for m in re.finditer(rf"getattr\((?:self\.ctx|ctx|c),\s*[\"']({_ALT})[\"']", code):
            refs.add((p.name, m.group(1), "<getattr>"))
    return refs


def test_no_controller_reaches_another_controllers_attributes_or_signals():
    refs = cross_references()
    assert refs == set(), "controllers talk through the application model and the commands: " + repr(sorted(refs))


def test_app_holds_the_model_the_commands_and_the_scheduler_and_gui_holds_no_scheduler():
    for name in ("model.py", "commands.py", "scheduler.py", "requests.py", "session_io.py"):
        assert (PKG / "app" / name).is_file(), name
    worker = (PKG / "gui" / "worker.py").read_text(encoding="utf-8")
    assert "from ..app.scheduler import" in worker
    assert "threading.Condition" not in worker  # the rules live in app/scheduler.py only


def test_launch_options_are_frozen():
    import dataclasses

    import pytest

    from latent_explorer.app.options import LaunchOptions

    with pytest.raises(dataclasses.FrozenInstanceError):
        LaunchOptions().images = "elsewhere"


def test_the_docs_rule_table_is_generated_from_the_rules():
    from latent_explorer.app import requests

    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = "<!-- rules-table: generated from latent_explorer/app/requests.py RULES; do not edit -->"
    end = "<!-- /rules-table -->"
    assert start in text and end in text
    table = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert table == requests.markdown_table(), ("docs/architecture.md's rule table drifted: regenerate it with "
                                                "python -c 'from latent_explorer.app.requests import markdown_table; "
                                                "print(markdown_table())'")
    for kind in requests.RULES:
        assert f"| {kind} |" in requests.__doc__
