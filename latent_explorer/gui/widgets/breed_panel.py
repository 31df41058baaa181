"""The Breed dock: parents → a grid of children → pick some → the next generation, beside the family tree.

Left: the parents row (add the pinned map points, the bookmarks or the preview's latent), the
mutation slider and the number of children, **Breed**; the children grid (click one to look at it
in the big preview, tick the ones to breed on), **Next generation**, **Export child…** and undo /
redo of breeding steps. Right: the family tree (``family_tree.FamilyTreeView``). The panel only
shows and asks; ``controllers.breeding.BreedController`` decides.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QSlider, QSpinBox, QSplitter, QVBoxLayout,
                               QWidget)

from .family_tree import FamilyTreeView
from .panels import heading

CHILD = 72       # px: a child's thumbnail in the grid
PARENT = 48      # px: a parent's thumbnail
MUTATION_STEPS = 100   # the slider: 0 … 1 σ in hundredths


def _button(text: str, tip: str, signal) -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    b.clicked.connect(signal.emit)
    return b


def _icon_list(side: int, height: int) -> QListWidget:
    lst = QListWidget()
    lst.setViewMode(QListView.ViewMode.IconMode)
    lst.setIconSize(QSize(side, side))
    lst.setMovement(QListView.Movement.Static)
    lst.setResizeMode(QListView.ResizeMode.Adjust)
    lst.setSpacing(4)
    lst.setGridSize(QSize(side + 18, side + 24))
    lst.setWordWrap(False)
    lst.setMinimumHeight(height)
    lst.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    return lst


def _column(parts) -> QScrollArea:
    """Widgets and layouts stacked (a list of icons stretches, else the space below), scrolling when the
    dock is short."""
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(6, 2, 6, 2)
    lay.setSpacing(3)
    grows = not (isinstance(parts[1], QListWidget) and parts[1].maximumHeight() < 1000)
    for i, p in enumerate(parts):
        lay.addLayout(p) if isinstance(p, QHBoxLayout) else lay.addWidget(p, 1 if i == 1 and grows else 0)
    if not grows:
        lay.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(w)
    return scroll


class BreedPanel(QWidget):
    addPinned = Signal()
    addBookmarks = Signal()
    addCurrent = Signal()
    clearParents = Signal()
    breedRequested = Signal()
    nextRequested = Signal()
    exportRequested = Signal()
    undoRequested = Signal()
    redoRequested = Signal()
    #: a node was clicked (a parent, a child or a node of the tree): look at it
    nodeClicked = Signal(int)
    #: a node of the tree was clicked: go back to it
    treeClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("BreedPanel")
        self.parents = _icon_list(PARENT, PARENT + 30)
        self.parents.setFlow(QListView.Flow.LeftToRight)
        self.parents.setWrapping(False)
        self.parents.setMaximumHeight(PARENT + 34)
        self.parents.setMinimumWidth(4 * (PARENT + 18))
        self.parents.itemClicked.connect(lambda it: self.nodeClicked.emit(int(it.data(Qt.ItemDataRole.UserRole))))
        adders = QHBoxLayout()
        for text, tip, sig in (("+ Pinned", "the images pinned on the map (Ctrl-click them)", self.addPinned),
                               ("+ Bookmarks", "every bookmark", self.addBookmarks),
                               ("+ Current", "the latent on the preview (a map point, a result, a child)",
                                self.addCurrent),
                               ("Clear", "no parents", self.clearParents)):
            adders.addWidget(_button(text, tip, sig))
        adders.addStretch(1)
        self.mutation = QSlider(Qt.Orientation.Horizontal)
        self.mutation.setRange(0, MUTATION_STEPS)
        self.mutation.setValue(20)
        self.mutation.setToolTip("how far each child strays from its parents' blend: noise of this many σ "
                                 "of the prior")
        self.mutation_label = QLabel()
        self.mutation_label.setMinimumWidth(110)
        self.mutation.valueChanged.connect(self._show_mutation)
        self._show_mutation()
        self.count = QSpinBox()
        self.count.setRange(2, 16)
        self.count.setValue(8)
        self.count.setSuffix(" children")
        self.breed_button = _button("Breed", "children = random blends of the parents + the mutation",
                                    self.breedRequested)
        self.breed_button.setProperty("role", "primary")
        knobs, go = QHBoxLayout(), QHBoxLayout()
        knobs.addWidget(self.mutation_label)
        knobs.addWidget(self.mutation, 1)
        go.addWidget(self.count)
        go.addWidget(self.breed_button)
        go.addStretch(1)
        self.children = _icon_list(CHILD, CHILD // 2 + 16)  # a short dock: the grid scrolls, the buttons stay
        self.children.itemClicked.connect(lambda it: self.nodeClicked.emit(int(it.data(Qt.ItemDataRole.UserRole))))
        self.children.itemChanged.connect(lambda it: self._show_checked())
        self.next_button = _button("Next generation", "breed the ticked children (tick one or more)",
                                   self.nextRequested)
        self.export_button = _button("Export child…", "the child looked at as a PNG whose recipe holds its "
                                     "whole lineage", self.exportRequested)
        # arrows alone: the four buttons fit the column at 1024 px (the words are in the tooltips)
        self.undo_button = _button("↶", "undo breeding step: take back the last generation made or the "
                                   "parents chosen (Ctrl+Alt+Z)", self.undoRequested)
        self.redo_button = _button("↷", "redo breeding step (Ctrl+Alt+Shift+Z)", self.redoRequested)
        for b in (self.undo_button, self.redo_button):
            b.setAccessibleName(b.toolTip().split(":")[0].split(" (")[0])
        actions = QHBoxLayout()
        for w in (self.next_button, self.export_button, None, self.undo_button, self.redo_button):
            actions.addStretch(1) if w is None else actions.addWidget(w)
        self.status = QLabel("Pick two to six parents: pin images on the map, then + Pinned.")
        self.status.setProperty("role", "caption")
        self.status.setMinimumWidth(40)  # one line, cut short when narrow (wrapped, it would make its column scroll)
        self.tree = FamilyTreeView()
        self.tree.nodeClicked.connect(self.treeClicked.emit)
        legend = QLabel("line width = weight · orange: on the preview · blue: next parents")
        legend.setProperty("role", "caption")
        legend.setMinimumWidth(40)  # cut short when narrow, as the status line
        legend.setToolTip("one row per generation; each child has a line to each of its parents\n"
                          "drag the background or use the wheel to scroll; Ctrl+wheel or − / + zoom")
        tree_heading = QHBoxLayout()  # the zoom buttons beside the heading, never over the nodes
        title = heading("Family tree")  # short: the zoom buttons share its row (1024 px leaves about 260)
        title.setToolTip("click a node to go back to it")
        title.setMinimumWidth(40)  # cut short when narrow: the tree keeps its column's width
        tree_heading.addWidget(title, 1)
        tree_heading.addWidget(self.tree.zoom_bar)
        self.tree.zoom_bar.show()
        # three columns side by side, so a short window (1280 × 720) still shows the children
        split = QSplitter(Qt.Orientation.Horizontal)
        for parts, stretch in (((heading("Parents"), self.parents, adders, knobs, go), 0),
                               ((heading("Children: click to look, tick to breed on"), self.children, actions,
                                 self.status), 5),
                               ((tree_heading, self.tree, legend), 4)):
            split.addWidget(_column(parts))
            split.setStretchFactor(split.count() - 1, stretch)
        column = split.widget(2)  # never narrower than its heading row: the zoom buttons are never cut off
        column.setMinimumWidth(column.widget().minimumSizeHint().width() + column.verticalScrollBar().sizeHint().width())
        split.setSizes([400, 480, 400])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)
        self.set_steps(False, False)
        self._show_checked()

    # ---- what the controller reads -------------------------------------------------------
    def mutation_value(self) -> float:
        return self.mutation.value() / MUTATION_STEPS

    def checked(self) -> list[int]:
        out = []
        for r in range(self.children.count()):
            it = self.children.item(r)
            if it.checkState() == Qt.CheckState.Checked:
                out.append(int(it.data(Qt.ItemDataRole.UserRole)))
        return out

    # ---- what the controller shows -------------------------------------------------------
    def _show_mutation(self) -> None:
        self.mutation_label.setText(f"mutation {self.mutation_value():.2f} σ")

    def _show_checked(self) -> None:
        n = len(self.checked())
        self.next_button.setEnabled(n > 0)
        self.next_button.setText(f"Next generation ({n})" if n else "Next generation")

    def _fill(self, lst: QListWidget, side: int, entries, checkable: bool, current) -> None:
        from .imaging import to_pixmap

        lst.blockSignals(True)
        lst.clear()
        for nid, label, img, tip, checked in entries:
            it = QListWidgetItem(label)
            it.setData(Qt.ItemDataRole.UserRole, nid)
            it.setToolTip(tip)
            if img is not None:  # the same picture when selected (not tinted): the frame says it is
                pm = to_pixmap(img, side).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation)
                icon = QIcon(pm)
                icon.addPixmap(pm, QIcon.Mode.Selected)
                it.setIcon(icon)
            if checkable:
                it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            lst.addItem(it)
            if nid == current:
                it.setSelected(True)
        lst.blockSignals(False)

    def set_parents(self, entries, current=None) -> None:
        """``entries``: (id, label, image or None, tooltip, _) for each parent chosen."""
        self._fill(self.parents, PARENT, entries, False, current)

    def set_children(self, entries, current=None) -> None:
        """``entries``: (id, label, image or None, tooltip, ticked) for each child of the brood shown."""
        self._fill(self.children, CHILD, entries, True, current)
        self._show_checked()

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def set_steps(self, can_undo: bool, can_redo: bool) -> None:
        self.undo_button.setEnabled(can_undo)
        self.redo_button.setEnabled(can_redo)

    def item_rect(self, nid: int, children: bool = True):
        """Where node ``nid`` is drawn in the children grid (or the parents row), for tests and the lab."""
        lst = self.children if children else self.parents
        for r in range(lst.count()):
            if int(lst.item(r).data(Qt.ItemDataRole.UserRole)) == nid:
                return lst.visualItemRect(lst.item(r))
        return None
