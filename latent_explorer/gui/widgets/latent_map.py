"""The 2-D latent map: encoded images as one pyqtgraph ScatterPlotItem, and what the mouse does.

* hover a point: a card with its thumbnail and label;
* click a point: select that image; click elsewhere: decode that place;
* press on a point and drag: morph (live along the drag), release on another point: a morph strip;
* ctrl/shift-click points to pin them; with 3+ pins, drag inside their hull to blend them;
* drag on empty space pans, the wheel zooms (pyqtgraph's own handling).

The widget only reports intentions (signals); the main window decides what to decode. The
graphics items and hit-testing are in ``map_items.py``, the colours and legend in ``map_colors.py``,
the level of detail (a density raster and a sample for large maps, KD-tree picking) in ``map_lod.py``.
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QVBoxLayout, QWidget)

from .. import theme
from .imaging import for_display
from .map_colors import MapLegend, color_modes, point_colors
from .map_lod import DetailLayer
from .map_thumbs import ThumbnailLayer
from .map_items import (HoverCard, MapViewBox, PassiveScatter, _short_name, axis_names, convex_hull, hull_contains,
                        map_plot)

__all__ = ["HIT_RADIUS_PX", "HINT", "POINT_SIZE", "HoverCard", "LatentMapWidget", "MapLegend",
           "MapViewBox", "PassiveScatter", "convex_hull"]

HIT_RADIUS_PX = 7.0
POINT_SIZE = 5


HINT = ("click: decode that place · drag from a point to another: morph · "
        "ctrl-click 3+ points, then drag inside them: blend")


class LatentMapWidget(QWidget):
    pointClicked = Signal(int, object)        # data index, modifiers
    placeClicked = Signal(float, float)       # empty place on the map
    morphMoved = Signal(int, float, float, int)  # from index, cursor x, y, index under cursor or -1
    morphDropped = Signal(int, float, float, int)  # from index, release x, y, index under it or -1
    blendMoved = Signal(float, float)         # cursor inside the pins' hull
    pinsChanged = Signal(list)
    colorModeChanged = Signal(str)
    projectionChanged = Signal(str)
    visibleRangeChanged = Signal(float, float, float, float)  # x0, x1, y0, y1
    manifoldToggled = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data = None
        self.xy = np.zeros((0, 2), np.float32)
        self.labels: np.ndarray | None = None
        self.color_mode = "label"
        self.pins: list[int] = []
        self._morph_from: int | None = None

        # header: colour / projection / pins
        self.color_box = QComboBox()
        self.projection_box = QComboBox()
        self.manifold_check = QCheckBox("decoded grid")
        self.manifold_check.setChecked(True)
        self.manifold_check.setToolTip("behind the points: the decodes of a grid over the visible part of the "
                                       "2-d latent space, re-rendered as you pan and zoom")
        self.manifold_check.hide()
        self.clear_pins_button = QPushButton("Clear pins")
        self.clear_pins_button.setEnabled(False)
        self.title = QLabel("Latent map")
        self.title.setProperty("role", "heading")
        # a long title (a dataset or morph name) must not widen the window: it is clipped instead
        self.title.setMinimumWidth(60)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # two rows, so that a narrow window clips nothing: the title with the view toggles, then
        # how the points are coloured and placed
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.title, 1)  # the title takes the spare width (and is clipped, not the controls)
        top.addWidget(self.manifold_check)
        top.addWidget(self.clear_pins_button)
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 0, 4, 0)
        self.control_labels = []
        for text, w in (("colour by", self.color_box), ("projection", self.projection_box)):
            lab = QLabel(text)
            lab.setProperty("role", "muted")
            w.setToolTip(text)
            self.control_labels.append(lab)
            controls.addWidget(lab)
            controls.addWidget(w)
            controls.addSpacing(8)
        controls.addStretch(1)
        head = QVBoxLayout()
        head.setSpacing(4)
        head.addLayout(top)
        head.addLayout(controls)
        self.hint = QLabel(HINT)
        self.hint.setProperty("role", "caption")
        self.hint.setWordWrap(True)  # wraps in a narrow window instead of widening it

        self.vb = MapViewBox(defaultPadding=0.04)
        self.vb.drag_mode_at = self._drag_mode_at
        self.plot = map_plot(self.vb)

        self.manifold = pg.ImageItem(axisOrder="row-major")
        self.manifold.setZValue(-10)
        self.manifold.setOpacity(0.85)
        self.plot.addItem(self.manifold, ignoreBounds=True)
        self.scatter = PassiveScatter(size=POINT_SIZE, pen=None, brush=pg.mkBrush(theme.LABEL_COLORS[0]))
        # the points are drawn once into a device pixmap and blitted while the markers move
        # over them; only a pan, a zoom or new data re-renders the thousands of points
        self.scatter.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot.addItem(self.scatter)
        self.hull = pg.PlotCurveItem(pen=pg.mkPen(theme.ACCENT2, width=1.5, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.hull, ignoreBounds=True)
        self.drag_line = pg.PlotCurveItem(pen=pg.mkPen(theme.ACCENT2, width=2, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.drag_line, ignoreBounds=True)
        self.pin_marks = PassiveScatter(size=16, symbol="star", pen=pg.mkPen("#10131a", width=1),
                                            brush=pg.mkBrush(theme.ACCENT2))
        self.plot.addItem(self.pin_marks, ignoreBounds=True)
        self.selected_mark = PassiveScatter(size=15, symbol="o", pen=pg.mkPen("#ffffff", width=2), brush=None)
        self.plot.addItem(self.selected_mark, ignoreBounds=True)
        self.selected_mark.setZValue(9)
        self.thumbs = ThumbnailLayer(self.plot, self.vb)  # the images as the points, when few are in view
        self.lod = DetailLayer(self.plot, self.vb, self.scatter, self.thumbs, POINT_SIZE)
        self.current_mark = PassiveScatter(size=20, symbol="o", pen=pg.mkPen(theme.ACCENT, width=3),
                                               brush=pg.mkBrush(255, 179, 71, 60))
        self.current_mark.setZValue(10)
        # one symbol at the item's origin: following the sliders moves the item (setPos), which
        # costs far less than re-setting the scatter's data on every change
        self.current_mark.setData(x=[0.0], y=[0.0])
        self.current_mark.hide()
        self.plot.addItem(self.current_mark, ignoreBounds=True)

        self.legend = MapLegend(self.plot)
        self.card = HoverCard(self.plot)
        self.message = QLabel("Loading model…", self.plot)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet(f"color: {theme.TEXT}; background: rgba(22,24,29,200); padding: 10px 16px;"
                                   " border-radius: 6px; font-size: 11pt;")
        self.message.adjustSize()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addLayout(head)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.hint)

        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.viewport().installEventFilter(self)
        self.vb.clicked.connect(self._on_click)
        self.vb.dragStarted.connect(self._on_drag_start)
        self.vb.dragMoved.connect(self._on_drag_move)
        self.vb.dragFinished.connect(self._on_drag_finish)
        self.vb.sigRangeChanged.connect(self._on_range_changed)
        self.color_box.currentIndexChanged.connect(self._on_color_box)
        self.projection_box.currentIndexChanged.connect(self._on_projection_box)
        self.clear_pins_button.clicked.connect(self.clear_pins)
        self.manifold_check.toggled.connect(self._on_manifold_toggled)

    # ---- layout of overlays -----------------------------------------------------------
    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._place_overlays()

    def _place_overlays(self):
        r = self.plot.rect()
        self.legend.move(r.width() - self.legend.width() - 14, 10)
        self.message.adjustSize()
        self.message.move((r.width() - self.message.width()) // 2, (r.height() - self.message.height()) // 2)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self._place_overlays()

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Leave:
            self.card.hide_card()
        return False

    # ---- data -------------------------------------------------------------------------
    def set_projection_methods(self, methods: list[str], labels: dict, current: str) -> None:
        self.projection_box.blockSignals(True)
        self.projection_box.clear()
        for m in methods:
            self.projection_box.addItem(labels.get(m, m), m)
        self.projection_box.setCurrentIndex(max(0, methods.index(current) if current in methods else 0))
        self.projection_box.blockSignals(False)

    def set_data(self, data, keep_view: bool = False) -> None:
        """Show a MapData (tasks.MapData): positions, colours, legend."""
        self.data = data
        self.xy = np.asarray(data.xy, np.float32)
        self.labels = data.labels
        self.thumbs.set_data(self.xy, data.images)
        self.card.hide_card()
        self.clear_pins(emit=False)
        entries = color_modes(data)  # the label, each known factor, the error, the density
        modes = [m for m, _ in entries]
        self.color_box.blockSignals(True)
        self.color_box.clear()
        for m, words in entries:
            self.color_box.addItem(words, m)
        fell_back = self.color_mode not in modes
        if fell_back:  # (these images have no such colouring: the first one they have)
            self.color_mode = modes[0]
        self.color_box.setCurrentIndex(modes.index(self.color_mode))
        self.color_box.blockSignals(False)
        if fell_back:
            self.colorModeChanged.emit(self.color_mode)
        self.lod.set_data(self.xy, *self._colors())
        is_latent = data.projection.method == "identity"
        self.manifold_check.setVisible(is_latent)
        self.manifold.setVisible(is_latent and self.manifold_check.isChecked())
        if not is_latent:
            self.manifold.clear()
        axes = axis_names(data.projection)
        self.plot.setLabel("bottom", axes[0])
        self.plot.setLabel("left", axes[1])
        # the title stays short (the header is crowded in a narrow window); what is mapped leads the caption
        self.title.setText("Latent map")
        self.title.setToolTip(f"{len(self.xy):,} images from {data.name}")
        self.hint.setText(f"<b>{len(self.xy):,} images from {html.escape(str(data.name))}</b> · {HINT}")
        if not keep_view:
            self.lod.fit_view(padding=0.04)
        elif self.lod.large:
            self.lod.refresh()
        self.show_message("")

    def _colors(self):
        codes, colors = point_colors(self.data, self.color_mode, self.legend)
        self._place_overlays()
        return codes, colors

    def set_color_mode(self, mode: str) -> None:
        """Colour the points by ``mode``; ``colorModeChanged`` says so when it is a change (whoever
        asked: the colour box, the application model, a script)."""
        changed = mode != self.color_mode
        self.color_mode = mode
        if self.data is not None:
            self.lod.set_colors(*self._colors())
        i = self.color_box.findData(mode)
        if i >= 0 and i != self.color_box.currentIndex():
            self.color_box.blockSignals(True)
            self.color_box.setCurrentIndex(i)
            self.color_box.blockSignals(False)
        if changed:
            self.colorModeChanged.emit(mode)

    def _on_color_box(self, i):
        mode = self.color_box.itemData(i)
        if mode:
            self.set_color_mode(mode)

    def _on_projection_box(self, i):
        m = self.projection_box.itemData(i)
        if m:
            self.projectionChanged.emit(m)

    def _on_manifold_toggled(self, on: bool):
        self.manifold.setVisible(on)
        self.manifoldToggled.emit(on)

    # ---- markers ----------------------------------------------------------------------
    def set_current(self, xy) -> None:
        """Put the current-latent marker at map position ``xy`` (None hides it)."""
        if xy is None:
            self.current_mark.hide()
            return
        self.current_mark.setPos(float(xy[0]), float(xy[1]))
        if not self.current_mark.isVisible():
            self.current_mark.show()

    def current_position(self) -> tuple[float, float] | None:
        if not self.current_mark.isVisible():
            return None
        p = self.current_mark.pos()
        return p.x(), p.y()

    def set_selected(self, index: int | None) -> None:
        if index is None or index >= len(self.xy):
            self.selected_mark.clear()
        else:
            self.selected_mark.setData(x=[float(self.xy[index, 0])], y=[float(self.xy[index, 1])])

    def add_overlay(self, overlay) -> None:
        """Draw an overlay's items (``items``) over the points, outside the map's auto-range."""
        for item in overlay.items:
            self.plot.addItem(item, ignoreBounds=True)

    def set_manifold(self, mosaic: np.ndarray, rect) -> None:
        img = for_display(mosaic)
        self.manifold.setImage(img, autoLevels=False, levels=(0, 255))
        self.manifold.setRect(QRectF(*rect))

    def visible_range(self) -> tuple[float, float, float, float]:
        (x0, x1), (y0, y1) = self.vb.viewRange()
        return x0, x1, y0, y1

    def _on_range_changed(self, *args):
        self.visibleRangeChanged.emit(*self.visible_range())

    # ---- hit testing ------------------------------------------------------------------
    def point_at(self, p: QPointF, radius_px: float = HIT_RADIUS_PX) -> int | None:
        """The point under ``p`` (exact over all points, drawn or not, by the level of detail's KD-tree)."""
        return self.lod.index.nearest(p, self.vb.viewPixelSize() if len(self.xy) else (0, 0), radius_px)

    def _in_hull(self, p: QPointF) -> bool:
        return len(self.pins) >= 3 and hull_contains(self.xy[self.pins], p)

    def _drag_mode_at(self, p: QPointF):
        i = self.point_at(p)
        if i is not None and i not in self.pins and not self.lod.is_drawn(i):
            i = None  # a large map: a drag morphs from a point that is drawn, else it pans
        if self._in_hull(p) and (i is None or i not in self.pins):
            return "blend"  # inside the pins' hull a drag blends them (from a pin it still morphs)
        return "morph" if i is not None else None

    # ---- mouse ------------------------------------------------------------------------
    def _on_mouse_moved(self, scene_pos):
        if self.data is None or self._morph_from is not None:
            return
        p = self.vb.mapSceneToView(scene_pos)
        i = self.point_at(p)
        if i is None:
            self.card.hide_card()
            return
        lab = "" if self.labels is None else f"{self.data.label_name} {self.data.label_text(i)} · "
        paths = getattr(self.data, "paths", None)
        name = _short_name(paths[i]) if paths else f"#{i}"
        text = f"{lab}{name}" + (f"\nerror {e:.4f}" if np.isfinite(e := self.data.recon_error[i]) else "")
        at = self.plot.mapFromScene(scene_pos)
        self.card.show_point(i, self.data.images[i], text, QPoint(int(at.x()), int(at.y())))

    def _on_click(self, p: QPointF, modifiers):
        if self.data is None:
            return
        i = self.point_at(p)
        pin_mod = modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        if i is not None and pin_mod:
            self.toggle_pin(i)
        elif i is not None:
            self.pointClicked.emit(i, modifiers)
        elif self._in_hull(p):
            self.blendMoved.emit(p.x(), p.y())
        else:
            self.placeClicked.emit(p.x(), p.y())

    def _on_drag_start(self, mode, start: QPointF, p: QPointF):
        self.card.hide_card()
        if mode == "morph":
            self._morph_from = self.point_at(start)
            self._on_drag_move(mode, p)
        elif mode == "blend":
            self.blendMoved.emit(p.x(), p.y())

    def _on_drag_move(self, mode, p: QPointF):
        if mode == "morph" and self._morph_from is not None:
            a = self.xy[self._morph_from]
            self.drag_line.setData(x=[float(a[0]), p.x()], y=[float(a[1]), p.y()])
            b = self.point_at(p)
            self.morphMoved.emit(self._morph_from, p.x(), p.y(), -1 if b is None or b == self._morph_from else b)
        elif mode == "blend":
            self.blendMoved.emit(p.x(), p.y())

    def _on_drag_finish(self, mode, p: QPointF):
        if mode == "morph" and self._morph_from is not None:
            a, self._morph_from = self._morph_from, None
            self.drag_line.clear()
            b = self.point_at(p)
            self.morphDropped.emit(a, p.x(), p.y(), -1 if b is None or b == a else b)
        elif mode == "blend":
            self.blendMoved.emit(p.x(), p.y())

    # ---- pins -------------------------------------------------------------------------
    def toggle_pin(self, i: int) -> None:
        if i in self.pins:
            self.pins.remove(i)
        else:
            self.pins.append(i)
        self._update_pins()

    def set_pins(self, pins, emit: bool = False) -> None:
        """Show ``pins`` (the application model's, in the order pinned); those off this map are left out."""
        n = len(self.xy) if getattr(self, "xy", None) is not None else 0
        self.pins = [int(i) for i in pins if 0 <= int(i) < n]
        self._update_pins(emit)

    def clear_pins(self, emit: bool = True) -> None:
        self.pins = []
        self._update_pins(emit)

    def _update_pins(self, emit: bool = True) -> None:
        if self.pins:
            pts = self.xy[self.pins]
            self.pin_marks.setData(x=pts[:, 0], y=pts[:, 1])
        else:
            self.pin_marks.clear()
        if len(self.pins) >= 3:
            pts = self.xy[self.pins]
            h = pts[np.r_[convex_hull(pts), convex_hull(pts)[:1]]]
            self.hull.setData(x=h[:, 0], y=h[:, 1])
        else:
            self.hull.setData(x=[], y=[])
        self.clear_pins_button.setEnabled(bool(self.pins))
        if emit:
            self.pinsChanged.emit(list(self.pins))
