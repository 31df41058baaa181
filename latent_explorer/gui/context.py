"""The small object the window's controllers share: options, worker, state, widgets, each other.

The window builds the widgets (``Views``) and the controllers; each controller owns its own
state and reaches the others' public methods through the context (``ctx.maps.select(i)``), and
tells the user things through three calls: ``error`` (the banner, or a dialog), ``message`` (the
status bar) and ``note`` (the caption under the preview).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox


@dataclass
class Views:
    """The widgets the window built (None until built: the panels are built in steps)."""

    banner: object = None
    status: object = None
    preview: object = None
    recon: object = None
    channels: object = None
    channel_panel: object = None
    tier_badge: object = None
    map: object = None
    morph: object = None
    sliders: object = None
    spatial: object = None
    slider_stack: object = None
    sliders_heading: object = None
    model_label: object = None
    legend: object = None
    temperature: object = None
    random_button: object = None
    reset_button: object = None
    copy_button: object = None
    history_panel: object = None
    bookmarks_panel: object = None
    bookmarks_dock: object = None
    skipped_panel: object = None
    skipped_dock: object = None
    skipped_link: object = None
    theory: object = None     # the Theory panel (in its dock)
    user_directions: object = None   # the user's direction sliders (above the dimensions)
    preview_column: object = None
    menus: object = None      # menus.Menus
    #: the map and slider panels exist (the second build step is done)
    built: bool = False


class Context(QObject):
    """Shared by the controllers of one window."""

    #: a message shown in the banner (tests and the screenshot command listen)
    errorShown = Signal(str)

    def __init__(self, window, options, worker, state, views: Views):
        super().__init__(window)
        self.window = window
        self.options = options
        self.worker = worker
        self.state = state
        self.views = views
        self.closing = False
        # the controllers (set by the window once they exist)
        self.models = self.previews = self.sliders = self.maps = self.morphs = None
        self.exports = self.bookmarks = self.sessions = self.training = self.readiness = self.theory = None
        self.breeding = None      # the Breed dock (controllers/breeding.py)
        self.compare = None
        self.lab = None           # the guided lab (controllers/lab.py)
        self.directions = None    # attribute directions (controllers/directions.py)
        self.learned = None       # the learned approximate preview (controllers/learned.py)

    def error(self, message: str, dialog: bool = False) -> None:
        """Say what went wrong: in the banner, and in a dialog when the user must see it now."""
        if self.views.banner is not None:
            self.views.banner.show_error(message)
        self.errorShown.emit(message)
        if dialog and not self.options.screenshot:
            box = QMessageBox(QMessageBox.Icon.Warning, "latent-explorer", message, QMessageBox.StandardButton.Ok,
                              self.window)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def message(self, text: str, ms: int = 3000) -> None:
        """A passing message in the status bar."""
        self.window.statusBar().showMessage(text, ms)

    def note(self, text: str) -> None:
        """What the preview shows now, in words (under the preview)."""
        if self.views.preview is not None:
            self.views.preview.caption.setText(text)

    def report_failure(self, failure) -> None:
        """A request failed: say so, unless its own handler already does (loads, maps, exports, settings)."""
        if not failure.handled and failure.kind not in ("load", "size", "map"):
            self.error(f"{failure.kind} failed: {failure.message}")
