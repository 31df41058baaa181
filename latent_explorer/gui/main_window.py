"""The main window: it builds and lays out the widgets, and composes the controllers that do the work.

map | preview, reconstruction and morph | per-dimension sliders, with History, Bookmarks and
Skipped-files docks. The window shows at once with only Qt imported; ``start()`` then creates
the controllers (``controllers/``: model, preview, sliders, map, morph, exports, bookmarks,
sessions, training, readiness; they share a ``context.Context``) and starts the worker on the
model, and the panels are built in steps from the event loop: the preview column first, the
map and sliders once pyqtgraph and superqt are imported (on the preload thread, ``preload.py``).
The window repaints and answers its menus between the steps, and a model that loads meanwhile
shows its first preview at once.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QMainWindow,
                               QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from ..app.options import LaunchOptions  # noqa: F401  (re-exported: gui.main_window.LaunchOptions)
from .context import Views
from .docks import build_docks
from .widgets.panels import heading as _heading
from .widgets.panels import panel as _panel
from .widgets.panels import placeholder as _placeholder
from .widgets.panels import slider_column
from .widgets.skipped import SkippedLink
from .widgets.status import ErrorBanner, StatusPanel
from .worker import DecodeWorker

#: the parts of the window a lab step can point at (app/lab.py TARGETS): (views or the Theory panel, attribute)
LAB_TARGETS = {"map": ("views", "map"), "preview": ("views", "preview"), "random": ("views", "random_button"),
               "temperature": ("views", "temperature"), "sliders": ("views", "slider_stack"),
               "channels": ("views", "channel_panel"), "posterior": ("theory", "post_plot"),
               "kl": ("theory", "kl_plot"), "elbo": ("theory", "elbo"), "theory_steps": ("theory", "steps"),
               "prior_check": ("theory", "prior_check")}


class MainWindow(QMainWindow):
    """The explorer's window: widgets in ``views``, work in the controllers (see the module docstring)."""

    #: model, map and first preview are all ready (once per model; see controllers/readiness.py)
    ready = Signal()

    def __init__(self, options: LaunchOptions | None = None):
        super().__init__()
        self.options = options or LaunchOptions()
        self.setWindowTitle("latent-explorer")
        if self.options.window_size:
            self.resize(*self.options.window_size)
        else:
            self.fit_to_screen(1600, 920)
        self.worker = DecodeWorker(self)
        self.views = Views()
        self.ctx = self.state = self.model = None
        self.models = self.previews = self.maps = self.morphs = None
        self.exports = self.bookmarks = self.sessions = self.training = self.readiness = self.theory = None
        self.compare = self.lab = self.breeding = None
        self.shown_at: float | None = None
        self.painted_at: float | None = None
        self._applied = None   # the model summary last applied to the built panels
        self._closing = False
        self.setAcceptDrops(True)

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 4)
        outer.setSpacing(6)
        self.views.banner = ErrorBanner()
        outer.addWidget(self.views.banner)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(8)
        self.splitter.addWidget(_placeholder("Starting latent-explorer…"))
        outer.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.views.status = StatusPanel(self.statusBar())
        self.views.skipped_link = SkippedLink()
        self.statusBar().addPermanentWidget(self.views.skipped_link)

    def size_note(self) -> str:
        """When ``--window-size`` asked for less than the window can be (its widgets' minimum), what it
        opened at instead and why; "" when the size asked for is the size it has."""
        want = self.options.window_size
        if not want:
            return ""
        w, h = want
        got = (self.width(), self.height())
        if got == (w, h):
            return ""
        least = self.minimumSizeHint().expandedTo(self.minimumSize())
        return (f"--window-size {w}x{h}: the window cannot be smaller than {least.width()}×{least.height()} "
                f"(its panels' minimum); it opened at {got[0]}×{got[1]}")

    @property
    def exit_code(self) -> int:
        return self.models.exit_code if self.models is not None else 0

    # ================================================================ start-up
    def fit_to_screen(self, width: int, height: int) -> None:
        """The preferred size, made smaller on a small screen (a laptop's 1366×768)."""
        app = QApplication.instance()
        screen = app.primaryScreen() if app is not None else None
        if screen is not None and app.platformName() != "offscreen":  # offscreen: a fixed 800×800
            avail = screen.availableGeometry()
            width = min(width, int(avail.width() * 0.96))
            height = min(height, int(avail.height() * 0.92))
        self.resize(width, height)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        if getattr(self, "fit", None) is not None:
            self.fit.apply()

    def showEvent(self, ev):
        super().showEvent(ev)
        if self.shown_at is None:
            self.shown_at = time.perf_counter()

    def start(self) -> None:
        """Compose the controllers and start the worker on the model; the panels are then built in steps
        from the event loop (``_next_step``), so the window repaints and answers its menus meanwhile."""
        from . import preload

        preload.start()
        if self.ctx is None:
            self.compose()
        o = self.options
        if o.autosave and not o.screenshot:
            self.sessions.autosave.start()
        self.worker.start()
        if o.model_object is not None:
            self.models.adopt(o.model_object)
        else:
            self.models.load(self.model.spec, first=True)   # (a recovered session may have changed it)
        self._steps = [self._build_preview_column, self._wait_for_imports, self._build_map_panel,
                       self._build_slider_panels, self._build_theory_panel, self._finish_views]
        QTimer.singleShot(0, self._next_step)

    def _next_step(self) -> None:
        if self._closing or not self._steps:
            return
        step = self._steps[0]
        try:
            done = step() is not False
        except Exception as e:  # a panel that cannot be built (a broken install): say so, never hang
            import traceback

            traceback.print_exc()
            self._steps = []
            self.ctx.error(f"The window could not be built: {type(e).__name__}: {e}", dialog=True)
            self.readiness.check(failed=True)
            return
        if not done:  # not yet: try again shortly, serving events meanwhile
            QTimer.singleShot(10, self._next_step)
            return
        self._steps.pop(0)
        QTimer.singleShot(0, self._next_step)

    def compose(self) -> None:
        """Create the controllers, the docks and the menus (``app.launch`` does it before the first paint)."""
        from ..app.model import ExplorerModel
        from .context import Context
        from .controllers.bookmarks import BookmarkController
        from .controllers.breeding import BreedController
        from .controllers.compare import CompareController
        from .controllers.directions import DirectionsController
        from .controllers.lab import LabController
        from .controllers.learned import LearnedPreviewController
        from .layout import FitLayout
        from .controllers.exports import ExportController
        from .controllers.map import MapController
        from .controllers.model import ModelController
        from .controllers.morph import MorphController
        from .presentation import Presentation
        from .controllers.preview import PreviewController
        from .controllers.readiness import Readiness
        from .controllers.sessions import SessionController
        from .controllers.sliders import SliderController
        from .controllers.theory import TheoryController
        from .controllers.training import TrainingController
        from .menus import Menus
        from .widgets.history import HistoryPanel

        o = self.options
        self.model = ExplorerModel(spec=o.model, size=o.size, device=o.device, precision=o.precision,
                                   allow_pickle=o.allow_pickle, images=o.images, map_limit=o.map_limit)
        self.state = self.model.latent
        self.ctx = c = Context(self, self.options, self.worker, self.model, self.views)
        self.worker.failed.connect(c.report_failure)
        build_docks(self, HistoryPanel(self.state))
        # the order matters where two listen to one signal: the preview asks for its decode first
        c.models = self.models = ModelController(c)
        c.maps = self.maps = MapController(c)
        c.previews = self.previews = PreviewController(c)
        c.learned = LearnedPreviewController(c)
        c.sliders = SliderController(c)
        c.morphs = self.morphs = MorphController(c)
        c.exports = self.exports = ExportController(c)
        c.bookmarks = self.bookmarks = BookmarkController(c)
        c.sessions = self.sessions = SessionController(c)
        c.training = self.training = TrainingController(c)
        c.readiness = self.readiness = Readiness(c)
        c.breeding = self.breeding = BreedController(c)  # (its dock: View → Breed)
        c.theory = self.theory = TheoryController(c)
        c.compare = self.compare = CompareController(c)
        c.lab = self.lab = LabController(c, dock=self.lab_dock)
        c.directions = DirectionsController(c)
        side = (self.docks[0], self.views.bookmarks_dock, self.lab_dock, self.directions_dock)
        self.fit = FitLayout(c, self, side)
        self.presentation = Presentation(c, self.fit)
        self.readiness.ready.connect(self.ready)
        self.views.menus = Menus(self, c)
        self.model.loaded.connect(self.show_model)
        self.model.tiers_changed.connect(self.show_model)
        self.model.load_failed.connect(self._on_load_failed)
        self.model.loaded.connect(self._note_applied)
        self.views.status.cancel.clicked.connect(c.cancelRequested)
        c.cancelRequested.connect(self.maps.cancel)
        self.views.skipped_link.clicked.connect(self.maps.show_skipped_report)

    # ================================================================ the panels, in steps
    def show_model(self, s) -> None:
        """The window's title, the model caption, the menus and the status bar for summary ``s``."""
        from .controllers.model import describe

        self.setWindowTitle(f"latent-explorer — {s.name}")
        menus = self.views.menus
        menus.show_model(s.spec)
        menus.fill_devices(s.devices, s.device)
        menus.show_working_size(s)
        menus.show_tiers(s.tiers)
        t = s.tiers
        self.views.status.set_device(f"{s.device} · {t.dtype}" if t is not None and t.lowp_supported else s.device)
        if self.views.model_label is not None:
            self.views.model_label.setText(describe(s))
        if t is not None and t.notices:
            self.ctx.show_notices(t.notices)

    def lab_target(self, name: str):
        """The widget a lab step names (None where it does not exist or is not built yet)."""
        if name == "theory":
            return getattr(self, "theory_dock", None)
        owner, attr = LAB_TARGETS[name]
        holder = self.views if owner == "views" else self.views.theory
        return None if holder is None else getattr(holder, attr, None)

    def _wait_for_imports(self) -> bool:
        """pyqtgraph and superqt are imported on the preload thread; False until they are there."""
        from . import preload

        if not (preload.ready("pyqtgraph") and preload.ready("superqt") and preload.ready("panels")):
            return False
        from . import theme

        theme.configure_pyqtgraph()
        return True

    def _build_map_panel(self) -> None:
        from .widgets.latent_map import LatentMapWidget
        from .widgets.morph import MorphStrip

        v = self.views
        v.map, v.morph = LatentMapWidget(), MorphStrip()
        left = QSplitter(Qt.Orientation.Vertical)
        left.setChildrenCollapsible(False)
        left.addWidget(_panel(v.map))
        left.addWidget(_panel(v.morph))
        left.setStretchFactor(0, 4)
        left.setStretchFactor(1, 1)
        left.setSizes([680, 170])
        self._replace_placeholder(0, left)

    def _build_slider_panels(self) -> None:
        from .widgets.direction_sliders import DirectionSliders
        from .widgets.sliders import SliderPanel
        from .widgets.spatial_sliders import SpatialSliderPanel

        v = self.views
        v.sliders, v.spatial, v.user_directions = SliderPanel(), SpatialSliderPanel(), DirectionSliders()
        v.slider_stack = QStackedWidget()
        v.slider_stack.addWidget(v.sliders)
        v.slider_stack.addWidget(v.spatial)
        self._replace_placeholder(2, slider_column(v))

    def _build_theory_panel(self) -> None:
        from .widgets.theory import TheoryPanel

        self.views.theory = TheoryPanel()
        self.theory_dock.setWidget(self.views.theory)

    def _replace_placeholder(self, i: int, widget) -> None:
        placeholder = self.splitter.widget(i)
        placeholder.setParent(None)
        placeholder.deleteLater()
        # (not QSplitter.replaceWidget: PySide6 leaves the new widget owned by Python there)
        self.splitter.insertWidget(i, widget)
        self._lay_out_columns()

    def _finish_views(self) -> None:
        """Bind the panels to the controllers; apply a model that loaded while they were built."""
        v, c = self.views, self.ctx
        c.sliders.attach()
        self.maps.attach()
        self.morphs.attach()
        self.theory.attach(self.theory_dock)
        v.map.add_overlay(self.theory.prior)     # the Theory view's drawings on the map
        v.map.add_overlay(self.theory.overlay)
        self.lab.attach(self.lab_dock.widget())
        from .widgets.map_lasso import MapLasso

        c.directions.attach(self.directions_dock.widget(), MapLasso(v.map))
        v.random_button.clicked.connect(self.previews.random_sample)
        v.reset_button.clicked.connect(self.maps.reset_to_selected)
        v.copy_button.clicked.connect(self.previews.copy_latent)
        v.morph.exportRequested.connect(self.exports.export_morph_dialog)
        self.breeding.attach()
        v.built = True
        self.fit.apply(force=True)
        c.sliders.set_enabled(False)
        if self.model.summary is not None and not self.model.loading:  # the model won the race
            self.model.loaded.emit(self.model.summary)
        elif not self.models.is_loading:  # it failed to load while the panels were being built
            self._show_no_model()

    def _build_preview_column(self) -> None:
        """The middle column (preview, reconstruction, latent channels), with placeholders beside it."""
        from .widgets.channel_view import ChannelView
        from .widgets.preview import PreviewView, ReconstructionView
        from .widgets.tier_badge import TierBadge

        v = self.views
        v.preview, v.recon, v.channels = PreviewView(), ReconstructionView(), ChannelView()
        v.tier_badge = TierBadge(v.preview.view)
        v.preview.caption.setText(self.model.caption)
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.setSpacing(8)
        ml.addWidget(_panel(_heading("Preview"), v.preview, stretch=[0, 1]), 1)
        ml.addWidget(_panel(_heading("Reconstruction"), v.recon), 0)
        v.channel_panel = _panel(_heading("Latent channels"), v.channels, stretch=[0, 1])
        v.channel_panel.hide()
        ml.addWidget(v.channel_panel, 0)
        middle.setMinimumWidth(280)
        v.preview_column = middle
        startup = self.splitter.widget(0)
        startup.setParent(None)
        startup.deleteLater()
        self.splitter.addWidget(_placeholder("Building the map…"))
        self.splitter.addWidget(middle)
        self.splitter.addWidget(_placeholder("Building the sliders…"))
        self._lay_out_columns()

    def _lay_out_columns(self) -> None:
        for i, f in enumerate((5, 3, 4)):
            self.splitter.setStretchFactor(i, f)
        self.splitter.setSizes([620, 330, 520])

    def _on_load_failed(self, message: str) -> None:
        """A model failed to open: the one before it stays, with what loading it had cancelled."""
        m = self.models
        if m.summary is None:
            if self.views.built:
                self._show_no_model()
            self.maps.done = True
            return
        self.views.menus.show_model(m.summary.spec)
        if not self.views.built:
            return  # the panels apply the current model once they are built
        if self._applied is not m.summary:  # it loaded while the panels were built: apply it now
            m.loaded.emit(m.summary)
            return
        self.views.preview.set_placeholder("")
        if self.maps.data is None and not self.maps.done:
            self.maps.build()
        else:
            self.previews.request(self.state.z, self.state.source)
        if self.morphs.keys is not None and self.views.morph.strip is None:
            self.morphs.recompute()

    def _note_applied(self, summary) -> None:
        if self.views.built:
            self._applied = summary

    def _show_no_model(self) -> None:
        self.views.preview.set_placeholder("No model loaded")
        self.views.map.show_message("No model loaded: use File → Bundled model or Open model…")

    # ================================================================ drag and drop
    @staticmethod
    def _dropped_paths(mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]

    def dragEnterEvent(self, ev) -> None:
        paths = self._dropped_paths(ev.mimeData())
        if paths and all(p.is_dir() or p.is_file() for p in paths):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev) -> None:
        self.dragEnterEvent(ev)

    def dropEvent(self, ev) -> None:
        paths = self._dropped_paths(ev.mimeData())
        if not paths or self.maps is None:
            ev.ignore()
            return
        ev.acceptProposedAction()
        self.maps.open_dropped(paths)

    # ================================================================ shutdown
    def closeEvent(self, ev) -> None:
        self.shutdown()
        super().closeEvent(ev)

    def shutdown(self) -> None:
        """Stop everything, quickly: a decode stuck in native code is left to the process exit."""
        if self._closing:
            return
        self._closing = True
        import gc

        gc.enable()  # off while the window starts (app.launch); closed before it was ready
        self.views.status.stop()
        if getattr(self, "share_dialog", None) is not None:  # the class's server ends with the window
            self.share_dialog.stop()
        if self.ctx is not None:
            self.ctx.closing = True
            self.training.stop()
            self.sessions.autosave.stop()
            self.ctx.sliders.stop()
            self.ctx.directions.stop()
            self.ctx.learned.stop()
            self.theory.stop()
            self.lab.stop()
            self.compare.stop()
            self.previews.stop()
            self.maps.stop()
            self.state.disconnect_all()
        # a decode in native code cannot be interrupted: give it a moment, then leave the thread to the
        # process exit (app.run_gui); an export being written gets the time to finish its file
        self.worker.stop(5000 if self.worker.is_busy("export") else 250)
