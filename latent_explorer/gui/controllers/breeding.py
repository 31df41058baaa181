"""The breeding controller: parents → children → the next generation, with a family tree (View → Breed, Ctrl+B).

It owns the ``core.latent.breeding.FamilyTree`` and the nodes' thumbnails (decoded by the worker,
a coalescing "breed" request; a slow decoder's approximate decodes). Looking at a child puts it on
the preview as a history entry, so Ctrl+Z walks back through the children looked at, across
generations. Breeding steps (a generation made, parents chosen) have their own undo / redo
(Edit → Undo breeding step, Ctrl+Alt+Z; the dock's buttons): undoing a generation takes its
children out of the tree, and redoing it puts the same children back. Clicking a tree node goes
back to it: the grid shows its brood, the parents row its parents. Any node exports as a PNG
whose recipe holds its whole lineage (``breeding_recipe``), which replays to the same latent.
"""
from __future__ import annotations

from ...core.errors import UserError

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from ...app.jobs import breeding as breed_jobs
from ...app.jobs import exports as export_jobs
from ...core.latent.breeding import MAX_PARENTS, FamilyTree, breeding_recipe, describe
from .. import memory

BREED_HEIGHT = 330  # px: the dock, the first time it opens


class BreedController(QObject):
    #: the tree, the parents or the children changed (after the panel shows them)
    changed = Signal()
    #: thumbnails arrived (after the panel shows them)
    thumbnailsShown = Signal()

    def __init__(self, ctx):
        from ..docks import BOTTOM, dock
        from ..widgets.breed_panel import BreedPanel

        super().__init__(ctx)
        self.ctx = ctx
        self.panel = BreedPanel()
        self.dock = dock(ctx.window, "Breed: children and their family tree", "BreedDock", self.panel, BOTTOM)
        self.dock.hide()
        self.thumbs: dict[int, np.ndarray] = {}
        self.approximate = False     # the thumbnails are a slow decoder's approximate decodes
        self.current: int | None = None   # the node looked at
        self._seed = 0
        self.summary = ""            # what the last breeding made, in words (the panel's status line)
        self._sized = False
        self.dock.visibilityChanged.connect(self._size_once)
        ctx.model.events.family.connect(self._on_family)

    @property
    def tree(self) -> FamilyTree:
        """The family tree (``model.family``)."""
        return self.ctx.model.family

    @tree.setter
    def tree(self, tree: FamilyTree) -> None:
        self.ctx.model.family = tree

    def _on_family(self, tree) -> None:
        """Another tree (a session's, or an empty one for another model): its thumbnails are decoded."""
        self.thumbs, self.current = {}, None
        self.show()
        self._decode_missing()

    def attach(self) -> None:
        p = self.panel
        p.addPinned.connect(self.add_pinned)
        p.addBookmarks.connect(self.add_bookmarks)
        p.addCurrent.connect(self.add_current)
        p.clearParents.connect(lambda: self.set_parents([]))
        p.breedRequested.connect(lambda: self.breed())
        p.nextRequested.connect(self.next_generation)
        p.exportRequested.connect(self.export_dialog)
        p.undoRequested.connect(self.undo_step)
        p.redoRequested.connect(self.redo_step)
        p.nodeClicked.connect(self.look)
        p.treeClicked.connect(self.go_to)
        self.ctx.model.loaded.connect(self._on_loaded)
        self.ctx.state.connect(self._on_state)
        self.ctx.worker.progress.connect(self._on_progress)

    def toggle_action(self):
        """View → Breed (Ctrl+B): shows or hides the dock."""
        from PySide6.QtGui import QKeySequence

        a = self.dock.toggleViewAction()
        a.setText("&Breed: children and a family tree")
        a.setShortcut(QKeySequence("Ctrl+B"))
        return a

    def open(self) -> None:
        self.dock.show()
        self.dock.raise_()

    def _size_once(self, visible: bool) -> None:
        if visible and not self._sized:  # the first time it opens: the map above keeps most of the height
            self._sized = True
            self.ctx.window.resizeDocks([self.dock], [BREED_HEIGHT], Qt.Orientation.Vertical)

    # ---- parents --------------------------------------------------------------------------
    def _add(self, latents, labels) -> list[int]:
        ids = []
        s = self.ctx.model.summary
        if s is not None:  # (bookmarks outlive a model change: one of another latent shape is no parent here)
            keep = [(z, lab) for z, lab in zip(latents, labels) if tuple(np.shape(z)) == tuple(s.latent_shape)]
            if len(keep) < len(latents):
                self.ctx.message(f"left out {len(latents) - len(keep)} latent(s) of another model's shape", 5000)
            latents, labels = [z for z, _ in keep], [lab for _, lab in keep]
        for z, label in zip(latents, labels):
            try:
                ids.append(self.tree.add_root(z, label))
            except ValueError as e:
                self.ctx.error(f"not a parent: {e}")
        room = MAX_PARENTS - len(self.tree.parents)
        if len(ids) > room:
            self.ctx.message(f"at most {MAX_PARENTS} parents: kept the first {room} of these", 5000)
        self.set_parents(self.tree.parents + [i for i in ids if i not in self.tree.parents][:max(0, room)])
        return ids

    def add_pinned(self) -> list[int]:
        maps, pins = self.ctx.model, list(self.ctx.model.pins)
        if not pins or maps.map is None:
            self.ctx.message("pin images on the map first (Ctrl-click them), then + Pinned", 5000)
            return []
        return self._add([maps.map.mean[i] for i in pins], [maps.label(i) for i in pins])

    def add_bookmarks(self) -> list[int]:
        items = self.ctx.model.bookmarks
        if not items:
            self.ctx.message("no bookmarks yet: Ctrl+D keeps the latent on the preview", 5000)
        return self._add([b.latent for b in items], [b.name for b in items])

    def add_current(self) -> list[int]:
        s = self.ctx.state
        if s.z is None:
            return []
        s.commit()
        return self._add([s.z], [s.source[:40] or "preview"])

    def set_parents(self, ids) -> None:
        self.tree.set_parents(ids)
        self.show()

    # ---- breeding -------------------------------------------------------------------------
    def breed(self, n: int | None = None, mutation: float | None = None, seed: int | None = None) -> list[int]:
        """A brood of children of the parents chosen: the panel's count and mutation unless given."""
        p = self.panel
        if not self.tree.parents:
            self.ctx.message("choose parents first: + Pinned, + Bookmarks or + Current", 5000)
            return []
        n = p.count.value() if n is None else n
        mutation = p.mutation_value() if mutation is None else mutation
        if seed is None:
            self._seed += 1
            seed = 1009 * (len(self.tree) + 1) + self._seed
        kids = self.tree.breed(n, mutation, seed)
        self.show()
        self._decode_missing()
        names = " × ".join(self.tree.nodes[i].label for i in self.tree.parents)
        self.summary = f"{len(kids)} children of {names} · mutation {mutation:.2f} σ · seeds {seed}…{seed + n - 1}"
        p.set_status(self.summary)
        return kids

    def next_generation(self) -> list[int]:
        """Breed the ticked children (one or more)."""
        picked = self.panel.checked()
        if not picked:
            self.ctx.message("tick one or more children to breed on", 4000)
            return []
        if len(picked) > MAX_PARENTS:
            self.ctx.message(f"at most {MAX_PARENTS} parents: bred the first {MAX_PARENTS} ticked "
                             f"of {len(picked)}", 6000)
        self.tree.set_parents(picked[:MAX_PARENTS])
        return self.breed()

    # ---- looking, going back --------------------------------------------------------------
    def describe(self, nid: int) -> str:
        return describe(self.tree, nid)

    def look(self, nid: int) -> None:
        """Node ``nid`` on the big preview (a history entry: Ctrl+Z comes back here)."""
        n = self.tree.nodes.get(nid)
        if n is None:
            return
        self.current = nid
        img = None if self.approximate else self.thumbs.get(nid)
        self.ctx.state.set(n.latent, f"breeding {n.label}", image=img)
        self.ctx.note(f"breeding: {self.describe(nid)}")
        self.show()

    def go_to(self, nid: int) -> None:
        """Back to a node of the tree: its brood in the grid, its parents in the parents row, it on the preview."""
        if nid in self.tree.nodes:
            self.tree.go_to(nid)
            self.look(nid)

    def _on_state(self, origin) -> None:
        """The preview moved (Ctrl+Z, the history list): follow it to the node it shows, if any."""
        z = self.ctx.state.z
        if z is None or not self.tree.nodes or self.ctx.state.editing:
            return
        nid = self.tree.find(z)
        if nid != self.current:
            self.current = nid
            if nid is not None and self.tree.nodes[nid].parents and nid not in self.tree.children:
                self.tree.go_to(nid)
            self.show()

    # ---- undo / redo of breeding steps ----------------------------------------------------
    def undo_step(self) -> None:
        what = self.tree.undo()
        self.ctx.message({"breed": "undid a generation", "parents": "undid the choice of parents"}.get(
            what, "no breeding step to undo"), 3000)
        self._after_step()

    def redo_step(self) -> None:
        what = self.tree.redo()
        self.ctx.message({"breed": "redid a generation", "parents": "redid the choice of parents"}.get(
            what, "no breeding step to redo"), 3000)
        self._after_step()

    def _after_step(self) -> None:
        if self.current not in self.tree.nodes:
            self.current = None
        self.thumbs = {i: im for i, im in self.thumbs.items() if i in self.tree.nodes}
        self.show()
        self._decode_missing()

    # ---- showing --------------------------------------------------------------------------
    def _entry(self, nid: int, checked: bool = False) -> tuple:
        n = self.tree.nodes[nid]
        return nid, n.label, self.thumbs.get(nid), self.describe(nid), checked

    def show(self) -> None:
        p, t = self.panel, self.tree
        p.set_parents([self._entry(i) for i in t.parents], self.current)
        ticked = set(p.checked())
        p.set_children([self._entry(i, i in ticked) for i in t.children if i in t.nodes], self.current)
        p.tree.set_tree(list(t.nodes.values()), self.thumbs, set(t.parents), self.current)
        p.set_steps(t.can_undo, t.can_redo)
        p.export_button.setEnabled(self.current is not None)
        self.changed.emit()

    def _decode_missing(self) -> int:
        missing = [i for i in self.tree.nodes if i not in self.thumbs]
        if not missing or self.ctx.model.summary is None or self.ctx.model.loading:
            return -1
        lat = [self.tree.nodes[i].latent for i in missing]
        return self.ctx.worker.submit("breed", breed_jobs.thumbnails, missing, lat, on_result=self._on_thumbs)

    def _on_progress(self, kind, rid, done, total, text) -> None:
        if kind == "breed":
            self.panel.set_status(text)

    def _on_thumbs(self, th) -> None:
        for nid, img in zip(th.ids, th.images):
            if nid in self.tree.nodes:
                self.thumbs[nid] = img
        self.approximate = th.approximate
        self.panel.set_status(self.summary + (" · approximate thumbnails (a slow decoder): click a child for its "
                                                  "full decode" if th.approximate else ""))
        self.show()
        self.thumbnailsShown.emit()

    def _on_loaded(self, s) -> None:
        """Another model: its decodes differ; a tree of another latent shape is put away."""
        self.thumbs = {}
        if self.tree.shape is not None and self.tree.shape != tuple(s.latent_shape):
            self.tree = FamilyTree()   # (_on_family shows it)
            return
        self.show()
        self._decode_missing()

    # ---- sessions and exports -------------------------------------------------------------
    def snapshot(self):
        """(the tree's description, its latents) for a session; None for an empty tree."""
        return self.tree.to_dict() if self.tree.nodes else None

    def restore(self, tree: FamilyTree | None) -> None:
        self.tree = tree or FamilyTree()   # (_on_family shows it)

    def export_child(self, path: str, nid: int | None = None, settings=None) -> int:
        """The node looked at (or ``nid``) as a PNG (its full decode) with its lineage in the recipe."""
        nid = self.current if nid is None else nid
        if nid not in self.tree.nodes:
            self.ctx.message("look at a child first (click it), then Export child…", 4000)
            return -1
        recipe = self.ctx.commands.recipe(**breeding_recipe(self.tree, nid), method=self.describe(nid))
        try:
            return self.ctx.commands.export(path, export_jobs.save_final_preview, self.tree.nodes[nid].latent,
                                            recipe, settings)
        except UserError as e:
            self.ctx.error(str(e))
            return -1

    def export_dialog(self) -> None:
        if self.current is None:
            self.ctx.message("look at a child first (click it), then Export child…", 4000)
            return
        from ..dialogs.export_options import ask

        chosen = ask(self.ctx.window, "Export the child", False, 0, None)
        label = self.tree.nodes[self.current].label.replace("·", "-")
        path = chosen and memory.save_path(self.ctx.window, "Export child", f"child-{label}.png", "PNG image (*.png)")
        if path:
            self.export_child(path, settings=chosen[0])
