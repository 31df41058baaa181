"""The guided lab in the window: the Lab dock's panel, Do it / Back / Next, and the frames that point
at the parts of the window a step talks about.

The steps are data (``resources/lab/steps.json``, read and checked by ``app/lab.py``) and the
runner that does them is Qt-free (``app.lab.LabRunner``: actions through the commands,
conditions on the application model). This controller only shows the runner: the step's words,
its state, and, through the window's ``targets`` table, the widgets a step names. Nothing blocks:
the user keeps using the window. Back / Next or Do it again drop the wait.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal

from ...app.lab import AE_NAME, OPS, TARGETS, LabRunner, Step, ae_folder, lab_steps  # noqa: F401  (re-exported)


class LabController(QObject):
    stepChanged = Signal(int)       # the step on show (its index)
    stepDone = Signal(int)          # a step's Do it finished
    stepFailed = Signal(int, str)   # a step's Do it could not be done, and why

    def __init__(self, ctx, panel=None, dock=None, steps: list[Step] | None = None, targets=None):
        super().__init__(ctx)
        self.ctx = ctx
        self.runner = LabRunner(ctx.model, ctx.commands, steps)
        self.panel = self.highlight = None
        self.dock = dock
        #: view name -> its widget (None where it does not exist yet): the window's table
        self.targets = targets or getattr(ctx.window, "lab_target", lambda name: None)
        self._sized = False
        r = self.runner
        r.step_changed.connect(self.stepChanged.emit)
        r.step_done.connect(self._on_done)
        r.step_failed.connect(self.stepFailed.emit)
        r.state_changed.connect(self._on_state)
        r.view_wanted.connect(self._open_view)
        if panel is not None:
            self.attach(panel, dock)

    # what the runner knows, for the window and the tests
    steps = property(lambda self: self.runner.steps)
    index = property(lambda self: self.runner.index)
    state = property(lambda self: self.runner.state)
    count = property(lambda self: self.runner.count)
    step = property(lambda self: self.runner.step, doc="the step on show")

    def _map_ready(self, spec: str | None = None) -> bool:
        return self.runner.map_ready(spec)

    # ---- binding ---------------------------------------------------------------------
    def attach(self, panel, dock=None) -> None:
        """The panel exists and the window's panels are built (called once, by the window)."""
        from ..widgets.lab_panel import Highlight

        self.panel = panel
        self.dock = dock or self.dock
        self.highlight = Highlight(self.ctx.window)
        panel.doRequested.connect(self.do_it)
        panel.backRequested.connect(self.back)
        panel.nextRequested.connect(self.next)
        panel.showRequested.connect(self.show_me)
        panel.set_enabled(True)
        self.go(self.index, point=False)

    # ---- navigation --------------------------------------------------------------------
    def open(self) -> None:
        """Help → Guided lab: show the dock (beside the map: the window stays usable)."""
        d = self.dock
        if d is not None:
            d.show()
            d.raise_()
            if not self._sized:
                self._sized = True
                self.ctx.window.resizeDocks([d], [340], Qt.Orientation.Horizontal)
        if self.panel is not None:
            self.show_me()

    def go(self, k: int, point: bool = True) -> int:
        """Show step ``k`` (clamped to the steps); what the step before waited for is dropped."""
        i = self.runner.go(k)
        s = self.step
        if self.panel is not None:
            html = f"<p>{s.text}</p><p><b>Do it</b> {s.do}.</p>"
            self.panel.set_step(i, self.count, s.title, html, f"Do it: {s.do}")
            if point:
                self.show_me()
        return i

    def next(self) -> int:
        return self.go(self.index + 1)

    def back(self) -> int:
        return self.go(self.index - 1)

    def do_it(self) -> None:
        self.runner.do_it()

    def show_me(self) -> int:
        """Point at the parts of the window this step talks about; how many are on screen."""
        if self.highlight is None:
            return 0
        return self.highlight.point_at([(self.widget(name), label) for name, label in self.step.targets])

    def widget(self, name: str):
        """A part of the window by its step name (None where it does not exist or is not built yet)."""
        return self.targets(name)

    def stop(self) -> None:
        """The window closes: wait for nothing more, point at nothing."""
        self.runner.cancel()
        if self.highlight is not None:
            self.highlight.stop()

    # ---- the runner, shown -----------------------------------------------------------------
    def _on_state(self, state: str, words: str) -> None:
        if self.panel is not None:
            self.panel.set_status(words, state)

    def _on_done(self, index: int) -> None:
        self.show_me()
        self.stepDone.emit(index)

    def _open_view(self, name: str) -> None:
        d = self.widget(name)
        if d is not None:
            d.show()
            d.raise_()
