"""The main window: map | preview, reconstruction and morph | per-dimension sliders.

It owns the DecodeWorker and the LatentState and wires the panels together. The window shows
at once with only Qt imported; ``start()`` then sets the worker loading the model (torch is
imported on the worker thread) while the panels (pyqtgraph, superqt) are built on the GUI
thread. Every model call goes through the worker; results come back on the GUI thread.

This module holds the window's core: its construction, docks, panels and menus, latent changes
(previews, sliders, traversals), selection and buttons, errors and readiness, and shutdown. The
rest comes from mixins: ``ModelActions`` (window_model.py: loading models, device, precision,
opening images), ``MapActions`` (window_map.py: the map, projections, morphs, blends) and
``FileActions`` (window_files.py: exports, bookmarks, sessions and autosave, training).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QEventLoop, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QMainWindow,
                               QMenu, QMessageBox, QPushButton, QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from . import window_files, window_map, window_model
from .bookmarks import BookmarksPanel
from .history import HistoryPanel
from .skipped import SkippedFilesPanel, SkippedLink
from .state import LatentState
from .status import ErrorBanner, StatusPanel
from .window_files import FileActions
from .window_map import MapActions
from .window_model import BUNDLED, LEGEND_DIMS, ModelActions
from .worker import DecodeWorker

TRAVERSAL_STEPS = 7
#: Device → Working size, for Stable Diffusion-style VAEs (multiples of their factor 8)
WORKING_SIZES = (128, 256, 384, 512, 768)
MAX_MAP_POINTS = 5000

# numpy and the worker's task functions are imported in start(), after the window is on
# screen: the window must appear within 1.5 s of launch even on a slow, busy machine.
np = tasks = spatial_tasks = None


def _import_late() -> None:
    global np, tasks, spatial_tasks
    import numpy

    from . import spatial_tasks as _spatial_tasks
    from . import tasks as _tasks
    np, tasks, spatial_tasks = numpy, _tasks, _spatial_tasks
    # the mixins' methods use the same module-level names
    window_model.np, window_model.tasks, window_model.spatial_tasks = numpy, _tasks, _spatial_tasks
    window_map.np, window_map.tasks, window_map.spatial_tasks = numpy, _tasks, _spatial_tasks
    window_files.tasks, window_files.spatial_tasks = _tasks, _spatial_tasks


@dataclass
class LaunchOptions:
    model: str = "digits"
    images: str | None = None
    device: str = "auto"
    #: full-decode precision of diffusers VAEs: "auto" is bf16 where that is fast (CUDA, a CPU
    #: with bf16 units: Device → Fast bf16 full decode), else fp32
    precision: str = "auto"
    #: working image size of Stable Diffusion-style VAEs: an int, (H, W) or "HxW" (None: 256)
    size: object = None
    allow_pickle: bool = False
    screenshot: str | None = None
    #: a ready LatentModel to use instead of loading ``model`` (tests, scripts)
    model_object: object = None
    #: build the example morph and selection once the map is ready (off in some tests)
    demo: bool = True
    #: at most this many images on the map
    map_limit: int = MAX_MAP_POINTS
    #: autosave every minute and offer to recover after a crash (off for --screenshot)
    autosave: bool = True
    #: where the autosave lives (None: the user data folder, or $LATENT_EXPLORER_DATA)
    data_dir: str | None = None
    #: the answer to "recover the autosaved session?": None asks with a dialog; True / False,
    #: or a callable returning one, answers without asking (tests, scripts)
    recover: object = None
    autosave_interval_ms: int = 60_000


def _panel(*widgets, stretch=None) -> QFrame:
    f = QFrame()
    f.setProperty("role", "panel")
    lay = QVBoxLayout(f)
    lay.setContentsMargins(10, 8, 10, 8)
    lay.setSpacing(6)
    for i, w in enumerate(widgets):
        lay.addWidget(w, (stretch or [0] * len(widgets))[i])
    return f


def _heading(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setProperty("role", "heading")
    return lab


class MainWindow(ModelActions, MapActions, FileActions, QMainWindow):
    """The explorer's window. Model, map and file actions come from the mixins (see the module docstring)."""

    #: model, map and first preview are all ready (emitted once per model)
    ready = Signal()
    #: a preview is on screen (request id)
    previewShown = Signal(int)
    modelLoaded = Signal(object)
    mapReady = Signal(object)
    stripReady = Signal(object)
    errorShown = Signal(str)
    #: an export was written (its path)
    exported = Signal(str)
    #: a session was put back (the notes on what could not be)
    sessionRestored = Signal(list)

    def __init__(self, options: LaunchOptions | None = None):
        super().__init__()
        self.options = options or LaunchOptions()
        self.setWindowTitle("latent-explorer")
        self._fit_to_screen(1600, 920)
        self.state = LatentState()
        self.worker = DecodeWorker(self)
        self.projector: DecodeWorker | None = None   # t-SNE / UMAP: long, no model, own thread
        self.worker.failed.connect(self._on_failure)
        self.worker.progress.connect(self._on_progress)
        self.summary: tasks.ModelSummary | None = None
        self.map_data: tasks.MapData | None = None
        self.selected: int | None = None
        self.views_built = False       # the map and slider panels exist (see _build_views)
        self.preview = None            # the preview column exists from the first step of _build_views
        self.exit_code = 0
        self.shown_at: float | None = None
        self.first_preview_at: float | None = None
        self._warm_up_pending = False
        self._loading = False
        self._map_done = False
        self._ready_sent = False
        self._closing = False
        self._seed = 0
        self.slow = False              # the model's full decode takes seconds: tiered previews (tiered.py)
        self.spatial_mode = False      # C×h×w latents: direction and channel sliders, channel view
        self._final_seen = False       # a slow decoder's full decode has been shown (screenshots wait for it)
        self._directions_for = None    # the map latents the spatial sliders' directions were fitted on
        self._strip_keys = None
        self._strip_desc = ""
        self._last_traversal_z = None
        self._traversal_ready = False
        self._manifold_ready = False
        self.model_hash: str | None = None     # weights hash of the current model ("" if it has none)
        self.bookmarks: list = []              # core.session.Bookmark
        self.session_path: str | None = None
        self._pending_session = None           # a session to apply once its model and map are up
        self.session_notes: list[str] = []
        self.autosave = None
        self.autosaver = None
        self.train_dialog = None
        self.recovered = False
        self.setAcceptDrops(True)

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 4)
        outer.setSpacing(6)
        self.banner = ErrorBanner()
        outer.addWidget(self.banner)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(8)
        self.startup = QLabel("Starting latent-explorer…")
        self.startup.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.startup.setProperty("role", "muted")
        self.splitter.addWidget(self.startup)
        outer.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.status = StatusPanel(self.statusBar())
        self.status.cancel.clicked.connect(self.cancel_map)
        self.skipped_link = SkippedLink()
        self.skipped_link.clicked.connect(self.show_skipped_report)
        self.statusBar().addPermanentWidget(self.skipped_link)
        self._build_docks()
        self._build_menus()

    def _build_docks(self) -> None:
        """History and bookmarks (tabbed, right), the skipped-files report (bottom, on demand)."""
        self.history_panel = HistoryPanel(self.state)
        self.bookmarks_panel = BookmarksPanel()
        self.bookmarks_panel.jumpRequested.connect(self.go_to_bookmark)
        self.bookmarks_panel.addRequested.connect(self.bookmark_dialog)
        self.bookmarks_panel.removeRequested.connect(self.remove_bookmark)
        self.skipped_panel = SkippedFilesPanel()
        self.history_dock = self._dock("History", "HistoryDock", self.history_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.bookmarks_dock = self._dock("Bookmarks", "BookmarksDock", self.bookmarks_panel,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.history_dock, self.bookmarks_dock)
        self.history_dock.raise_()
        self.skipped_dock = self._dock("Skipped files", "SkippedDock", self.skipped_panel,
                                       Qt.DockWidgetArea.BottomDockWidgetArea)
        self.skipped_dock.hide()
        self.resizeDocks([self.history_dock], [185], Qt.Orientation.Horizontal)

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(name)
        d.setWidget(widget)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                      | QDockWidget.DockWidgetFeature.DockWidgetMovable
                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, d)
        return d

    # ================================================================ startup
    def _fit_to_screen(self, width: int, height: int) -> None:
        """The preferred size, made smaller on a small screen (a laptop's 1366×768)."""
        app = QApplication.instance()
        screen = app.primaryScreen() if app is not None else None
        if screen is not None and app.platformName() != "offscreen":  # offscreen: a fixed 800×800
            avail = screen.availableGeometry()
            width = min(width, int(avail.width() * 0.96))
            height = min(height, int(avail.height() * 0.92))
        self.resize(width, height)

    def showEvent(self, ev):
        super().showEvent(ev)
        if self.shown_at is None:
            self.shown_at = time.perf_counter()

    def start(self) -> None:
        """Start the worker on the model, then build the panels (pyqtgraph) meanwhile."""
        _import_late()
        if self.options.autosave and not self.options.screenshot:
            self._start_autosave()
        self.worker.start()
        if self.options.model_object is not None:
            self.worker._model = self.options.model_object
            self._loading = True
            self.worker.submit("load", lambda ctx: tasks.summarize(ctx.model), on_result=self._on_model_loaded,
                               on_error=self._on_load_failed)
        else:
            self.load_model(self.options.model, first=True)
        self._build_views()

    def _build_views(self) -> None:
        """Build the panels in two steps: the preview column first (plain Qt, at once), then the map
        and the sliders (pyqtgraph and superqt: about a second of imports on a small CPU). Between
        the steps queued events are served (not user input), so a model that loads meanwhile shows
        its first preview at once instead of waiting for the rest of the window."""
        self._build_preview_column()
        if not self._pump():
            return
        from . import theme
        theme.configure_pyqtgraph()  # imports pyqtgraph
        if not self._pump():
            return
        from superqt.utils import qdebounced, qthrottled

        from .latent_map import LatentMapWidget
        from .morph import MorphStrip
        from .sliders import SliderPanel
        from .spatial_sliders import SpatialSliderPanel

        if not self._pump():
            return
        self.map = LatentMapWidget()
        self.morph = MorphStrip()
        self.sliders = SliderPanel()
        # spatial latents (C×h×w): principal-direction and channel sliders instead, and the channels as images
        self.spatial = SpatialSliderPanel()
        self.slider_stack = QStackedWidget()
        self.slider_stack.addWidget(self.sliders)
        self.slider_stack.addWidget(self.spatial)

        self.model_label = QLabel("loading model…")
        self.model_label.setProperty("role", "caption")
        self.model_label.setWordWrap(True)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("decode z ~ N(0, T²·I) (Space)")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 3.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(1.0)
        self.temperature.setPrefix("T ")
        self.temperature.setToolTip("temperature: the prior's standard deviation for random samples")
        self.reset_button = QPushButton("Reset to μ")
        self.reset_button.setToolTip("back to the selected image's posterior mean μ")
        self.copy_button = QPushButton("Copy z")
        self.copy_button.setToolTip("copy the current latent to the clipboard as text")
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.random_button)
        buttons.addWidget(self.temperature)
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.copy_button)
        bw = QWidget()
        bw.setLayout(buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        self.legend = legend = QLabel(LEGEND_DIMS)
        legend.setProperty("role", "caption")
        legend.setWordWrap(True)

        left = QSplitter(Qt.Orientation.Vertical)
        left.setChildrenCollapsible(False)
        left.addWidget(_panel(self.map))
        left.addWidget(_panel(self.morph))
        left.setStretchFactor(0, 4)
        left.setStretchFactor(1, 1)
        left.setSizes([680, 170])
        self.sliders_heading = _heading("Latent dimensions")
        right = _panel(self.sliders_heading, self.model_label, bw, self.slider_stack, legend,
                       stretch=[0, 0, 0, 1, 0])
        right.setMinimumWidth(380)
        for i, w in ((0, left), (2, right)):  # in place of the "building…" placeholders
            placeholder = self.splitter.widget(i)
            placeholder.setParent(None)
            placeholder.deleteLater()
            # (not QSplitter.replaceWidget: PySide6 leaves the new widget owned by Python there)
            self.splitter.insertWidget(i, w)
        self._lay_out_columns()

        # throttled / debounced follow-ups of a latent change
        self._move_marker = qthrottled(self._update_marker, 30)
        self._traverse_later = qdebounced(self._request_traversal, 120)
        self._commit_later = qdebounced(self.state.commit, 400)
        self._manifold_later = qdebounced(self._request_manifold, 120)
        self._channels_later = qthrottled(self._update_channels, 40)
        self._timers = [self._move_marker, self._traverse_later, self._commit_later, self._manifold_later,
                        self._channels_later]

        self.state.connect(self._on_state_changed)
        self.sliders.valueEdited.connect(self._on_slider_edited)
        self.spatial.latentEdited.connect(self._on_spatial_edited)
        self.map.pointClicked.connect(lambda i, mods: self.select(i))
        self.map.placeClicked.connect(self._on_place_clicked)
        self.map.morphMoved.connect(self._on_morph_moved)
        self.map.morphDropped.connect(self._on_morph_dropped)
        self.map.blendMoved.connect(self._on_blend)
        self.map.projectionChanged.connect(self.set_projection)
        self.map.visibleRangeChanged.connect(lambda *a: self._manifold_later())
        self.map.manifoldToggled.connect(lambda on: on and self._manifold_later())
        self.morph.frameScrubbed.connect(self._on_scrub)
        self.morph.settingsChanged.connect(self._recompute_strip)
        self.morph.exportRequested.connect(self._export_morph_dialog)
        self.random_button.clicked.connect(self.random_sample)
        self.reset_button.clicked.connect(self.reset_to_selected)
        self.copy_button.clicked.connect(self.copy_latent)
        self.views_built = True
        self._set_controls_enabled(False)
        if self.summary is not None:  # the model won the race
            self._apply_model(self.summary)
        elif not self._loading:  # it failed to load while the panels were being built
            self._show_no_model()

    def _show_no_model(self) -> None:
        self.preview.set_placeholder("No model loaded")
        self.map.show_message("No model loaded: use File → Bundled model or Open model…")

    def _build_preview_column(self) -> None:
        """The middle column (preview, reconstruction, latent channels), with placeholders beside it."""
        from .channel_view import ChannelView
        from .preview import PreviewView, ReconstructionView
        from .tiered import TierBadge, TieredPreviewer

        self.preview = PreviewView()
        self.recon = ReconstructionView()
        self.channels = ChannelView()
        # slow decoders: approximate preview at once, the full decode when the user pauses
        self.tiered = TieredPreviewer(self.worker, self._show_tiered_frame, parent=self)
        self.tiered.notices.connect(self._show_notices)
        self.tier_badge = TierBadge(self.preview.view)
        self.preview_heading = _heading("Preview")
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.setSpacing(8)
        ml.addWidget(_panel(self.preview_heading, self.preview, stretch=[0, 1]), 1)
        ml.addWidget(_panel(_heading("Reconstruction"), self.recon), 0)
        self.channel_panel = _panel(_heading("Latent channels"), self.channels, stretch=[0, 1])
        self.channel_panel.hide()
        ml.addWidget(self.channel_panel, 0)
        middle.setMinimumWidth(280)
        self.startup.setParent(None)
        self.startup.deleteLater()
        for text in ("Building the map…", None, "Building the sliders…"):
            if text is None:
                self.splitter.addWidget(middle)
                continue
            ph = QLabel(text)
            ph.setAlignment(Qt.AlignmentFlag.AlignCenter)
            ph.setProperty("role", "muted")
            self.splitter.addWidget(_panel(ph))
        self._lay_out_columns()

    def _lay_out_columns(self) -> None:
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 4)
        self.splitter.setSizes([620, 330, 520])

    def _pump(self) -> bool:
        """Serve queued events (a loaded model, worker results, timers; not user input) while the
        panels are being built; False when the window was closed meanwhile."""
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        return not self._closing

    def _set_controls_enabled(self, on: bool) -> None:
        for w in (self.random_button, self.reset_button, self.copy_button, self.temperature, self.sliders,
                  self.spatial):
            w.setEnabled(on)
        self.reset_button.setEnabled(on and self.selected is not None)

    # ================================================================ menus
    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.model_group = QActionGroup(self)
        mm = f.addMenu("Bundled &model")
        self.model_actions = {}
        for name in BUNDLED:
            a = QAction(name, self, checkable=True)
            a.triggered.connect(lambda _=False, n=name: self.load_model(n))
            self.model_group.addAction(a)
            mm.addAction(a)
            self.model_actions[name] = a
        f.addAction("Open model &folder…", self._open_model_folder)
        f.addAction("Open model f&ile (.safetensors)…", self._open_model_file)
        f.addAction("Open model by &spec or hub id…", self._open_model_spec)
        self.pair_action = f.addAction("Pair a &TAESD preview decoder…", self._pair_preview_dialog)
        self.pair_action.setToolTip("use a TAESD (AutoencoderTiny) folder for the fast preview while you drag")
        self.pair_action.setEnabled(False)
        f.addSeparator()
        f.addAction("Open &images folder for the map…", QKeySequence("Ctrl+I"), self._open_images)
        f.addAction("Open image fi&les for the map…", self._open_image_files)
        f.addAction("&Train a VAE on your images…", QKeySequence("Ctrl+T"), self.open_train_dialog)
        f.addSeparator()
        f.addAction("&Open session…", QKeySequence("Ctrl+O"), self._open_session_dialog)
        f.addAction("Save sessio&n", QKeySequence("Ctrl+S"), self._save_session_quick)
        f.addAction("Save session &as…", QKeySequence("Ctrl+Shift+S"), self._save_session_dialog)
        f.addSeparator()
        self.save_preview_action = f.addAction("Save &preview as PNG…", self._save_preview_dialog)
        f.addAction("Export t&raversal grid…", self._export_traversal_dialog)
        f.addAction("Export sample &grid…", self._export_samples_dialog)
        self.export_action = f.addAction("&Export morph…", lambda: self._export_morph_dialog())
        f.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        f.addAction(quit_action)

        e = mb.addMenu("&Edit")
        self.undo_action = QAction("&Undo latent edit", self)
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.undo_action.triggered.connect(self.undo)
        self.redo_action = QAction("&Redo latent edit", self)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.triggered.connect(self.redo)
        e.addAction(self.undo_action)
        e.addAction(self.redo_action)
        e.addSeparator()
        self.copy_image_action = e.addAction("Copy &image", QKeySequence.StandardKey.Copy, self.copy_image)
        e.addAction("&Copy latent as text", QKeySequence("Ctrl+Shift+C"), self.copy_latent)
        e.addAction("&Bookmark current latent…", QKeySequence("Ctrl+D"), self.bookmark_dialog)
        e.addAction("Random &sample", QKeySequence("Space"), self.random_sample)
        e.addAction("Reset to &selected image", QKeySequence("Ctrl+R"), self.reset_to_selected)
        e.addAction("Clear &pins", QKeySequence("Escape"), lambda: self.views_built and self.map.clear_pins())

        v = mb.addMenu("&View")
        for dock in (self.history_dock, self.bookmarks_dock, self.skipped_dock):
            v.addAction(dock.toggleViewAction())

        self.device_menu = mb.addMenu("&Device")
        self.device_group = QActionGroup(self)
        self.lowp_action = QAction("Fast &bf16 full decode (reduced precision)", self, checkable=True)
        self.lowp_action.setEnabled(False)
        self.lowp_action.toggled.connect(self.set_reduced_precision)
        self.size_menu = QMenu("Working &size", self)
        self.size_menu.setToolTip("the image size a Stable Diffusion-style VAE works at: more detail, slower")
        self.size_group = QActionGroup(self)
        for n in WORKING_SIZES:
            a = QAction(f"{n} × {n} px" + (" (default)" if n == 256 else ""), self, checkable=True)
            a.setData(n)
            a.triggered.connect(lambda _=False, n=n: self.set_working_size(n))
            self.size_group.addAction(a)
            self.size_menu.addAction(a)
        self.size_menu.setEnabled(False)
        h = mb.addMenu("&Help")
        h.addAction("How a &VAE works", self._show_vae_help)
        h.addAction("&About", lambda: QMessageBox.about(self, "latent-explorer",
                                                          "latent-explorer: explore the latent space of VAEs."))

    def _fill_device_menu(self, devices: list[str], current: str) -> None:
        self.device_menu.clear()
        for a in self.device_group.actions():
            self.device_group.removeAction(a)
        for d in devices:
            a = QAction(d.upper() if d != "cpu" else "CPU", self, checkable=True)
            a.setChecked(d == current.split(":")[0])
            a.triggered.connect(lambda _=False, dev=d: self.set_device(dev))
            self.device_group.addAction(a)
            self.device_menu.addAction(a)
        self.device_menu.addSeparator()
        self.device_menu.addAction(self.lowp_action)
        self.device_menu.addMenu(self.size_menu)

    def _show_vae_help(self) -> None:
        QMessageBox.information(self, "How a VAE works", (
            "The encoder maps an image to a distribution, not a point: a mean μ and a log-variance "
            "log σ² per latent dimension.\n\nSampling uses z = μ + σ·ε with ε ~ N(0, I), so gradients flow "
            "through μ and σ. The decoder maps z back to an image.\n\nLoss = reconstruction error + β · KL(q(z|x) ‖ "
            "N(0, I)); the KL per dimension is −½ (1 + log σ² − μ² − σ²) nats. Dimensions with ~0 KL are unused.\n\n"
            "Decoding samples from N(0, I) makes new images; nearby latents decode to similar images."))

    # ================================================================ latent changes
    def _on_state_changed(self, origin) -> None:
        z = self.state.z
        # the decode first: the worker runs it while the GUI thread updates everything else
        if not getattr(self, "_have_image", False):
            self._request_preview(z, self.state.source)
        if origin is not self.sliders:
            self.sliders.set_values(z)
        if self.spatial_mode:
            if origin is not self.spatial:
                self.spatial.set_latent(z)
            self._channels_later()
        self._move_marker()
        self._traverse_later()
        self.undo_action.setEnabled(True)

    def _set_latent(self, z, source: str, origin=None, commit: bool = True, image=None, rid: int = 0,
                    seconds: float = 0.0, final: bool = True) -> None:
        """Make ``z`` the current latent; decode it unless its ``image`` is already known (``final``:
        a full decode; else an approximate one, which a slow decoder replaces when the user pauses)."""
        self._have_image = image is not None
        try:
            self.state.set(z, source, origin=origin, commit=commit)
        finally:
            self._have_image = False
        if image is not None and self.slow:
            self.tiered.request(self.state.z, source, image=image, final=final, seconds=seconds)
        elif image is not None:
            self._show_preview_image(image, rid, source, seconds)
        if not commit:
            self._commit_later()

    def _request_preview(self, z, caption: str) -> int:
        if self._loading or self._closing or z is None:
            return -1
        if self.slow:  # approximate now, full decode when the user pauses
            return self.tiered.request(z, caption)
        return self.worker.submit("preview", tasks.decode, z, on_result=lambda d: self._on_preview(d, caption))

    def _preview_before_panels(self, s: tasks.ModelSummary) -> None:
        """The model loaded while the map and sliders are still being built: decode the prior's
        mean z = 0 now (the latent ``_apply_model`` starts from), so the preview is not kept waiting."""
        z = np.zeros(s.latent_shape, np.float32)
        caption = "the prior's mean z = 0"
        if s.tiers is not None and s.tiers.slow:  # its approximate preview; the full one comes later
            self.worker.submit("preview", spatial_tasks.approx, z, on_result=lambda d: self._show_tiered_frame(
                d.image, self.worker.latest_id("preview") or 0, caption, d.seconds, False))
        else:
            self.worker.submit("preview", tasks.decode, z, on_result=lambda d: self._on_preview(d, caption))
        self._note(caption)

    def _on_preview(self, d: tasks.Decoded, caption: str) -> None:
        self._show_preview_image(d.image, self.worker.latest_id("preview") or 0, caption, d.seconds)

    def _show_tiered_frame(self, image, rid: int, caption: str, seconds: float, final: bool) -> None:
        self.tier_badge.set_tier(final, seconds, pending=not final)
        if final:
            self._final_seen = True
        self._show_preview_image(image, rid, caption, seconds)

    def _show_preview_image(self, image, rid: int, caption: str, seconds: float) -> None:
        self.preview.show_image(image, rid)
        self.status.preview_shown(seconds)
        if self.first_preview_at is None:
            self.first_preview_at = time.perf_counter()
        if self._warm_up_pending:  # the model's first preview is out: now its fast small decodes
            self._warm_up_pending = False
            self.worker.submit("warm", tasks.warm_up)
        self.previewShown.emit(rid)
        self._check_ready()

    def _note(self, text: str) -> None:
        """What the preview shows now, in words (under the preview)."""
        self.preview.caption.setText(text)

    def _on_slider_edited(self, dim: int, value: float) -> None:
        if self.state.z is None:
            return
        self.state.set_dim(dim, value, origin=self.sliders)
        self._note("edited with the sliders")
        self._commit_later()

    def _update_marker(self) -> None:
        if self.map_data is None or self.state.z is None:
            return
        self.map.set_current(self.map_data.projection.locate(self.state.z.reshape(-1)))

    def _request_traversal(self) -> None:
        spatial = self.spatial_mode and self.spatial.directions is not None
        if self._closing or self._loading or self.state.z is None or not (self.sliders.rows or spatial):
            return
        z = self.state.z
        if self._last_traversal_z is not None and np.array_equal(z, self._last_traversal_z):
            return
        self._last_traversal_z = z.copy()
        if spatial:  # each principal direction swept over its slider range
            self.worker.submit("traversal", spatial_tasks.direction_strips, z, self.spatial.directions,
                               TRAVERSAL_STEPS, on_result=self._on_direction_strips)
            return
        self.worker.submit("traversal", tasks.traversal, z, TRAVERSAL_STEPS, 3.0,
                           on_result=self._on_traversal)

    def _on_direction_strips(self, strips) -> None:
        self.spatial.set_traversals(strips)
        self._traversal_ready = True
        self._check_ready()

    def _on_traversal(self, strips) -> None:
        self.sliders.set_traversals(strips)
        self._traversal_ready = True
        self._check_ready()

    # ================================================================ selection & buttons
    def select(self, i: int) -> None:
        d = self.map_data
        if d is None:
            return
        self.selected = i
        self.state.selected = i
        self.map.set_selected(i)
        self.sliders.set_posterior(d.mean[i], d.logvar[i] if d.logvar is not None else None)
        self.reset_button.setEnabled(True)
        lab = "" if d.labels is None else f"label {int(d.labels[i])} · "
        if np.isnan(d.recon_error[i]):  # a slow decoder: the map skipped decoding every image
            self.recon.set_selected(i, d.images[i], f"{lab}image #{i} · decoding its reconstruction…")
            self.worker.submit("recon", spatial_tasks.final, d.mean[i],
                               on_result=lambda r, i=i: self._on_slow_recon(i, r))
        else:
            self.recon.set_selected(i, d.images[i], f"{lab}image #{i} · reconstruction error {d.recon_error[i]:.4f}")
            self.worker.submit("recon", tasks.decode, d.mean[i],
                               on_result=lambda r, i=i: self.recon.set_reconstruction(i, r.image))
        self._note(f"image {self._label(i)}: its posterior mean μ decoded")
        self._set_latent(d.mean[i], f"image {self._label(i)}")

    def _on_slow_recon(self, i: int, r) -> None:
        d = self.map_data
        if d is None or i >= len(d.images):
            return
        self._show_notices(r.extra.get("notices") or [])
        err = float((((r.image.astype(np.float32) - d.images[i].astype(np.float32)) / 255.0) ** 2).mean())
        d.recon_error[i] = err
        lab = "" if d.labels is None else f"label {int(d.labels[i])} · "
        self.recon.set_reconstruction(i, r.image, f"{lab}image #{i} · reconstruction error {err:.4f}")

    def reset_to_selected(self) -> None:
        if self.selected is not None and self.map_data is not None:
            self.select(self.selected)

    def random_sample(self) -> None:
        if self.summary is None or self._loading:
            return
        self._seed += 1
        t = self.temperature.value()
        seed = self._seed
        if self.slow:  # draw the latent only; the tiered preview decodes it
            self.worker.submit("sample", spatial_tasks.sample_latent, seed, t,
                               on_result=lambda z: self._on_sample_latent(z, seed, t))
            return
        self.worker.submit("preview", tasks.sample, seed, t, on_result=lambda d: self._on_sample(d, seed, t))

    def _on_sample_latent(self, z, seed: int, t: float) -> None:
        self._note(f"random sample (T {t:.2f}, seed {seed})")
        self._set_latent(z, f"random sample T {t:.2f} seed {seed}")

    def _on_sample(self, d: tasks.Decoded, seed: int, t: float) -> None:
        self._note(f"random sample (T {t:.2f}, seed {seed})")
        self._set_latent(d.z, f"random sample T {t:.2f} seed {seed}", image=d.image,
                         rid=self.worker.latest_id("preview") or 0, seconds=d.seconds)

    def copy_image(self) -> None:
        """The preview on the clipboard, scaled up by a whole factor (pixels stay crisp)."""
        from .imaging import to_qimage, upscale

        img = self.preview.image if self.views_built else None
        if img is None:
            return
        QApplication.clipboard().setImage(to_qimage(upscale(img, 256)))
        self.statusBar().showMessage("preview image copied to the clipboard", 2000)

    def copy_latent(self) -> None:
        text = self.state.as_text()
        if text:
            QApplication.clipboard().setText(text)
            self.statusBar().showMessage("latent copied to the clipboard", 2000)

    def undo(self) -> None:
        if self.state.undo():
            self._note(f"undo: {self.state.source}")

    def redo(self) -> None:
        if self.state.redo():
            self._note(f"redo: {self.state.source}")

    # ================================================================ errors & readiness
    def _on_failure(self, failure) -> None:
        if failure.kind == "load":
            return  # handled by _on_load_failed with a dialog
        if failure.kind == "map":
            return
        self.show_error(f"{failure.kind} failed: {failure.message}")

    def show_error(self, message: str, dialog: bool = False) -> None:
        self.banner.show_error(message)
        self.errorShown.emit(message)
        if dialog and not self.options.screenshot:
            box = QMessageBox(QMessageBox.Icon.Warning, "latent-explorer", message, QMessageBox.StandardButton.Ok,
                              self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def is_ready(self) -> bool:
        if self.summary is None or not self._map_done or self.first_preview_at is None:
            return False
        if self._loading:
            return False
        if self.options.demo and self.map_data is not None:
            if self.sliders.rows and not self._traversal_ready:
                return False
            if self.spatial_mode and (self.spatial.directions is None or not self._traversal_ready):
                return False
            if self.slow and (not self._final_seen or not getattr(self.morph.strip, "final", True)):
                return False
            if self._strip_keys is not None and self.morph.strip is None:
                return False
            if self.map_data.projection.method == "identity" and not self._manifold_ready:
                return False
        return True

    def _check_ready(self, failed: bool = False) -> None:
        if self._ready_sent:
            return
        if failed or self.is_ready():
            self._ready_sent = True
            self.ready.emit()

    # ================================================================ shutdown
    def closeEvent(self, ev) -> None:
        self.shutdown()
        super().closeEvent(ev)

    def shutdown(self) -> None:
        if self._closing:
            return
        self._closing = True
        import gc

        gc.enable()  # off while the window starts (app.launch); closed before it was ready
        self.status.stop()
        if self.train_dialog is not None:
            self.train_dialog.shutdown()
        if self.autosaver is not None:
            self.autosaver.stop(clean=True)
        for t in getattr(self, "_timers", []):
            t.cancel()
            t.flush(restart_timer=False)  # nothing pending now: this just stops its QTimer
        if self.preview is not None:
            self.tiered.stop()
        self.state.disconnect_all()
        if self.projector is not None:
            self.projector.stop(200)
        self.worker.stop(1500)
