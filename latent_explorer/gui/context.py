"""What the window's controllers share: the application model, the commands, the worker, the widgets.

The window builds the widgets (``Views``) and the controllers. Each controller views part of the
application model (``ctx.model``, app/model.py) and calls commands (``ctx.commands``,
app/commands.py); it never reaches another controller. ``ctx.drawn`` says what has been drawn
(readiness listens). The user is told things through three calls: ``error`` (the banner, or a
dialog), ``message`` (the status bar) and ``note`` (the caption under the preview:
``model.caption``).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

from typing import TYPE_CHECKING

from psygnal import evented
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:  # (the widgets' modules import pyqtgraph: not at start-up)
    from PySide6.QtWidgets import QDockWidget, QDoubleSpinBox, QLabel, QPushButton, QStackedWidget, QWidget

    from .menus import Menus
    from .widgets.bookmarks import BookmarksPanel
    from .widgets.channel_view import ChannelView
    from .widgets.direction_sliders import DirectionSliders
    from .widgets.history import HistoryPanel
    from .widgets.latent_map import LatentMapWidget
    from .widgets.morph import MorphStrip
    from .widgets.preview import PreviewView, ReconstructionView
    from .widgets.skipped import SkippedFilesPanel, SkippedLink
    from .widgets.sliders import SliderPanel
    from .widgets.spatial_sliders import SpatialSliderPanel
    from .widgets.status import ErrorBanner, StatusPanel
    from .widgets.theory import TheoryPanel
    from .widgets.tier_badge import TierBadge


@dataclass
class Views:
    """The widgets the window built (None until built: the panels are built in steps). Each has one
    owning controller (the window for its frame: banner, status bar, menus, docks)."""

    banner: ErrorBanner | None = None
    status: StatusPanel | None = None
    preview: PreviewView | None = None            # the preview controller's
    recon: ReconstructionView | None = None       # the map controller's (the selected image)
    channels: ChannelView | None = None           # the slider controller's
    channel_panel: QWidget | None = None
    tier_badge: TierBadge | None = None           # the preview controller's
    map: LatentMapWidget | None = None            # the map controller's
    morph: MorphStrip | None = None               # the morph controller's
    sliders: SliderPanel | None = None            # the slider controller's
    spatial: SpatialSliderPanel | None = None     # the slider controller's
    slider_stack: QStackedWidget | None = None
    sliders_heading: QLabel | None = None
    model_label: QLabel | None = None
    legend: QLabel | None = None
    temperature: QDoubleSpinBox | None = None     # bound to model.temperature (slider controller)
    random_button: QPushButton | None = None
    reset_button: QPushButton | None = None
    copy_button: QPushButton | None = None
    history_panel: HistoryPanel | None = None
    bookmarks_panel: BookmarksPanel | None = None  # the bookmark controller's
    bookmarks_dock: QDockWidget | None = None
    skipped_panel: SkippedFilesPanel | None = None
    skipped_dock: QDockWidget | None = None
    skipped_link: SkippedLink | None = None
    theory: TheoryPanel | None = None             # the Theory panel (in its dock): the theory controller's
    user_directions: DirectionSliders | None = None   # your direction sliders: the directions controller's
    preview_column: QWidget | None = None
    menus: Menus | None = None
    #: the map and slider panels exist (the second build step is done)
    built: bool = False


@evented(equality_operators={"preview_image": operator.is_, "strip": operator.is_,
                              "spatial_directions": operator.is_})
@dataclass
class Drawn:
    """What the window shows (view state shared between views, not the user's work): each controller
    sets what its own widgets show, and others read it here instead of from those widgets;
    readiness (a screenshot waits for the whole picture) listens to all of it."""

    first_preview_at: float | None = None   # perf_counter() of the first preview painted
    final_seen: bool = False       # a slow decoder's full decode is on screen
    traversal_ready: bool = False  # the sliders' strips are drawn for the latent
    manifold_ready: bool = False   # the decoded manifold behind a 2-d map
    morph_pending: bool = False    # a morph was asked for and its (full) strip is not on screen yet
    strip: object = None           # the morph strip on screen (its frames: exports)
    preview_image: object = None   # the preview's image on screen (uint8 H×W×C)
    preview_final: bool | None = None   # it is a full decode (None: a fast model's, always full)
    slider_order: tuple = ()       # the dimension sliders' order (most informative first)
    slider_rows: int = 0           # how many dimension sliders there are
    spatial_directions: object = None   # a spatial latent's principal directions on its sliders


class Context(QObject):
    """Shared by the controllers of one window."""

    #: a message shown in the banner (tests and the screenshot command listen)
    errorShown = Signal(str)
    #: the status bar's Cancel was pressed (the long work that shows progress there stops)
    cancelRequested = Signal()

    def __init__(self, window, options, worker, model, views: Views):
        super().__init__(window)
        self.window = window
        self.options = options
        self.worker = worker
        #: the application model (app/model.py): what the user sees and changes
        self.model = model
        #: its current latent and undo history
        self.state = model.latent
        self.views = views
        self.drawn = Drawn()
        from ..app.commands import Commands

        #: the operations (app/commands.py); the window's views make the map and the strips themselves
        self.commands = Commands(model, worker, pipelines=False)
        model.failed.connect(self._on_failed)
        model.notice.connect(lambda text: self.message(text, 5000))

        self.closing = False
        # the controllers (set by the window once they exist)
        self.models = self.previews = self.sliders = self.maps = self.morphs = None
        self.exports = self.bookmarks = self.sessions = self.training = self.readiness = self.theory = None
        self.breeding = None      # the Breed dock (controllers/breeding.py)
        self.compare = None
        self.lab = None           # the guided lab (controllers/lab.py)
        self.directions = None    # attribute directions (controllers/directions.py)
        self.learned = None       # the learned approximate preview (controllers/learned.py)

    def _on_failed(self, what: str, message: str) -> None:
        """An operation failed: say so (a dialog where the user asked for something that did not happen)."""
        dialog = what.startswith(("Could not switch device", "Could not pair"))
        self.error(f"{what}: {message}" if what else message, dialog=dialog)

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

    # ---- the window's status bar and banner, for every controller ---------------------------
    def progress(self, text: str | None, done: int = 0, total: int = 0, cancellable: bool = False) -> None:
        """Long work in the status bar (``None``: it ended)."""
        if self.views.status is not None:
            self.views.status.set_progress(text, done, total, cancellable=cancellable)

    def preview_time(self, seconds: float) -> None:
        """How long the preview on screen took (the status bar)."""
        if self.views.status is not None:
            self.views.status.preview_shown(seconds)

    def banner(self, text: str) -> None:
        """A note in the banner that is not an error (a fallback the model made)."""
        if self.views.banner is not None:
            self.views.banner.show_error(text)

    def show_notices(self, notes: list) -> None:
        """Fallbacks the model made (fp32 after a bf16 overflow, tiles or CPU after out-of-memory)."""
        if not notes:
            return
        text = "; ".join(dict.fromkeys(str(n) for n in notes))
        self.banner(f"Note: {text}")
        self.message(text, 8000)
        s = self.model.summary
        if s is not None and s.tiers is not None and self.views.status is not None:
            self.views.status.set_device(f"{s.device} · {'float32' if 'fp32' in text else s.tiers.dtype}")

    def message(self, text: str, ms: int = 3000) -> None:
        """A passing message in the status bar."""
        self.window.statusBar().showMessage(text, ms)

    def note(self, text: str) -> None:
        """What the preview shows now, in words (``model.caption``, shown under the preview)."""
        self.model.caption = text

    def report_failure(self, failure) -> None:
        """A request failed: say so, unless its own handler already does (loads, maps, exports, settings)."""
        if not failure.handled and failure.kind not in ("load", "size", "map"):
            self.error(f"{failure.kind} failed: {failure.message}")
