"""The guided lab, without Qt: its steps as data and a runner that does them over the application model.

The steps are a file (``resources/lab/steps.json``): each has a title, a few sentences, what
"Do it" does, its *actions* (an op and typed arguments, checked against ``OPS``), the parts of the
window it points at (names from ``TARGETS``; each front-end resolves them to its own widgets) and
what to look at afterwards. ``lab_steps()`` reads them and inserts the optional β = 0 step after
the 2-d model's when ``resources/models/digits-2d-ae`` is there.

``LabRunner(model, commands)`` runs a step's actions in order through the commands. An action that
needs something to arrive (a model and its map, the Theory numbers of the selected image, a
decoded sample) sets a *condition on the model* and returns; the runner checks it again on the
model's events (a map, a selection, the numbers, a sample, the latent, a model loaded). Nothing
blocks. A front-end listens to the runner's signals: ``step_changed(index)``,
``state_changed(state, words)`` (idle, waiting, done, failed), ``step_done(index)``,
``step_failed(index, why)`` and ``view_wanted(name)`` (open that view: "theory").
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from psygnal import Signal

from ..core.errors import UserError
from ..core.paths import resources_dir

AE_NAME = "digits-2d-ae"

#: every op a step may use, with its arguments' names and types, in order
OPS: dict[str, tuple[tuple[str, type], ...]] = {
    "vae": (), "theory": (), "select": (("keep", bool),), "numbers": (), "sample": (("k", int),),
    "temperature": (("t", float),), "random": (), "linear": (), "prior": (), "model": (("spec", str),),
    "spatial": (),
}
#: the parts of the window a step can point at
TARGETS = ("map", "preview", "random", "temperature", "sliders", "channels", "posterior", "kl", "elbo",
           "theory_steps", "prior_check", "theory")
_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class Step:
    title: str
    text: str                 # 2-4 short sentences for students
    do: str                   # what Do it does, in words
    actions: tuple            # (op, *args) tuples, their arguments typed as OPS says
    targets: tuple            # (view name, label): what the step points at (TARGETS)
    look: str                 # after Do it: what to look at


def _action(d, where: str) -> tuple:
    if not isinstance(d, dict) or not isinstance(d.get("op"), str):
        raise UserError(f"{where}: an action is an object with an \"op\"")
    op = d["op"]
    if op not in OPS:
        raise UserError(f"{where}: unknown op {op!r} (known: {', '.join(OPS)})")
    args = []
    for name, kind in OPS[op]:
        if name not in d:
            if kind is bool:  # a switch left out is off
                args.append(False)
                continue
            raise UserError(f"{where}: op {op!r} needs {name!r}")
        v = d[name]
        ok = isinstance(v, kind) and not (kind is int and isinstance(v, bool)) or (kind is float and isinstance(
            v, int) and not isinstance(v, bool))
        if not ok:
            raise UserError(f"{where}: {op}.{name} must be a {kind.__name__}, not {v!r}")
        args.append(kind(v))
    extra = set(d) - {"op"} - {n for n, _ in OPS[op]}
    if extra:
        raise UserError(f"{where}: op {op!r} takes no {', '.join(sorted(extra))}")
    # (a switch that is off is left out, so the tuple reads as the step file does)
    while args and OPS[op] and OPS[op][len(args) - 1][1] is bool and args[-1] is False:
        args.pop()
    return (op, *args)


def _step(d, where: str) -> Step:
    if not isinstance(d, dict):
        raise UserError(f"{where}: a step is an object")
    for key in ("title", "text", "do", "look"):
        if not isinstance(d.get(key), str):
            raise UserError(f"{where}: {key!r} must be text")
    actions, targets = d.get("actions"), d.get("targets")
    if not isinstance(actions, list) or not isinstance(targets, list):
        raise UserError(f"{where}: \"actions\" and \"targets\" must be lists")
    acts = tuple(_action(a, f"{where}, action {i + 1}") for i, a in enumerate(actions))
    tg = []
    for t in targets:
        if not isinstance(t, dict) or t.get("view") not in TARGETS or not isinstance(t.get("label"), str):
            raise UserError(f"{where}: a target is {{\"view\": one of {', '.join(TARGETS)}, \"label\": text}}")
        tg.append((t["view"], t["label"]))
    return Step(d["title"], d["text"], d["do"], acts, tuple(tg), d["look"])


def read_steps(path: str | Path) -> tuple[list[Step], list[tuple[Step, dict]]]:
    """The steps of a lab file, checked, and its optional steps with what they need. A bad file is one
    UserError naming it and the step."""
    path = Path(path)
    from ..core.jsonio import read_bounded

    try:
        doc = read_bounded(path, f"{path}", _MAX_BYTES)
    except OSError as e:
        raise UserError(f"{path}: cannot read the lab file ({e.strerror or e})") from None
    except ValueError as e:
        raise UserError(f"not a lab file: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != "latent-explorer lab steps" or doc.get("version") != 1:
        raise UserError(f"{path}: not a latent-explorer lab file (version 1)")
    steps = [_step(s, f"{path.name}, step {i + 1}") for i, s in enumerate(doc.get("steps") or [])]
    optional = []
    for i, s in enumerate(doc.get("optional_steps") or []):
        step = _step(s, f"{path.name}, optional step {i + 1}")
        need = {k: s.get(k) for k in ("after", "needs_bundled", "look_before")}
        if not all(isinstance(v, str) for v in need.values()):
            raise UserError(f"{path.name}, optional step {i + 1}: needs \"after\", \"needs_bundled\", \"look_before\"")
        optional.append((step, need))
    if not steps:
        raise UserError(f"{path}: no steps")
    return steps, optional


def steps_file() -> Path:
    return resources_dir() / "lab" / "steps.json"


def ae_folder():
    """The plain-autoencoder sibling of digits-2d, when it is there."""
    folder = resources_dir() / "models" / AE_NAME
    return folder if (folder / "model.safetensors").exists() else None


def lab_steps(path: str | Path | None = None) -> list[Step]:
    """The lab's steps, with each optional step after the step that opens its model when the bundled
    model it needs is there (the β = 0 comparison after the 2-d model)."""
    steps, optional = read_steps(path or steps_file())
    for step, need in optional:
        folder = resources_dir() / "models" / need["needs_bundled"]
        if need["needs_bundled"] != AE_NAME:
            folder = folder if (folder / "model.safetensors").exists() else None
        else:
            folder = ae_folder()
        if folder is None:
            continue
        after = next((k for k, s in enumerate(steps) if ("model", need["after"]) in s.actions), None)
        if after is None:
            continue
        actions = tuple(("model", str(folder)) if a == ("model", need["needs_bundled"]) else a for a in step.actions)
        steps.insert(after + 1, replace(step, actions=actions))
        steps[after] = replace(steps[after], look=steps[after].look + need["look_before"])
    return steps


class LabRunner:
    """Runs the lab's steps over an application model and its commands (see the module docstring)."""

    step_changed = Signal(int)
    state_changed = Signal(str, str)
    step_done = Signal(int)
    step_failed = Signal(int, str)
    view_wanted = Signal(str)

    def __init__(self, model, commands, steps: list[Step] | None = None):
        self.model, self.commands = model, commands
        self.steps = list(steps) if steps is not None else lab_steps()
        self.index = 0
        self.state = "idle"          # idle, waiting, done or failed (for the current step)
        self.words = ""
        self._queue: list[tuple] = []
        self._wait = None            # (condition, words) the running step waits for
        self._want: str | None = None  # the model spec it waits for
        self._running = False
        m = model
        for name in ("map", "selected", "theory_numbers", "theory_sample", "map_done"):
            getattr(m.events, name).connect(self._poke)
        m.loaded.connect(self._poke)
        m.latent.connect(lambda origin: self._poke())
        m.load_failed.connect(lambda msg: self._fail(f"Could not load the model: {msg}"))
        m.load_started.connect(self._on_loading)

    @property
    def count(self) -> int:
        return len(self.steps)

    @property
    def step(self) -> Step:
        """The step on show."""
        return self.steps[self.index]

    # ---- navigation --------------------------------------------------------------------
    def go(self, k: int) -> int:
        """Show step ``k`` (clamped to the steps); what the step before waited for is dropped."""
        self.cancel()
        self._set_state("idle", "")
        self.index = max(0, min(int(k), self.count - 1))
        self.model.lab_step = self.index
        self.step_changed.emit(self.index)
        return self.index

    def next(self) -> int:
        return self.go(self.index + 1)

    def back(self) -> int:
        return self.go(self.index - 1)

    # ---- running a step ----------------------------------------------------------------
    def do_it(self) -> None:
        """Run the current step's actions (again, from the start, when it was running)."""
        self.cancel()
        self._queue = list(self.step.actions)
        self._set_state("waiting", "working…")
        self._advance()

    def cancel(self) -> None:
        self._queue, self._wait, self._want = [], None, None
        if self.state == "waiting":
            self._set_state("idle", "")

    def _advance(self) -> None:
        if self._running:  # a poke while an action runs: the loop below checks again anyway
            return
        self._running = True
        try:
            while self.state == "waiting":
                if self._wait is not None:
                    ok, words = self._wait
                    if not ok():
                        self._set_state("waiting", words)
                        return
                    self._wait = self._want = None
                if not self._queue:
                    self._set_state("done", f"Done. {self.step.look}")
                    self.step_done.emit(self.index)
                    return
                op, *args = self._queue.pop(0)
                getattr(self, f"_op_{op}")(*args)
        finally:
            self._running = False

    def _poke(self, *_) -> None:  # something arrived: check what the step waits for
        if self.state == "waiting" and self._wait is not None:
            self._advance()

    def _on_loading(self, spec: str, words: str = "") -> None:
        """Another model was chosen while this step waits for one: it would wait for ever."""
        if self.state == "waiting" and self._want is not None and spec != self._want:
            self._fail(f"Another model ({spec}) was opened meanwhile: Do it again to go on.")

    def _fail(self, why: str) -> None:
        if self.state != "waiting":
            return
        self._queue, self._wait, self._want = [], None, None
        self._set_state("failed", why)
        self.step_failed.emit(self.index, why)

    def _set_state(self, state: str, words: str) -> None:
        self.state, self.words = state, words
        self.state_changed.emit(state, words)

    def map_ready(self, spec: str | None = None) -> bool:
        m = self.model
        return m.ready and m.map is not None and (spec is None or m.summary.spec == spec)

    def _pick(self) -> int:
        """An image to look at: a 3 when the map has labels (as the demo does), else one a third in."""
        d = self.model.map
        if d.labels is not None:
            threes = np.flatnonzero(d.labels == 3)
            if len(threes):
                return int(threes[len(threes) // 3])
        return len(d.mean) // 3

    # ---- the actions (each either acts at once, or says what it waits for) ----------------
    def _op_vae(self) -> None:
        """A model with vector latents and a posterior, and its map: else the bundled digits."""
        m = self.model
        if m.loading or (m.summary is not None and m.map is None and not m.map_done):
            self._queue.insert(0, ("vae",))  # look again once it is there
            self._wait = (lambda: self.map_ready() or (not m.loading and m.map_done), "waiting for the map…")
            return
        if m.summary is None or m.theory_unavailable != "":
            self._op_model("digits")
        elif m.map is None:
            self._fail("The map could not be built: open images or another model, then Do it again.")

    def _op_model(self, spec: str) -> None:
        if self.map_ready(spec):
            return
        m = self.model
        self._want = spec
        if not (m.loading and m.spec == spec):
            self.commands.open_model(spec)
        name = spec.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        self._wait = (lambda: self.map_ready(spec), f"loading {name} and encoding its images (a few seconds)…")

    def _op_linear(self) -> None:
        """The prior can only be drawn on a linear map: PCA (or a 2-d latent itself)."""
        if self.model.map.projection.method in ("pca", "identity"):
            return
        self.commands.project("pca")
        if self.model.projection != "pca":  # the map refused (its images are still being encoded)
            self._fail("The prior needs a PCA map: choose projection PCA once the map is up, then Do it again.")
            return
        self._wait = (lambda: self.map_ready() and self.model.map.projection.method == "pca",
                      "projecting the map with PCA…")

    def _op_theory(self) -> None:
        self.view_wanted.emit("theory")

    def _op_select(self, keep: bool = False) -> None:
        """Select an image (``keep``: only when none is selected: the user's own choice stays)."""
        if not (keep and self.model.selected is not None):
            self.commands.select(self._pick())

    def _op_numbers(self) -> None:
        def ready():
            m = self.model
            n, d, i = m.theory_numbers, m.map, m.selected
            return (n is not None and d is not None and i is not None and i < len(d.mean)
                    and np.allclose(n.mean, d.mean[i].reshape(-1), atol=1e-5))

        self._wait = (ready, "working out the selected image's μ, σ² and KL…")

    def _op_sample(self, k: int) -> None:
        rid = self.commands.sample_posterior(k)
        if rid < 0:
            self._fail("Select an image on the map first (with the Theory panel open), then Do it again.")
            return
        seed = self.model.theory_seed

        def drawn():
            s = self.model.theory_sample
            return s is not None and s.seed == seed and len(s.z) == k

        self._wait = (drawn, "drawing ε and decoding z = μ + σ·ε…" if k == 1 else f"decoding {k} posterior samples…")

    def _op_temperature(self, t: float) -> None:
        self.model.temperature = float(t)

    def _op_random(self) -> None:
        m = self.model
        if self.commands.random_sample() < 0:
            self._fail("No model to sample from yet: wait for it to load, then Do it again.")
            return
        tag = f" seed {m.sample_seed}"
        self._wait = (lambda: (m.latent.source or "").startswith("random sample") and m.latent.source.endswith(tag),
                      "decoding a sample of the prior…")

    def _op_prior(self) -> None:
        self.model.show_prior = True   # (the Theory view draws it for the map on screen)

    def _op_spatial(self) -> None:
        self.model.notice.emit("the Latent channels panel shows the current latent; drag a direction slider"
                               if self.model.spatial else
                               "no Stable Diffusion VAE is loaded: File → Open model file (.safetensors)… opens one")
