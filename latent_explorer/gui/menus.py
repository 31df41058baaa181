"""The window's menus, bound to the controllers. ``Menus`` also shows model state in them
(the checked bundled model, device, working size, bf16 and pairing availability)."""
from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from .controllers.model import BUNDLED

#: Device → Working size, for Stable Diffusion-style VAEs (multiples of their factor 8)
WORKING_SIZES = (128, 256, 384, 512, 768)

VAE_HELP = (
    "The encoder maps an image to a distribution, not a point: a mean μ and a log-variance "
    "log σ² per latent dimension.\n\nSampling uses z = μ + σ·ε with ε ~ N(0, I), so gradients flow "
    "through μ and σ. The decoder maps z back to an image.\n\nLoss = reconstruction error + β · KL(q(z|x) ‖ "
    "N(0, I)); the KL per dimension is −½ (1 + log σ² − μ² − σ²) nats. Dimensions with ~0 KL are unused.\n\n"
    "Decoding samples from N(0, I) makes new images; nearby latents decode to similar images.")


class Menus:
    def _share(self):
        from .dialogs.share import open_share_dialog

        return open_share_dialog(self.win)

    def __init__(self, win, ctx):
        self.win, self.ctx = win, ctx
        c, mb = ctx, win.menuBar()
        f = mb.addMenu("&File")
        self.model_group = QActionGroup(win)
        mm = f.addMenu("Bundled &model")
        self.model_actions = {}
        for name in BUNDLED:
            a = QAction(name, win, checkable=True)
            a.triggered.connect(lambda _=False, n=name: c.models.load(n, own_images=True))
            self.model_group.addAction(a)
            mm.addAction(a)
            self.model_actions[name] = a
        f.addAction("Open model &folder…", c.models.open_folder_dialog)
        f.addAction("Open model f&ile (.safetensors)…", c.models.open_file_dialog)
        f.addAction("Open model by &spec or hub id…", c.models.open_spec_dialog)
        self.pair = f.addAction("Pair a &TAESD preview decoder…", c.models.pair_dialog)
        self.pair.setToolTip("use a TAESD (AutoencoderTiny) folder for the fast preview while you drag")
        self.pair.setEnabled(False)
        f.addSeparator()
        f.addAction("Open &images folder for the map…", QKeySequence("Ctrl+I"), c.maps.open_folder_dialog)
        f.addAction("Open image fi&les for the map…", c.maps.open_files_dialog)
        f.addAction("Open an encoded &collection…", c.maps.open_collection_dialog)
        f.addAction("Show this &model's own images", c.maps.show_own_images)
        f.addAction("&Train a VAE on your images…", QKeySequence("Ctrl+T"), c.training.open_dialog)
        f.addSeparator()
        f.addAction("&Open session…", QKeySequence("Ctrl+O"), c.sessions.open_dialog)
        f.addAction("Save sessio&n", QKeySequence("Ctrl+S"), c.sessions.save_quick)
        f.addAction("Save session &as…", QKeySequence("Ctrl+Shift+S"), c.sessions.save_dialog)
        f.addSeparator()
        f.addAction("Save &preview as PNG…", c.exports.save_preview_dialog)
        f.addAction("Export t&raversal grid…", c.exports.export_traversal_dialog)
        f.addAction("Export sample &grid…", c.exports.export_samples_dialog)
        f.addAction("&Export morph…", c.exports.export_morph_dialog)
        f.addAction("Save the &map as a figure (PNG, SVG)…", c.maps.save_map_figure_dialog)
        f.addSeparator()
        f.addAction("S&hare with the class…", self._share)
        f.addSeparator()
        quit_action = QAction("&Quit", win)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(win.close)
        f.addAction(quit_action)

        e = mb.addMenu("&Edit")
        self.undo = QAction("&Undo latent edit", win)
        self.undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.undo.triggered.connect(c.commands.undo)
        c.state.connect(lambda origin: self.undo.setEnabled(True))   # (once there is a latent to go back from)
        self.redo = QAction("&Redo latent edit", win)
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo.triggered.connect(c.commands.redo)
        e.addAction(self.undo)
        e.addAction(self.redo)
        e.addAction("Undo breeding ste&p (a generation, parents)", QKeySequence("Ctrl+Alt+Z"), c.breeding.undo_step)
        e.addAction("Redo breeding step", QKeySequence("Ctrl+Alt+Shift+Z"), c.breeding.redo_step)
        e.addSeparator()
        self.copy_image = e.addAction("Copy &image", QKeySequence.StandardKey.Copy, c.previews.copy_image)
        e.addAction("&Copy latent as text", QKeySequence("Ctrl+Shift+C"), c.previews.copy_latent)
        e.addAction("&Bookmark current latent…", QKeySequence("Ctrl+D"), c.bookmarks.add_dialog)
        e.addAction("Random &sample", QKeySequence("Space"), c.previews.random_sample)
        e.addAction("Reset to &selected image", QKeySequence("Ctrl+R"), c.maps.reset_to_selected)
        e.addAction("Clear &pins", QKeySequence("Escape"), c.commands.clear_pins)
        e.addAction("&Analogy A : B :: C : ? (three pinned images)", QKeySequence("Ctrl+K"), c.morphs.make_analogy)
        e.addAction("&Morph from the selected image to the latent on screen", QKeySequence("Ctrl+M"),
                    c.morphs.to_current)

        v = mb.addMenu("&View")
        for dock in win.docks:
            a = dock.toggleViewAction()
            if dock is win.theory_dock:
                a.setText("&Theory: the selected image in numbers")
                a.setShortcut(QKeySequence("Ctrl+E"))
            elif dock is win.directions_dock:
                a.setText("&Directions: from one group of images to another")
                a.setShortcut(QKeySequence("Ctrl+J"))
            v.addAction(a)
        v.addSeparator()
        v.addAction(c.breeding.toggle_action())
        v.addAction("&Compare models: what β does…", c.compare.open_dialog)
        self.presentation = QAction("&Presentation mode (larger type)", win, checkable=True)
        self.presentation.setShortcut(QKeySequence("F5"))
        self.presentation.toggled.connect(win.presentation.set)
        v.addAction(self.presentation)

        self.device_menu = mb.addMenu("&Device")
        self.device_group = QActionGroup(win)
        self.lowp = QAction("Fast &bf16 full decode (reduced precision)", win, checkable=True)
        self.lowp.setEnabled(False)
        self.lowp.toggled.connect(c.models.set_reduced_precision)
        self.size_menu = QMenu("Working &size", win)
        self.size_menu.setToolTip("the image size a Stable Diffusion-style VAE works at: more detail, slower")
        self.size_group = QActionGroup(win)
        for n in WORKING_SIZES:
            a = QAction(f"{n} × {n} px" + (" (default)" if n == 256 else ""), win, checkable=True)
            a.setData(n)
            a.triggered.connect(lambda _=False, n=n: c.models.set_working_size(n))
            self.size_group.addAction(a)
            self.size_menu.addAction(a)
        self.size_menu.setEnabled(False)
        self.device_menu.addAction(self.lowp)
        self.device_menu.addMenu(self.size_menu)
        h = mb.addMenu("&Help")
        h.addAction("Guided &lab…", QKeySequence("Ctrl+L"), c.lab.open)
        h.addAction("How a &VAE works", lambda: QMessageBox.information(win, "How a VAE works", VAE_HELP))
        h.addAction("&About", lambda: QMessageBox.about(win, "latent-explorer",
                                                          "latent-explorer: explore the latent space of VAEs."))

    # ---- showing the model's state -------------------------------------------------------
    def show_model(self, spec: str) -> None:
        for name, a in self.model_actions.items():
            a.setChecked(name == spec)

    def fill_devices(self, devices: list[str], current: str) -> None:
        self.device_menu.clear()
        for a in self.device_group.actions():
            self.device_group.removeAction(a)
        for d in devices:
            a = QAction(d.upper() if d != "cpu" else "CPU", self.win, checkable=True)
            a.setChecked(d == current.split(":")[0])
            a.triggered.connect(lambda _=False, dev=d: self.ctx.models.set_device(dev))
            self.device_group.addAction(a)
            self.device_menu.addAction(a)
        self.device_menu.addSeparator()
        self.device_menu.addAction(self.lowp)
        self.device_menu.addMenu(self.size_menu)

    def show_working_size(self, s) -> None:
        self.size_menu.setEnabled(bool(s.resizable))
        h, w = s.image_size
        for a in self.size_group.actions():
            a.setChecked(bool(s.resizable) and h == w == a.data())

    def show_tiers(self, tiers) -> None:
        """The bf16 setting (on by default where it is fast) and pairing, for the model's decoding tiers."""
        self.pair.setEnabled(bool(tiers is not None and tiers.slow))
        supported = bool(tiers is not None and tiers.lowp_supported)
        a = self.lowp
        a.blockSignals(True)
        a.setEnabled(supported)
        a.setChecked(supported and tiers.precision != "fp32")
        a.blockSignals(False)
        if supported:
            where = ", ".join(tiers.lowp_units) if tiers.lowp_units else ""
            a.setToolTip(f"decode in bf16: about 2.5× faster here ({where}); checked for NaN/Inf and redone in fp32"
                         if tiers.lowp_default else
                         "decode in bf16: this CPU has no bf16 units, so it would be slower than fp32")
