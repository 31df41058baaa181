"""The main window: map | preview, reconstruction and morph | per-dimension sliders.

It owns the DecodeWorker and the LatentState and wires the panels together. The window shows
at once with only Qt imported; ``start()`` then sets the worker loading the model (torch is
imported on the worker thread) while the panels (pyqtgraph, superqt) are built on the GUI
thread. Every model call goes through the worker; results come back on the GUI thread.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QDoubleSpinBox, QFileDialog, QFrame, QHBoxLayout,
                               QInputDialog, QLabel, QMainWindow, QMessageBox, QPushButton, QSplitter, QStackedWidget,
                               QVBoxLayout, QWidget)

from .bookmarks import BookmarksPanel
from .history import HistoryPanel
from .skipped import SkippedFilesPanel, SkippedLink
from .state import LatentState
from .status import ErrorBanner, StatusPanel
from .worker import DecodeWorker

BUNDLED = ("digits", "digits-2d", "shapes")
TRAVERSAL_STEPS = 7
MANIFOLD_TILE_PX = 34
MAX_MAP_POINTS = 5000
LEGEND_DIMS = ("sliders span the prior's ±3 · blue band: selected image's μ ± σ · "
               "badge: KL in nats (sorted; grey = unused) · strip: that dimension swept −3 → +3")
LEGEND_SPATIAL = ("PC sliders: principal directions of the encoded images, each spanning ±3 std of the images "
                  "along it · badge: share of their variance · strip: that direction swept · channels: offset "
                  "shifts a channel, gain scales it about its mean")

# numpy and the worker's task functions are imported in start(), after the window is on
# screen: the window must appear within 1.5 s of launch even on a slow, busy machine.
np = tasks = spatial_tasks = None


def _import_late() -> None:
    global np, tasks, spatial_tasks
    import numpy

    from . import spatial_tasks as _spatial_tasks
    from . import tasks as _tasks
    np, tasks, spatial_tasks = numpy, _tasks, _spatial_tasks


@dataclass
class LaunchOptions:
    model: str = "digits"
    images: str | None = None
    device: str = "auto"
    #: full-decode precision of diffusers VAEs: "auto" is bf16 where that is fast (CUDA, a CPU
    #: with bf16 units: Device → Fast bf16 full decode), else fp32
    precision: str = "auto"
    #: working image size of Stable Diffusion-style VAEs (None: 256)
    size: int | None = None
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


class MainWindow(QMainWindow):
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
        self.views_built = False
        self.exit_code = 0
        self.shown_at: float | None = None
        self.first_preview_at: float | None = None
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
        from superqt.utils import qdebounced, qthrottled

        from . import theme
        theme.configure_pyqtgraph()
        from .latent_map import LatentMapWidget
        from .morph import MorphStrip
        from .channel_view import ChannelView
        from .preview import PreviewView, ReconstructionView
        from .sliders import SliderPanel
        from .spatial_sliders import SpatialSliderPanel
        from .tiered import TierBadge, TieredPreviewer

        self.map = LatentMapWidget()
        self.preview = PreviewView()
        self.recon = ReconstructionView()
        self.morph = MorphStrip()
        self.sliders = SliderPanel()
        # spatial latents (C×h×w): principal-direction and channel sliders instead, and the channels as images
        self.spatial = SpatialSliderPanel()
        self.slider_stack = QStackedWidget()
        self.slider_stack.addWidget(self.sliders)
        self.slider_stack.addWidget(self.spatial)
        self.channels = ChannelView()
        # slow decoders: approximate preview at once, the full decode when the user pauses
        self.tiered = TieredPreviewer(self.worker, self._show_tiered_frame, parent=self)
        self.tiered.notices.connect(self._show_notices)
        self.tier_badge = TierBadge(self.preview.view)

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

        self.preview_heading = _heading("Preview")
        left = QSplitter(Qt.Orientation.Vertical)
        left.setChildrenCollapsible(False)
        left.addWidget(_panel(self.map))
        left.addWidget(_panel(self.morph))
        left.setStretchFactor(0, 4)
        left.setStretchFactor(1, 1)
        left.setSizes([680, 170])
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.setSpacing(8)
        ml.addWidget(_panel(self.preview_heading, self.preview, stretch=[0, 1]), 1)
        ml.addWidget(_panel(_heading("Reconstruction"), self.recon), 0)
        self.channel_panel = _panel(_heading("Latent channels"), self.channels, stretch=[0, 1])
        self.channel_panel.hide()
        ml.addWidget(self.channel_panel, 0)
        self.sliders_heading = _heading("Latent dimensions")
        right = _panel(self.sliders_heading, self.model_label, bw, self.slider_stack, legend,
                       stretch=[0, 0, 0, 1, 0])
        self.startup.setParent(None)
        self.startup.deleteLater()
        for w in (left, middle, right):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 4)
        self.splitter.setSizes([620, 330, 520])
        middle.setMinimumWidth(280)
        right.setMinimumWidth(380)

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

    def _show_vae_help(self) -> None:
        QMessageBox.information(self, "How a VAE works", (
            "The encoder maps an image to a distribution, not a point: a mean μ and a log-variance "
            "log σ² per latent dimension.\n\nSampling uses z = μ + σ·ε with ε ~ N(0, I), so gradients flow "
            "through μ and σ. The decoder maps z back to an image.\n\nLoss = reconstruction error + β · KL(q(z|x) ‖ "
            "N(0, I)); the KL per dimension is −½ (1 + log σ² − μ² − σ²) nats. Dimensions with ~0 KL are unused.\n\n"
            "Decoding samples from N(0, I) makes new images; nearby latents decode to similar images."))

    # ================================================================ model
    def load_model(self, spec: str, first: bool = False) -> None:
        self._loading = True
        self.worker.cancel_all()
        if self.projector is not None:
            self.projector.cancel_all()
        self._model_spec = spec
        self.status.set_progress(f"loading {spec}…", 0, 0)
        if self.views_built:
            self.preview.set_placeholder(f"Loading {spec}…")
        self.worker.submit("load", tasks.load, spec, self.options.device if first else "auto",
                           self.options.precision, self.options.allow_pickle, self.options.size,
                           on_result=self._on_model_loaded, on_error=self._on_load_failed)

    def _on_model_loaded(self, summary: tasks.ModelSummary) -> None:
        self._loading = False
        self.summary = summary
        self.model_hash = None
        self.worker.submit("hash", tasks.model_hash, on_result=self._on_model_hash)
        self.status.set_progress(None)
        self.modelLoaded.emit(summary)
        if self.views_built:
            self._apply_model(summary)

    def _on_load_failed(self, failure) -> None:
        self._loading = False
        self.status.set_progress(None)
        msg = failure.message
        pending = self._pending_session
        if pending is not None and pending.model_spec != BUNDLED[0] and (
                self.summary is None or self.summary.spec != pending.model_spec):
            # the session's model is missing: say so, and open what we can on another model
            self.session_notes.append(f"the session's model {pending.model_spec!r} could not be loaded ({msg})")
            if self.summary is None:
                self.options.images = None
                self.load_model(BUNDLED[0])
            else:
                self._finish_session()
            return
        if self.summary is None:  # nothing to fall back on
            self.exit_code = 2
            if self.views_built:
                self.preview.set_placeholder("No model loaded")
                self.map.show_message("No model loaded: use File → Bundled model or Open model…")
            self._map_done = True
        else:
            for name, a in self.model_actions.items():
                a.setChecked(name == self.summary.spec)
            self._resume_after_failed_load()
        self.show_error(f"Could not load the model: {msg}", dialog=True)
        self._check_ready(failed=self.summary is None)

    def _describe_model(self, s) -> str:
        ev = (s.metrics or {}).get("evaluate") or {}
        extra = ""
        if "neg_elbo_nats" in ev:
            extra = f" · test −ELBO {ev['neg_elbo_nats']:.1f} nats"
        if s.tiers is not None and s.tiers.slow:
            kind = {"taesd": "TAESD", "linear": "linear map"}.get(s.tiers.preview, s.tiers.preview)
            extra += f" · approximate preview while you drag ({kind}), full decode when you pause"
        return s.describe() + extra

    def _resume_after_failed_load(self) -> None:
        """A failed open leaves the current model loaded: put back what loading it cancelled."""
        if not self.views_built:
            return
        self.preview.set_placeholder("")
        if self.map_data is None and not self._map_done:
            self.build_map()
        elif self.state.z is not None:
            self._request_preview(self.state.z, self.state.source)
        if self._strip_keys is not None and self.morph.strip is None:
            self._recompute_strip()

    def _apply_model(self, s: tasks.ModelSummary) -> None:
        from ..core.latent.directions import is_spatial

        self.setWindowTitle(f"latent-explorer — {s.name}")
        for name, a in self.model_actions.items():
            a.setChecked(name == s.spec)
        self._fill_device_menu(s.devices, s.device)
        tiers = s.tiers
        self.slow = bool(tiers is not None and tiers.slow)
        self.spatial_mode = is_spatial(s.latent_shape)
        self._final_seen = False
        self.tiered.stop()
        self.tier_badge.clear()
        self._apply_tiers(tiers, s.device)
        self.model_label.setText(self._describe_model(s))
        self.slider_stack.setCurrentWidget(self.spatial if self.spatial_mode else self.sliders)
        self.channel_panel.setVisible(self.spatial_mode)
        self.legend.setText(LEGEND_SPATIAL if self.spatial_mode else LEGEND_DIMS)
        self.sliders_heading.setText("Latent directions and channels" if self.spatial_mode else "Latent dimensions")
        if self.spatial_mode:
            self.spatial.set_shape(s.latent_shape)
            self.channels.set_scales(None)
            self._directions_for = None
        self.map_data = None
        self.selected = None
        self._map_done = False
        self._ready_sent = False
        self._strip_keys = None
        self._traversal_ready = False
        self._manifold_ready = False
        self._last_traversal_z = None
        self.morph.clear()
        self.recon.clear()
        self.sliders.set_dims(s.latent_size)
        self._set_controls_enabled(True)
        self.state.reset(np.zeros(s.latent_shape, np.float32), "initial")
        self._note("the prior's mean z = 0")
        self.build_map()

    def set_device(self, device: str) -> None:
        self.worker.submit("load", tasks.set_device, device, on_result=self._on_device_changed,
                           on_error=lambda f: self.show_error(f"Could not switch device: {f.message}", dialog=True))

    def _on_device_changed(self, s: tasks.ModelSummary) -> None:
        self.summary = s
        self._fill_device_menu(s.devices, s.device)
        self._apply_tiers(s.tiers, s.device)
        slow = bool(s.tiers is not None and s.tiers.slow)  # the SD VAE is fast on a GPU, slow on the CPU
        if slow != self.slow:
            self.slow = slow
            self.tiered.stop()
            self.tier_badge.clear()
            self._request_preview(self.state.z, self.state.source)
        self.statusBar().showMessage(f"now decoding on {s.device}", 3000)

    # ---- precision of the full decode, and what the model has to tell the user
    def _apply_tiers(self, tiers, device: str) -> None:
        """Device label, the bf16 setting (on by default where it is fast), the model's notices."""
        a = self.lowp_action
        self.pair_action.setEnabled(bool(tiers is not None and tiers.slow))
        supported = bool(tiers is not None and tiers.lowp_supported)
        a.blockSignals(True)
        a.setEnabled(supported)
        a.setChecked(supported and tiers.precision != "fp32")
        a.blockSignals(False)
        if supported:
            where = ", ".join(tiers.lowp_units) if tiers.lowp_units else ""
            a.setToolTip(f"decode in bf16: about 2.5× faster here ({where}); checked for NaN/Inf and redone in fp32"
                         if tiers.lowp_default else
                         "decode in bf16: this CPU has no bf16 units, so it would be slower than fp32")
            self.status.set_device(f"{device} · {tiers.dtype}")
        else:
            self.status.set_device(device)
        if tiers is not None and tiers.notices:
            self._show_notices(tiers.notices)

    def _pair_preview_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Pair a TAESD (AutoencoderTiny) folder for fast previews")
        if d:
            self.pair_preview_decoder(d)

    def pair_preview_decoder(self, spec: str) -> int:
        """Use a TAESD model (folder, file or hub id) for the approximate preview of a slow decoder."""
        if self.summary is None:
            return -1
        return self.worker.submit("load", spatial_tasks.pair_preview, spec, on_result=self._on_paired,
                                  on_error=lambda f: self.show_error(f"Could not pair {spec}: {f.message}",
                                                                     dialog=True))

    def _on_paired(self, tiers) -> None:
        self._on_precision_changed(tiers)
        self.model_label.setText(self._describe_model(self.summary))
        self.statusBar().showMessage(f"approximate previews now from {tiers.preview}", 4000)

    def set_reduced_precision(self, on: bool) -> None:
        """Device → Fast bf16 full decode: switch the loaded VAE's full decode (and later loads)."""
        prec = "bf16" if on else "fp32"
        self.options.precision = prec
        if self.summary is None:
            return
        self.worker.submit("load", spatial_tasks.set_precision, prec, on_result=self._on_precision_changed,
                           on_error=lambda f: self.show_error(f"Could not change the precision: {f.message}"))

    def _on_precision_changed(self, tiers) -> None:
        if self.summary is not None:
            self.summary.tiers = tiers
            self._apply_tiers(tiers, self.summary.device)
        self.statusBar().showMessage(f"full decodes now in {tiers.dtype}", 3000)
        self.slow = bool(tiers.slow)
        if self.slow and self.state.z is not None:
            self._request_preview(self.state.z, self.state.source)

    def _show_notices(self, notes: list) -> None:
        """Fallbacks the model made (fp32 after a bf16 overflow, tiles or CPU after out-of-memory)."""
        if notes:
            text = "; ".join(dict.fromkeys(str(n) for n in notes))
            self.banner.show_error(f"Note: {text}")
            self.statusBar().showMessage(text, 8000)
            if self.summary is not None and self.summary.tiers is not None:
                self.status.set_device(f"{self.summary.device} · "
                                       f"{'float32' if 'fp32' in text else self.summary.tiers.dtype}")

    def _open_model_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a model folder (config.json + weights)")
        if d:
            self.load_model(d)

    def _open_model_file(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "Open a VAE weights file", "", "safetensors (*.safetensors)")
        if f:
            self.load_model(f)

    def _open_model_spec(self) -> None:
        spec, ok = QInputDialog.getText(self, "Open model", "Bundled name, folder, .safetensors file or hub id:")
        if ok and spec.strip():
            self.load_model(spec.strip())

    def _open_images(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a folder of images to map")
        if d:
            self.open_images(d)

    def _open_image_files(self) -> None:
        from ..core.data.images import IMAGE_EXTENSIONS

        pattern = " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Open images to map", "", f"Images ({pattern});;All files (*)")
        if files:
            self.open_images(files)

    def open_images(self, source) -> None:
        """Map a folder (scanned lazily on the worker) or a list of image files."""
        if isinstance(source, (list, tuple)):
            source = [str(p) for p in source]
        else:
            source = str(source)
        self.options.images = source
        if self.summary is not None and not self._loading:
            self.build_map()

    # ---- drag and drop: a folder, or image files, dropped anywhere on the window
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
        if not paths:
            ev.ignore()
            return
        ev.acceptProposedAction()
        dirs = [p for p in paths if p.is_dir()]
        if len(dirs) == 1 and len(paths) == 1:
            self.open_images(str(dirs[0]))
        else:
            from ..core.data.images import iter_image_files

            files = []
            for p in paths:  # folders among several dropped items contribute their images
                files.extend(iter_image_files(p) if p.is_dir() else [p])
            self.open_images([str(f) for f in files])

    # ---- the skipped-files report
    def _show_skipped(self, skipped: list, source, imported: int) -> None:
        self.skipped_panel.set_report(skipped, source, imported if source is not None else None)
        self.skipped_link.set_count(len(skipped))
        if skipped:
            first, why = skipped[0]
            self.statusBar().showMessage(f"{len(skipped)} file(s) skipped, e.g. {Path(first).name}: {why}", 8000)

    def show_skipped_report(self) -> None:
        self.skipped_dock.show()
        self.skipped_dock.raise_()

    # ================================================================ map
    def build_map(self) -> None:
        self._map_done = False
        self.map.show_message("Encoding images…")
        self.status.set_progress("encoding images…", 0, 0)
        self.worker.submit("map", tasks.build_map, self.options.images, limit=self.options.map_limit,
                           on_result=self._on_map_ready,
                           on_error=self._on_map_failed)

    def cancel_map(self) -> None:
        self.worker.cancel("map")
        if self.projector is not None:
            self.projector.cancel("map")
        self.status.set_progress(None)
        self.map.show_message("" if self.map_data is not None else "Map cancelled (File → Open images… to retry)")
        self._map_done = True
        self._check_ready()

    def _on_progress(self, kind, rid, done, total, text) -> None:
        if kind in ("map", "load"):
            self.status.set_progress(text, done, total)
            if kind == "map" and self.views_built and self.map_data is None:
                self.map.show_message(text)

    def _on_map_failed(self, failure) -> None:
        self.status.set_progress(None)
        self._map_done = True
        self.map.show_message(failure.message)
        skipped = getattr(failure.error, "skipped", None)
        if skipped:
            self._show_skipped(skipped, self.options.images, 0)
            self.show_skipped_report()
        if self._pending_session is not None:
            self._finish_session()
        self._check_ready()

    def _on_map_ready(self, data: tasks.MapData) -> None:
        from ..core.latent.project import METHOD_LABELS, available_methods

        keep_view = self.map_data is not None and self.map_data.mean is data.mean and \
            data.projection.method == self.map_data.projection.method
        self.map_data = data
        self.status.set_progress(None)
        self.map.set_projection_methods(available_methods(int(np.prod(data.mean.shape[1:]))), METHOD_LABELS,
                                        data.projection.method)
        self.map.set_data(data, keep_view=keep_view)
        self.sliders.set_kl(data.kl_per_dim, data.active)
        if data.source is not None or not data.skipped:
            self._show_skipped(data.skipped, data.source, len(data.images))
        self._map_done = True
        self.mapReady.emit(data)
        self._update_marker()
        if self.selected is not None:
            self.map.set_selected(self.selected)
        if data.projection.method == "identity":
            self._manifold_later()
        if self.spatial_mode and self._directions_for is not data.mean:
            self._fit_directions(data)
        if self._pending_session is not None:
            self._finish_session()
        elif self.options.demo and self.state.source == "initial":
            self._demo_start()
        self._check_ready()

    # ---- spatial latents: principal directions of the mapped images, the channel view
    def _fit_directions(self, data) -> None:
        self._directions_for = data.mean
        self.spatial.summary.setText(f"fitting principal directions on {len(data.mean):,} encoded images…")
        self.worker.submit("directions", spatial_tasks.directions_and_scales, data.mean,
                           on_result=self._on_directions,
                           on_error=lambda f: self.spatial.summary.setText(f"no principal directions: {f.message}"))

    def _on_directions(self, result) -> None:
        dirs, scales = result
        self.spatial.set_directions(dirs)
        self.spatial.set_latent(self.state.z)
        self.channels.set_scales(scales)
        self._last_traversal_z = None
        self._traversal_ready = False
        self._request_traversal()
        self._check_ready()

    def _on_spatial_edited(self, z) -> None:
        if self.state.z is None:
            return
        self._note("edited with the direction / channel sliders")
        self.state.set(z, "direction sliders", origin=self.spatial, commit=False)
        self._commit_later()

    def _update_channels(self) -> None:
        if self.spatial_mode and self.state.z is not None:
            self.channels.set_latent(self.state.z)

    def _demo_start(self) -> None:
        """Open on something to look at: a 3 selected and its morph into an 8 (or the first two points)."""
        d = self.map_data
        a, b = 0, min(1, len(d.mean) - 1)
        if d.labels is not None:
            threes, eights = np.flatnonzero(d.labels == 3), np.flatnonzero(d.labels == 8)
            if len(threes) and len(eights):
                a, b = int(threes[len(threes) // 3]), int(eights[len(eights) // 3])
        self.select(a)
        self.make_morph(a, b)

    def set_projection(self, method: str) -> None:
        if self.map_data is None or method == self.map_data.projection.method:
            return
        if self.projector is None:
            self.projector = DecodeWorker(self, torch_threads=None)
            self.projector.failed.connect(self._on_failure)
            self.projector.progress.connect(self._on_progress)
            self.projector.start()
        n = len(self.map_data.mean)
        slow = " (t-SNE takes a while)" if method == "tsne" else ""
        self.map.show_message(f"Projecting {n:,} points…{slow}")
        self.status.set_progress(f"projecting with {method}…{slow}", 0, 0)
        self.projector.submit("map", tasks.reproject, self.map_data, method, on_result=self._on_map_ready,
                              on_error=self._on_map_failed)

    def _request_manifold(self) -> None:
        if self._closing or self.map_data is None or self.map_data.projection.method != "identity" \
                or not self.map.manifold_check.isChecked():
            return
        x0, x1, y0, y1 = self.map.visible_range()
        vw, vh = max(1, self.map.plot.width()), max(1, self.map.plot.height())
        nx = int(np.clip(vw / MANIFOLD_TILE_PX, 4, 40))
        ny = int(np.clip(vh / MANIFOLD_TILE_PX, 4, 40))
        self.worker.submit("manifold", tasks.manifold, x0, x1, y0, y1, nx, ny, on_result=self._on_manifold)

    def _on_manifold(self, result) -> None:
        self.map.set_manifold(*result)
        self._manifold_ready = True
        self._check_ready()

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

    def latent_at_map(self, x: float, y: float) -> np.ndarray:
        d = self.map_data
        if d.projection.method == "identity":
            return np.array([x, y], np.float32).reshape(d.mean.shape[1:])
        if d.interpolator is None:  # too few points for a blend: the nearest image
            return d.mean[int(np.argmin(((d.xy - (x, y)) ** 2).sum(1)))]
        return d.interpolator.latent_at((x, y))

    def _on_place_clicked(self, x: float, y: float) -> None:
        if self.map_data is None:
            return
        how = "exact" if self.map_data.projection.method == "identity" else "blend of the 3 points around it"
        self._note(f"map point ({x:.2f}, {y:.2f}), {how}")
        self._set_latent(self.latent_at_map(x, y), f"map point ({x:.2f}, {y:.2f})")

    def _label(self, i: int) -> str:
        d = self.map_data
        return f"#{i}" + ("" if d.labels is None else f" ({int(d.labels[i])})")

    def _on_morph_moved(self, a: int, x: float, y: float, b: int) -> None:
        if b >= 0:
            z, where = self.map_data.mean[b], self._label(b)
        else:
            z, where = self.latent_at_map(x, y), f"({x:.2f}, {y:.2f})"
        self._note(f"morphing {self._label(a)} → {where}")
        self._set_latent(z, f"drag {self._label(a)} → {where}", commit=False)

    def _on_morph_dropped(self, a: int, x: float, y: float, b: int) -> None:
        if b >= 0:
            self.make_morph(a, b)
        else:
            self.make_morph(a, None, end=self.latent_at_map(x, y), end_name=f"({x:.2f}, {y:.2f})")

    def make_morph(self, a: int, b: int | None, end=None, end_name: str = "") -> int:
        """Compute the morph strip from data point ``a`` to point ``b`` (or to latent ``end``)."""
        d = self.map_data
        zb = d.mean[b] if b is not None else np.asarray(end, np.float32)
        self._strip_keys = (np.stack([d.mean[a], zb]), (a, b))
        self._strip_desc = f"{self._label(a)} → {self._label(b) if b is not None else end_name}"
        return self._recompute_strip()

    def _recompute_strip(self) -> int:
        if self._strip_keys is None or self._loading:
            return -1
        keys, ends = self._strip_keys
        if self.slow:  # approximate frames at once, then the full ones decoded frame by frame
            self.worker.cancel("strip-final")
            args = (keys, self.morph.frame_count, self.morph.method_name, ends)
            return self.worker.submit("strip", spatial_tasks.strip, *args, False,
                                      on_result=lambda s: self._on_strip_approx(s, args))
        return self.worker.submit("strip", tasks.morph_strip, keys, self.morph.frame_count, self.morph.method_name,
                                  ends, on_result=self._on_strip)

    def _on_strip_approx(self, strip, args) -> None:
        self._on_strip(strip)
        self.worker.submit("strip-final", spatial_tasks.strip, *args, True, on_result=self._on_strip)

    def _on_strip(self, strip: tasks.Strip) -> None:
        self.morph.set_strip(strip, self._strip_desc + ("" if getattr(strip, "final", True) else
                                                        " · approximate frames, full ones decoding…"))
        self.stripReady.emit(strip)
        self._check_ready()

    def _on_scrub(self, k: int) -> None:
        s = self.morph.strip
        if s is None:
            return
        self._note(f"morph frame {k + 1} / {len(s.frames)}")
        self._set_latent(s.latents[k], f"morph {self._strip_desc}, frame {k + 1}", commit=False,
                         image=s.frames[k], final=getattr(s, "final", True))

    def _on_blend(self, x: float, y: float) -> None:
        from ..core.latent import barycentric
        from ..core.latent.project import blend_weights

        pins = list(self.map.pins)
        if len(pins) < 3 or self.map_data is None:
            return
        idx, w = blend_weights(self.map_data.xy[pins], (x, y))
        lat = self.map_data.mean[[pins[i] for i in idx]]
        z = barycentric(lat.reshape(len(lat), -1), w).reshape(self.map_data.mean.shape[1:])
        parts = ", ".join(f"{self._label(pins[i])} {wi:.2f}" for i, wi in zip(idx, w) if wi > 0.005)
        self._note(f"blend {parts}")
        self._set_latent(z, f"blend {parts}", commit=False)

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

    # ================================================================ export
    def _recipe(self, **kw) -> dict:
        r = {"model": self.summary.spec if self.summary else ""}
        if self.model_hash:
            r["model_hash"] = self.model_hash
        r.update(kw)
        return r

    def export_morph(self, path: str, fps: int = 12) -> int:
        s = self.morph.strip
        if s is None:
            return -1
        if not getattr(s, "final", True):
            self.show_error("the morph's full-quality frames are still being decoded: export it when they are done")
            return -1
        a, b = s.endpoints if s.endpoints else (None, None)
        recipe = self._recipe(kind="morph", method=s.method, frames=len(s.frames), keyframes=s.keyframes,
                              images=[self._label(i) for i in (a, b) if i is not None], dataset=self.map_data.name)
        return self.worker.submit("export", tasks.export_morph, path, s.frames, fps, recipe, on_result=self._saved)

    def _export_morph_dialog(self) -> None:
        if self.morph.strip is None:
            self.statusBar().showMessage("make a morph first: drag from one point to another on the map", 4000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export morph", "morph.gif",
                                              "GIF animation (*.gif);;MP4 video (*.mp4);;PNG strip (*.png)")
        if path:
            self.export_morph(path)

    def _save_preview_dialog(self) -> None:
        img = self.preview.image if self.views_built else None
        if img is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save preview", "preview.png", "PNG image (*.png)")
        if path:
            self.save_preview(path)

    def save_preview(self, path: str) -> int:
        """The preview as a PNG whose text chunk holds the latent, the model hash and how it was made."""
        img = self.preview.image if self.views_built else None
        if img is None or self.state.z is None:
            return -1
        recipe = self._recipe(kind="preview", latent=self.state.z, method=self.state.source,
                              image_size=list(img.shape[:2]))
        if self.slow and self.tier_badge.final is not True:  # never save the approximate preview
            return self.worker.submit("export-preview", spatial_tasks.save_final_preview, path, self.state.z, recipe,
                                      on_result=self._saved)
        return self.worker.submit("export-preview", tasks.save_preview, path, img, recipe, on_result=self._saved)

    def _saved(self, path: str) -> None:
        self.statusBar().showMessage(f"saved {path}", 5000)
        self.exported.emit(str(path))

    def export_traversal(self, path: str, steps: int = 9, value_range: float = 3.0, max_rows: int = 16) -> int:
        """Rows = the most informative dimensions (KL order), each swept over ±range around the current latent."""
        if self.state.z is None:
            return -1
        if self.spatial_mode and self.spatial.directions is not None:  # rows = principal directions
            recipe = self._recipe(method="each row moves the latent along one principal direction of the mapped "
                                         "images, over ±3 std of the images along it")
            self.statusBar().showMessage("exporting the direction grid (full decodes)…", 4000)
            return self.worker.submit("export-traversal", spatial_tasks.export_direction_grid, path, self.state.z,
                                      self.spatial.directions, steps, min(max_rows, 8), recipe, on_result=self._saved)
        dims = list(self.sliders.order[:max_rows]) or list(range(min(max_rows, self.state.z.size)))
        recipe = self._recipe(method="each row sets one dimension to evenly spaced values, the rest as the latent")
        return self.worker.submit("export-traversal", tasks.export_traversal_grid, path, self.state.z, dims, steps,
                                  value_range, recipe, on_result=self._saved)

    def export_samples(self, path: str, n: int = 64, seed: int | None = None) -> int:
        if self.summary is None:
            return -1
        seed = self._seed + 1000 if seed is None else seed
        recipe = self._recipe(method="z ~ N(0, T²·I), decoded")
        return self.worker.submit("export-samples", tasks.export_sample_grid, path, n, seed, self.temperature.value(),
                                  recipe, on_result=self._saved)

    def _export_traversal_dialog(self) -> None:
        if self.state.z is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export traversal grid", "traversal.png", "PNG image (*.png)")
        if path:
            self.export_traversal(path)

    def _export_samples_dialog(self) -> None:
        if self.summary is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export sample grid", "samples.png", "PNG image (*.png)")
        if path:
            self.export_samples(path)

    # ================================================================ bookmarks
    def add_bookmark(self, name: str) -> None:
        from ..core.session import Bookmark

        if self.state.z is None:
            return
        self.state.commit()
        name = name.strip() or f"bookmark {len(self.bookmarks) + 1}"
        self.bookmarks.append(Bookmark(name, self.state.z.copy()))
        self.bookmarks_panel.set_bookmarks(self.bookmarks)
        self.bookmarks_dock.show()
        self.bookmarks_dock.raise_()
        self.statusBar().showMessage(f"bookmarked “{name}”", 3000)

    def bookmark_dialog(self) -> None:
        if self.state.z is None:
            return
        name, ok = QInputDialog.getText(self, "Bookmark current latent", "Name:",
                                        text=self.state.source or f"bookmark {len(self.bookmarks) + 1}")
        if ok:
            self.add_bookmark(name)

    def set_bookmarks(self, bookmarks: list) -> None:
        self.bookmarks = list(bookmarks)
        self.bookmarks_panel.set_bookmarks(self.bookmarks)

    def remove_bookmark(self, i: int) -> None:
        if 0 <= i < len(self.bookmarks):
            del self.bookmarks[i]
            self.bookmarks_panel.set_bookmarks(self.bookmarks)

    def go_to_bookmark(self, i: int) -> None:
        if not (0 <= i < len(self.bookmarks)) or self.summary is None:
            return
        b = self.bookmarks[i]
        if tuple(b.latent.shape) != tuple(self.summary.latent_shape):
            self.show_error(f"bookmark “{b.name}” has latent shape {tuple(b.latent.shape)}; this model's is "
                            f"{tuple(self.summary.latent_shape)}")
            return
        self._note(f"bookmark “{b.name}”")
        self._set_latent(b.latent, f"bookmark {b.name}")

    # ================================================================ sessions & autosave
    def _on_model_hash(self, h: str) -> None:
        self.model_hash = h

    def save_session(self, path: str) -> str | None:
        """Write the session now (atomically). Returns the path written, or None."""
        from . import sessions

        s = sessions.capture(self)
        if s is None:
            self.show_error("nothing to save yet: no model is loaded")
            return None
        try:
            out = s.save(path)
        except OSError as e:
            self.show_error(f"Could not save the session to {path}: {e.strerror or e}")
            return None
        self.session_path = str(out)
        self.statusBar().showMessage(f"session saved to {out}", 5000)
        return str(out)

    def _save_session_quick(self) -> None:
        if self.session_path:
            self.save_session(self.session_path)
        else:
            self._save_session_dialog()

    def _save_session_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save session", self.session_path or "untitled.lexplore",
                                              "latent-explorer session (*.lexplore)")
        if path:
            self.save_session(path)

    def _open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", "", "latent-explorer session (*.lexplore)")
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        from ..core.errors import UserError
        from ..core.session import Session

        try:
            s = Session.load(path)
        except UserError as e:
            self.show_error(str(e), dialog=True)
            return False
        self.session_path = str(path)
        self.restore_session(s)
        return True

    def restore_session(self, s) -> None:
        """Load the session's model and images if they differ, then put its state back."""
        from . import sessions

        self._pending_session = s
        self.session_notes = []
        images = sessions.session_images(s)
        if isinstance(images, str) and not Path(images).is_dir():
            self.session_notes.append(f"image folder {images} is missing: mapping the model's own data")
            images = None
        elif isinstance(images, list):
            present = [p for p in images if Path(p).is_file()]
            if len(present) < len(images):
                self.session_notes.append(f"{len(images) - len(present)} of the session's image files are missing")
            images = present or None
        same_model = self.summary is not None and self.summary.spec == s.model_spec
        if not same_model:
            self.options.images = images
            self.load_model(s.model_spec)
        elif images != self.options.images or self.map_data is None:
            self.options.images = images
            self.build_map()
        else:
            self._finish_session()

    def _finish_session(self) -> None:
        from . import sessions

        s, self._pending_session = self._pending_session, None
        if s is None or self.summary is None or not self.views_built:
            return
        notes = list(self.session_notes) + sessions.apply(self, s)
        self.session_notes = []

        def check(h: str) -> None:
            self.model_hash = h
            model_notes = [n for n in s.check_model(self.summary.spec, h) if "image folder" not in n]
            self._session_report(notes + model_notes)

        if self.model_hash is not None:
            check(self.model_hash)
        else:
            self.worker.submit("hash", tasks.model_hash, on_result=check)

    def _session_report(self, notes: list[str]) -> None:
        if notes:
            self.show_error("Opened what the session could: " + "; ".join(dict.fromkeys(notes)) + ".")
        else:
            self.statusBar().showMessage("session restored", 4000)
        self.sessionRestored.emit(notes)

    def _start_autosave(self) -> None:
        """Offer the last autosave when the last run crashed, then hold the marker and save every minute."""
        from . import sessions

        try:
            self.autosave = sessions.autosave_for(self.options.data_dir)
        except OSError as e:
            self.banner.show_error(f"autosave is off: cannot use the data folder ({e.strerror or e})")
            return
        if self.autosave.recoverable():
            if self._ask_recover():
                try:
                    s = self.autosave.load()
                except Exception as e:  # an unreadable autosave must never stop the app starting
                    self.banner.show_error(f"could not recover the autosave: {e}")
                else:
                    self.options.model = s.model_spec
                    self.options.images = sessions.session_images(s)
                    if isinstance(self.options.images, str) and not Path(self.options.images).is_dir():
                        self.options.images = None
                    self._pending_session = s
                    self.recovered = True
            else:
                self.autosave.discard()
        else:
            self.autosave.discard()  # a clean exit's autosave is stale: never offer it after a later crash
        self.autosave.start()
        self.autosaver = sessions.AutosaveController(self, self.autosave, self.options.autosave_interval_ms)
        self.autosaver.start()

    def _ask_recover(self) -> bool:
        answer = self.options.recover
        if answer is not None:
            return bool(answer() if callable(answer) else answer)
        box = QMessageBox(QMessageBox.Icon.Question, "Recover your last session?",
                          "latent-explorer did not close cleanly last time. Recover the session it autosaved "
                          "(model, map, latent, bookmarks, history)?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        return box.exec() == QMessageBox.StandardButton.Yes

    # ================================================================ training
    def open_train_dialog(self):
        from .train_dialog import TrainDialog

        if self.train_dialog is None:
            folder = self.options.images if isinstance(self.options.images, str) else None
            devices = self.summary.devices if self.summary is not None else ["cpu"]
            self.train_dialog = TrainDialog(self, folder=folder, devices=devices)
            self.train_dialog.trained.connect(self._on_trained)
        self.train_dialog.show()
        self.train_dialog.raise_()
        return self.train_dialog

    def _on_trained(self, out: str, data: str) -> None:
        """A finished training run: its model becomes the current one, its dataset fills the map."""
        self.options.images = None if data in ("mnist-5k", "shapes") else data
        self.load_model(out)

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
        self.status.stop()
        if self.train_dialog is not None:
            self.train_dialog.shutdown()
        if self.autosaver is not None:
            self.autosaver.stop(clean=True)
        for t in getattr(self, "_timers", []):
            t.cancel()
            t.flush(restart_timer=False)  # nothing pending now: this just stops its QTimer
        if self.views_built:
            self.tiered.stop()
        self.state.disconnect_all()
        if self.projector is not None:
            self.projector.stop(200)
        self.worker.stop(1500)
