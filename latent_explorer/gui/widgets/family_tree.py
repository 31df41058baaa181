"""The family tree of a breeding session: one row per generation, a thumbnail per node, a line from each
child up to each of its parents (thicker for a larger weight). Clicking a node asks to go back to it.

The node looked at has the accent frame, the parents chosen for the next breeding the blue one.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsView

from ..theme import ACCENT, ACCENT2, BASE, MUTED, PANEL, TEXT
from .imaging import to_pixmap

NODE = 48        # px: a node's thumbnail
LABEL = 15       # px: its name under it (the lines to its children start below the name)
GAP_X, GAP_Y = 10, 30
MIN_SCALE = 0.6  # a wide tree is shrunk to fit the view, down to this; then it scrolls
LEFT = 64        # px: the generation names' column


class FamilyTreeView(QGraphicsView):
    #: a node was clicked (its id)
    nodeClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QBrush(QColor(BASE)))
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setMinimumHeight(60)
        self.positions: dict[int, tuple[float, float]] = {}   # node id -> its thumbnail's top-left
        self._empty()

    def _empty(self) -> None:
        t = self.scene().addText("The family tree grows here: pick parents, then Breed.")
        t.setDefaultTextColor(QColor(MUTED))

    def set_tree(self, nodes: list, thumbs: dict, chosen=(), current: int | None = None) -> None:
        """``nodes``: objects with ``id``, ``generation``, ``parents``, ``weights`` and ``label``;
        ``thumbs``: id -> uint8 image; ``chosen``: the parents of the next breeding; ``current``: the
        node looked at."""
        sc = self.scene()
        sc.clear()
        self.positions = {}
        if not nodes:
            self._empty()
            return
        rows: dict[int, list] = {}
        for n in sorted(nodes, key=lambda n: n.id):
            rows.setdefault(n.generation, []).append(n)
        small = QFont()
        small.setPointSizeF(7.5)
        for g, row in sorted(rows.items()):
            y = 8 + g * (NODE + LABEL + GAP_Y)
            name = sc.addText("picked" if g == 0 else f"gen {g}", small)
            name.setDefaultTextColor(QColor(MUTED))
            name.setPos(4, y + NODE / 2 - 10)
            for k, n in enumerate(row):
                self.positions[n.id] = (LEFT + k * (NODE + GAP_X), y)
        by_id = {n.id: n for n in nodes}
        for n in nodes:  # the lines first, under the thumbnails
            x, y = self.positions[n.id]
            for p, w in zip(n.parents, n.weights or [1.0] * len(n.parents)):
                if p in self.positions:
                    px, py = self.positions[p]
                    col = QColor(ACCENT2)
                    col.setAlphaF(0.25 + 0.6 * float(w))
                    line = sc.addLine(x + NODE / 2, y - 2, px + NODE / 2, py + NODE + LABEL,
                                      QPen(col, 0.8 + 3.5 * float(w)))
                    line.setZValue(-1)
        for nid, (x, y) in self.positions.items():
            n = by_id[nid]
            frame = ACCENT if nid == current else ACCENT2 if nid in chosen else None
            self._node(n, thumbs.get(nid), x, y, frame, small)
        sc.setSceneRect(sc.itemsBoundingRect().adjusted(-4, -4, 8, 8))
        self._fit()
        if current in self.positions:
            x, y = self.positions[current]
            self.ensureVisible(QRectF(x, y, NODE, NODE), 20, 20)

    def _fit(self) -> None:
        """Shrink a tree wider or taller than the view to fit it (never below ``MIN_SCALE``)."""
        r, vp = self.sceneRect(), self.viewport().size()
        if r.width() <= 0 or vp.width() <= 0:
            return
        s = max(MIN_SCALE, min(1.0, vp.width() / r.width(), vp.height() / r.height()))
        self.resetTransform()
        self.scale(s, s)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self.positions:
            self._fit()

    def _node(self, n, img, x: float, y: float, frame: str | None, font) -> None:
        sc = self.scene()
        if img is not None:
            pm = to_pixmap(img, NODE).scaled(NODE, NODE, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
            item = QGraphicsPixmapItem(pm)
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
        label.setPos(x + NODE / 2 - label.boundingRect().width() / 2, y + NODE - 1)
        tip = n.label if not n.parents else (f"{n.label}: " + " + ".join(
            f"{w:.2f}·{p}" for p, w in zip(n.parents, n.weights)) + f" + {n.mutation:.2f}·ε (seed {n.seed})")
        for it in (item, box, label):
            it.setData(0, n.id)
            it.setToolTip(tip + "\nclick: go back to it")

    def node_at(self, pos) -> int | None:
        for it in self.items(pos):
            nid = it.data(0)
            if nid is not None:
                return int(nid)
        return None

    def mousePressEvent(self, ev) -> None:
        nid = self.node_at(ev.position().toPoint())
        if nid is not None and ev.button() == Qt.MouseButton.LeftButton:
            self.nodeClicked.emit(nid)
            ev.accept()
            return
        super().mousePressEvent(ev)
