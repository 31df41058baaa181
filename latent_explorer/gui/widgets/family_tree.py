"""The family tree of a breeding session: one row per generation, a thumbnail per node, a line from each
child up to each of its parents (thicker for a larger weight). Clicking a node asks to go back to it.

The node looked at has the accent frame, the parents chosen for the next breeding the blue one.

A tree soon outgrows a short dock (1280 × 720 gives it about 370 × 140 px), and shrinking it to fit
made its names unreadable; so it is drawn at full size and scrolls (drag the background, or the
wheel), Ctrl+wheel or the − / + buttons zoom, and Fit shows as much of it as fits. The buttons are
``zoom_bar``, which the owner lays out beside the view (the Breed panel: in the tree's heading row),
never over the nodes to click. The zoom never goes below ``MIN_ZOOM``: a node is never smaller than
``min_node_px()`` and a name never smaller than 9 px, and the view is never too low for one row of
them (with the horizontal scroll bar). After a breeding the newest brood is scrolled into view; otherwise (a thumbnail
arriving, a node clicked) the view stays where it was and only makes sure the node looked at shows.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen, QTransform
from PySide6.QtWidgets import (QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsView, QHBoxLayout,
                               QToolButton, QWidget)

from ..theme import ACCENT, ACCENT2, BASE, MUTED, PANEL, TEXT
from .imaging import to_pixmap

NODE = 44        # px at zoom 1: a node's thumbnail
LABEL = 16       # px: its name under it (the lines to its children start below the name)
LABEL_PX = 12    # px at zoom 1: the names' font
GAP_X, GAP_Y = 12, 24
LEFT = 58        # px: the generation names' column
TOP = 8          # px: above the first row
MIN_ZOOM = 0.75  # the smallest zoom: nodes of 33 px, names of 9 px; a bigger tree scrolls
MAX_ZOOM = 3.0
FIT_MAX = 1.5    # Fit enlarges a small tree up to this
ZOOM_STEP = 1.25
MARGIN = 10      # px kept around a node scrolled into view
BUTTON_STYLE = (f"QToolButton {{ background: {PANEL}; color: {TEXT}; border: 1px solid #3a3f4b; border-radius: 3px;"
                f" padding: 0px 6px; }} QToolButton:hover {{ border-color: {ACCENT2}; }}")


class FamilyTreeView(QGraphicsView):
    #: a node was clicked (its id)
    nodeClicked = Signal(int)
    #: the zoom changed (its new value)
    zoomChanged = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QBrush(QColor(BASE)))
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)  # drag the background to pan
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # set_zoom keeps its own anchor
        # one row (a node and its name, a few px around) at the smallest zoom, under the frame, over the scroll bar
        row = (NODE + LABEL + 2 + 2 * 4) * MIN_ZOOM
        self.setMinimumHeight(math.ceil(row) + 2 * self.frameWidth() + self.horizontalScrollBar().sizeHint().height())
        self.positions: dict[int, tuple[float, float]] = {}   # node id -> its thumbnail's top-left
        self.zoom = 1.0
        self.newest: list[int] = []   # the newest brood (the nodes of the last breeding), left to right
        self._newest_key = None
        self._following = False       # showing the newest brood, until the user scrolls: kept on resizing
        self._current = None
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.actionTriggered.connect(self._user_scrolled)
        self.buttons = {}  # −, + and Fit, in a bar laid out beside the view (a child's place is over the nodes)
        self.zoom_bar = QWidget(self)
        bar = QHBoxLayout(self.zoom_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(3)
        for text, tip, slot in (("−", "smaller (Ctrl+wheel)", self.zoom_out),
                                ("+", "larger (Ctrl+wheel)", self.zoom_in),
                                ("Fit", "as much of the tree as fits, the newest generation in view", self.fit)):
            b = QToolButton(self.zoom_bar)
            b.setText(text)
            b.setToolTip(tip)
            b.setCursor(Qt.CursorShape.ArrowCursor)
            b.setStyleSheet(BUTTON_STYLE)
            b.clicked.connect(slot)
            self.buttons[text] = b
            bar.addWidget(b)
        self.zoom_bar.hide()  # until its owner lays it out
        self._empty()

    def _empty(self) -> None:
        t = self.scene().addText("The family tree grows here: pick parents, then Breed.")
        t.setDefaultTextColor(QColor(MUTED))

    # ---- drawing ---------------------------------------------------------------------------
    def set_tree(self, nodes: list, thumbs: dict, chosen=(), current: int | None = None) -> None:
        """``nodes``: objects with ``id``, ``generation``, ``parents``, ``weights``, ``label`` (and
        ``brood``); ``thumbs``: id -> uint8 image; ``chosen``: the parents of the next breeding;
        ``current``: the node looked at."""
        sc = self.scene()
        scroll = (self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        sc.clear()
        self.positions, self.newest = {}, []
        if not nodes:
            self._empty()
            self._newest_key = None
            sc.setSceneRect(sc.itemsBoundingRect())
            return
        self._layout(nodes)
        font = QFont()
        font.setPixelSize(LABEL_PX)
        self._lines(nodes)
        by_id = {n.id: n for n in nodes}
        for nid, (x, y) in self.positions.items():
            frame = ACCENT if nid == current else ACCENT2 if nid in chosen else None
            self._node(by_id[nid], thumbs.get(nid), x, y, frame, font, by_id)
        sc.setSceneRect(sc.itemsBoundingRect().adjusted(-4, -4, 8, 8))
        last = max(nodes, key=lambda n: n.id)
        key = getattr(last, "brood", -1) if last.parents else ("root", last.id)
        self.newest = [n.id for n in sorted(nodes, key=lambda n: n.id)
                       if (n.parents and getattr(n, "brood", -1) == key) or n.id == last.id]
        grew, self._newest_key = key != self._newest_key, key
        if grew:
            self.show_newest()
        else:  # where it was; a node newly looked at (a click, Ctrl+Z) scrolled into view
            self.horizontalScrollBar().setValue(scroll[0])
            self.verticalScrollBar().setValue(scroll[1])
            if current != self._current and current in self.positions:
                self.reveal(current)
                if (self.horizontalScrollBar().value(), self.verticalScrollBar().value()) != scroll:
                    self._following = False
        self._current = current

    def _layout(self, nodes) -> None:
        """A row per generation (its name on the left), nodes in the order they were made."""
        rows: dict[int, list] = {}
        for n in sorted(nodes, key=lambda n: n.id):
            rows.setdefault(n.generation, []).append(n)
        font = QFont()
        font.setPixelSize(LABEL_PX - 1)
        for g, row in sorted(rows.items()):
            y = TOP + g * (NODE + LABEL + GAP_Y)
            name = self.scene().addText("picked" if g == 0 else f"gen {g}", font)
            name.setDefaultTextColor(QColor(MUTED))
            name.setPos(2, y + NODE / 2 - name.boundingRect().height() / 2)
            for k, n in enumerate(row):
                self.positions[n.id] = (LEFT + k * (NODE + GAP_X), y)

    def _lines(self, nodes) -> None:
        """A line from each child up to each parent, under the thumbnails; wider and stronger for a
        larger weight."""
        for n in nodes:
            x, y = self.positions[n.id]
            for p, w in zip(n.parents, n.weights or [1.0] * len(n.parents)):
                if p in self.positions:
                    px, py = self.positions[p]
                    col = QColor(ACCENT2)
                    col.setAlphaF(0.25 + 0.6 * float(w))
                    line = self.scene().addLine(x + NODE / 2, y - 2, px + NODE / 2, py + NODE + LABEL,
                                                QPen(col, 0.8 + 3.5 * float(w)))
                    line.setZValue(-1)

    def _node(self, n, img, x: float, y: float, frame: str | None, font, by_id: dict) -> None:
        sc = self.scene()
        if img is not None:
            pm = to_pixmap(img, NODE).scaled(NODE, NODE, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
            item = QGraphicsPixmapItem(pm)
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            item.setPos(x + (NODE - pm.width()) / 2, y + (NODE - pm.height()) / 2)
            sc.addItem(item)
        else:  # its picture is being decoded
            item = sc.addRect(x, y, NODE, NODE, QPen(QColor(MUTED)), QBrush(QColor(PANEL)))
        box = QGraphicsRectItem(x - 2, y - 2, NODE + 4, NODE + 4)
        box.setPen(QPen(QColor(frame), 3) if frame else QPen(Qt.PenStyle.NoPen))
        box.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        sc.addItem(box)
        label = sc.addText(QFontMetrics(font).elidedText(n.label, Qt.TextElideMode.ElideRight, NODE + GAP_X - 2),
                           font)
        label.setDefaultTextColor(QColor(TEXT if frame else MUTED))
        label.setPos(x + NODE / 2 - label.boundingRect().width() / 2, y + NODE - 3)
        tip = n.label if not n.parents else (f"{n.label} = " + " + ".join(
            f"{w:.2f}·{by_id[p].label if p in by_id else p}" for p, w in zip(n.parents, n.weights))
            + f" + {n.mutation:.2f}·ε (seed {n.seed})")
        for it in (item, box, label):
            it.setData(0, n.id)
            it.setToolTip(tip + "\nclick: go back to it")

    # ---- where the view looks --------------------------------------------------------------
    def node_rect(self, nid: int) -> QRectF:
        """Node ``nid`` with its name, in scene coordinates."""
        x, y = self.positions[nid]
        return QRectF(x - 2, y - 2, NODE + 4, NODE + LABEL + 2)

    def reveal(self, nid: int) -> None:
        """Scroll node ``nid`` (and its name) into view, if it is not already."""
        if nid in self.positions:
            r, vp = self.node_rect(nid), self.viewport().size()  # the margins shrink in a low or narrow view
            mx, my = (max(0, min(MARGIN, int((v - self.zoom * s) / 2))) for v, s in
                      ((vp.width(), r.width()), (vp.height(), r.height())))
            self.ensureVisible(r, mx, my)

    def show_newest(self) -> None:
        """Scroll the newest brood into view: its row from its first node on, as much as fits."""
        if not self.newest or self.newest[0] not in self.positions:
            return
        row = self.node_rect(self.newest[0]).united(self.node_rect(self.newest[-1]))
        width = self.viewport().width() / self.zoom - 2 * MARGIN
        if row.width() > width:  # too wide: from its start (and the generation's name)
            row.setWidth(max(NODE, width))
        self.ensureVisible(row, MARGIN, MARGIN)
        if row.left() - LEFT < MARGIN:
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
        self._following = True

    def _user_scrolled(self, *_) -> None:
        self._following = False

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self._following:  # a dock just opened or resized: the newest brood stays in view
            self.show_newest()

    # ---- zoom ------------------------------------------------------------------------------
    def min_node_px(self) -> float:
        """A node's side on screen at the smallest zoom."""
        return NODE * MIN_ZOOM

    def node_px(self) -> float:
        """A node's side on screen now."""
        return NODE * self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> float:
        """Zoom to ``zoom`` (kept within ``MIN_ZOOM`` … ``MAX_ZOOM``) about ``anchor`` (a viewport point,
        default its centre: what is there stays there); the zoom now."""
        z = min(MAX_ZOOM, max(MIN_ZOOM, float(zoom)))
        if abs(z - self.zoom) > 1e-9 or abs(self.transform().m11() - z) > 1e-9:
            at = anchor if anchor is not None else self.viewport().rect().center()
            spot = self.mapToScene(at)
            self.zoom = z
            self.setTransform(QTransform.fromScale(z, z))
            moved = self.mapFromScene(spot) - at
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
            self.zoomChanged.emit(z)
        return self.zoom

    def zoom_in(self) -> float:
        return self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> float:
        return self.set_zoom(self.zoom / ZOOM_STEP)

    def fit(self) -> float:
        """As much of the tree as fits: all of it, enlarged up to ``FIT_MAX``, or shrunk down to
        ``MIN_ZOOM`` and then the newest brood in view."""
        r, vp = self.sceneRect(), self.viewport().size()
        if r.width() <= 0 or r.height() <= 0 or vp.width() <= 0:
            return self.zoom
        z = self.set_zoom(min(FIT_MAX, vp.width() / r.width(), vp.height() / r.height()))
        self.show_newest()
        return z

    def wheelEvent(self, ev) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Ctrl+wheel zooms about the pointer
            steps = ev.angleDelta().y() / 120
            if steps:
                self.set_zoom(self.zoom * ZOOM_STEP ** steps, ev.position().toPoint())
            self._following = False
            ev.accept()
            return
        super().wheelEvent(ev)

    # ---- clicks ----------------------------------------------------------------------------
    def node_at(self, pos) -> int | None:
        for it in self.items(pos):
            nid = it.data(0)
            if nid is not None:
                return int(nid)
        return None

    def mousePressEvent(self, ev) -> None:
        nid = self.node_at(ev.position().toPoint())
        if nid is not None and ev.button() == Qt.MouseButton.LeftButton:
            self._following = False
            self.nodeClicked.emit(nid)
            ev.accept()
            return
        self._following = False  # the background dragged: a pan
        super().mousePressEvent(ev)
