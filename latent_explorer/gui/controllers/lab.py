"""The guided lab: steps through how a VAE works, shown in the Lab dock, each with a "Do it" that
makes the app do what the step talks about and a frame that points at it.

The steps are data (``STEPS``; ``lab_steps()`` adds the β = 0 sibling of ``digits-2d`` when
``resources/models/digits-2d-ae`` is there). ``LabController`` runs a step's actions in order
through the other controllers' public methods (``ctx.maps.select``, ``ctx.theory.sample``,
``ctx.previews.random_sample``, ``ctx.models.load``…). An action that needs something to arrive
(a model and its map, the Theory numbers, a decoded sample) sets a condition and returns; it is
checked again when the worker finishes a request, a map or model is ready or a preview shown.
Nothing blocks: the user keeps using the window. Back / Next or Do it again drop the wait.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from ...core.paths import resources_dir

AE_NAME = "digits-2d-ae"


@dataclass(frozen=True)
class Step:
    title: str
    text: str                 # 2-4 short sentences for students
    do: str                   # what Do it does, in words
    actions: tuple            # ("op", *args): LabController._op_<op>
    targets: tuple            # (view name, label): what the step points at (see LabController.widget)
    look: str                 # after Do it: what to look at


#: the parts of the window a step can point at: (views or the Theory panel, attribute)
WIDGETS = {"map": ("views", "map"), "preview": ("views", "preview"), "random": ("views", "random_button"),
           "temperature": ("views", "temperature"), "sliders": ("views", "slider_stack"),
           "channels": ("views", "channel_panel"), "posterior": ("theory", "post_plot"), "kl": ("theory", "kl_plot"),
           "elbo": ("theory", "elbo"), "theory_steps": ("theory", "steps"), "prior_check": ("theory", "prior_check")}
VAE = ("vae",)
FIND_NUMBERS = (("theory",), ("select", True), ("numbers",))

STEPS = (
    Step("The encoder: an image becomes a distribution",
         "The encoder does not turn an image into one point. For every latent dimension it gives a mean μ and "
         "a spread σ (stored as log σ²). Together they are the image's posterior q(z|x) = N(μ, σ²): a small "
         "cloud of places where the image could live.",
         "selects an image on the map and opens the Theory panel, which shows μ with ±σ and ±2σ bars for each "
         "dimension over the prior's grey bands",
         (VAE, ("theory",), ("select",), ("numbers",)),
         (("map", "the selected image"), ("posterior", "μ ± σ per dimension")),
         "The white dots are μ and the blue bars ±σ. A short bar means the encoder is sure about that "
         "dimension; the preview shows μ decoded."),
    Step("Sampling: z = μ + σ·ε",
         "To pick one latent from that cloud, draw noise ε ~ N(0, 1) for each dimension and compute "
         "z = μ + σ·ε. Training does exactly this, so that μ and σ still learn from the loss (the "
         "reparameterisation trick).",
         "presses Sample (one z, decoded in the preview), then ×16: sixteen samples, drawn on the map as a "
         "cloud inside the 1σ and 2σ ellipses",
         (VAE,) + FIND_NUMBERS + (("sample", 1), ("sample", 16)),
         (("map", "ellipses and 16 samples"), ("theory_steps", "ε, σ·ε and z"), ("preview", "z decoded")),
         "The table shows ε, σ·ε and z for the top dimensions; the 16 decodes are variations of the same image."),
    Step("Decoding the prior: new images from noise",
         "The prior N(0, I) is where latents are meant to be: a round cloud around z = 0. Draw a z from it, "
         "decode it, and you get an image nobody drew. The temperature T scales the draw: z ~ N(0, T²·I).",
         "sets T to 1 (the prior itself) and presses Random; try T 0.5 (near the centre) and T 2 (far out) "
         "yourself",
         (VAE, ("temperature", 1.0), ("random",)),
         (("random", "Random"), ("temperature", "T"), ("preview", "a sample of the prior")),
         "The preview shows the decoded sample, and the orange marker on the map where it lies."),
    Step("KL: the price of leaving the prior",
         "Training pays reconstruction + β·KL(q(z|x) ‖ N(0, I)), both in nats. The KL is small when an image's "
         "cloud looks like the prior; a dimension with KL ≈ 0 carries nothing (it is unused). The KL keeps the "
         "encoded images inside the prior, so that random samples land near real data.",
         "shows the KL per dimension in the Theory panel and switches on Prior, data and holes: dashed rings "
         "are the prior at 1σ, 2σ and 3σ, green is where the images are, shaded cells are holes",
         (VAE, ("linear",)) + FIND_NUMBERS + (("prior",),),
         (("kl", "KL per dimension (nats)"), ("map", "prior, data and holes"), ("elbo", "reconstruction + KL")),
         "A hole is a place the prior covers but no image reaches: click one on the map to decode it."),
    Step("What β does: a 2-d model",
         "With a 2-d latent the map is the latent space itself, with no projection. digits-2d was trained "
         "with β = 1, so its KL pulls every digit's cloud towards the prior's rings. The background shows "
         "what each place decodes to.",
         "loads digits-2d (a few seconds), selects an image and shows the prior, the data and the holes on "
         "its map",
         (("model", "digits-2d"), ("theory",), ("select",), ("numbers",), ("prior",)),
         (("map", "the latent space itself"), ("posterior", "μ ± σ of 2 dimensions")),
         "Holes are where a random sample of the prior decodes to something between digits."),
    Step("Stable Diffusion's VAE: the same idea, with small images for latents",
         "The VAE inside Stable Diffusion works the same way, but its latent is not a list of numbers: it is "
         "4 small images, 4 × h × w (4 × 32 × 32 for a 256 px picture, 48 times fewer numbers than the "
         "pixels). Each of those numbers has its own μ and σ, and the diffusion model does its work in this "
         "space before the decoder paints the picture.",
         "points at where the app shows such a latent. Open one with File → Open model file (.safetensors)…: "
         "the Latent channels panel appears under the preview (orange positive, blue negative) and the "
         "sliders become the principal directions of your images, plus an offset and a gain per channel",
         (("spatial",),),
         (("channels", "4 latent channels"), ("sliders", "SD VAE: direction and channel sliders"),
          ("preview", "SD VAE: approximate while you drag, then full")),
         "None is bundled (they are large downloads): the frames show where its views appear."),
)

AE_STEP = Step(
    "β = 0: a plain autoencoder",
    "digits-2d-ae was trained the same way with β = 0: reconstruction only, no KL. Nothing pulls its latents "
    "towards N(0, I): they spread far past the prior's rings, and σ shrinks almost to zero, so each image "
    "becomes a point rather than a cloud. A random sample of the prior more often lands where no digit is.",
    "loads digits-2d-ae, selects an image and shows the prior, the data and the holes; Back and Do it show "
    "digits-2d again",
    (("model", AE_NAME), ("theory",), ("select",), ("numbers",), ("prior",)),
    (("map", "β = 0: no KL"), ("posterior", "σ almost 0")),
    "Compare the spread of the points and the rings with digits-2d (one step back).")


def ae_folder():
    """The plain-autoencoder sibling of digits-2d, when it is there."""
    folder = resources_dir() / "models" / AE_NAME
    return folder if (folder / "model.safetensors").exists() else None


def lab_steps() -> list[Step]:
    """The steps, with the β = 0 comparison after the 2-d model when its folder is there."""
    steps = list(STEPS)
    folder = ae_folder()
    if folder is not None:
        i = next(k for k, s in enumerate(steps) if ("model", "digits-2d") in s.actions) + 1
        steps.insert(i, replace(AE_STEP, actions=(("model", str(folder)),) + AE_STEP.actions[1:]))
        steps[i - 1] = replace(steps[i - 1], look=steps[i - 1].look + " Next: the same model trained with β = 0.")
    return steps


class LabController(QObject):
    stepChanged = Signal(int)       # the step on show (its index)
    stepDone = Signal(int)          # a step's Do it finished
    stepFailed = Signal(int, str)   # a step's Do it could not be done, and why

    def __init__(self, ctx, panel=None, dock=None, steps: list[Step] | None = None):
        super().__init__(ctx)
        self.ctx = ctx
        self.steps = list(steps) if steps is not None else lab_steps()
        self.index = 0
        self.state = "idle"          # idle, waiting, done or failed (for the current step)
        self.panel = self.highlight = None
        self.dock = dock
        self._queue: list[tuple] = []
        self._wait = None            # (condition, words) the running step waits for
        self._want: str | None = None  # the model spec it waits for
        self._running = False
        self._finished: dict[str, int] = {}
        self._sized = False
        if panel is not None:
            self.attach(panel, dock)

    # ---- binding ---------------------------------------------------------------------
    def attach(self, panel, dock=None) -> None:
        """The panel exists and the window's panels are built (called once, by the window)."""
        from ..widgets.lab_panel import Highlight

        c = self.ctx
        self.panel = panel
        self.dock = dock or self.dock
        self.highlight = Highlight(c.window)
        panel.doRequested.connect(self.do_it)
        panel.backRequested.connect(self.back)
        panel.nextRequested.connect(self.next)
        panel.showRequested.connect(self.show_me)
        c.worker.finished.connect(self._on_finished)
        c.worker.failed.connect(lambda failure: self._poke())
        c.maps.ready.connect(lambda data: self._poke())
        c.maps.selected_changed.connect(lambda i: self._poke())
        c.models.loaded.connect(lambda s: self._poke())
        c.previews.shown.connect(lambda rid: self._poke())
        c.models.loadFailed.connect(lambda msg: self._fail(f"Could not load the model: {msg}"))
        c.models.loading.connect(self._on_loading)
        panel.set_enabled(True)
        self.go(self.index, point=False)

    count = property(lambda self: len(self.steps))

    step = property(lambda self: self.steps[self.index], doc="the step on show")

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
        self._cancel()
        self.state = "idle"
        self.index = max(0, min(int(k), self.count - 1))
        s = self.step
        if self.panel is not None:
            html = f"<p>{s.text}</p><p><b>Do it</b> {s.do}.</p>"
            self.panel.set_step(self.index, self.count, s.title, html, f"Do it: {s.do}")
            if point:
                self.show_me()
        self.stepChanged.emit(self.index)
        return self.index

    def next(self) -> int:
        return self.go(self.index + 1)

    def back(self) -> int:
        return self.go(self.index - 1)

    def show_me(self) -> int:
        """Point at the parts of the window this step talks about; how many are on screen."""
        if self.highlight is None:
            return 0
        return self.highlight.point_at([(self.widget(name), label) for name, label in self.step.targets])

    def widget(self, name: str):
        """A part of the window by name (None where it does not exist or is not built yet)."""
        if name == "theory":
            return self._theory_dock()
        owner, attr = WIDGETS[name]
        holder = self.ctx.views if owner == "views" else self.ctx.views.theory
        return getattr(holder, attr, None)

    # ---- running a step ----------------------------------------------------------------
    def do_it(self) -> None:
        """Run the current step's actions (again, from the start, when it was running)."""
        self._cancel()
        self._queue = list(self.step.actions)
        self._set_state("waiting", "working…")
        self._advance()

    def stop(self) -> None:
        """The window closes: wait for nothing more, point at nothing."""
        self._cancel()
        if self.highlight is not None:
            self.highlight.stop()

    def _cancel(self) -> None:
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
                    self._finish()
                    return
                op, *args = self._queue.pop(0)
                getattr(self, f"_op_{op}")(*args)
        finally:
            self._running = False

    def _poke(self) -> None:  # something arrived: check what the step waits for
        if self.state == "waiting" and self._wait is not None:
            self._advance()

    def _on_finished(self, kind: str, rid: int, value, seconds: float) -> None:
        self._finished[kind] = max(rid, self._finished.get(kind, 0))  # the newest finished id per kind
        self._poke()

    def _on_loading(self, spec: str) -> None:
        """Another model was chosen while this step waits for one: it would wait for ever."""
        if self.state == "waiting" and self._want is not None and spec != self._want:
            self._fail(f"Another model ({spec}) was opened meanwhile: Do it again to go on.")

    def _finish(self) -> None:
        self._set_state("done", f"Done. {self.step.look}")
        self.show_me()
        self.stepDone.emit(self.index)

    def _fail(self, why: str) -> None:
        if self.state != "waiting":
            return
        self._queue, self._wait, self._want = [], None, None
        self._set_state("failed", why)
        self.stepFailed.emit(self.index, why)

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        if self.panel is not None:
            self.panel.set_status(text, state)

    def _map_ready(self, spec: str | None = None) -> bool:
        m = self.ctx.models
        return (m.summary is not None and not m.is_loading and self.ctx.maps.data is not None
                and (spec is None or m.summary.spec == spec))

    def _theory_dock(self):
        return getattr(self.ctx.theory, "dock", None) or getattr(self.ctx.window, "theory_dock", None)

    def _pick(self) -> int:
        """An image to look at: a 3 when the map has labels (as the demo does), else one a third in."""
        d = self.ctx.maps.data
        if d.labels is not None:
            threes = np.flatnonzero(d.labels == 3)
            if len(threes):
                return int(threes[len(threes) // 3])
        return len(d.mean) // 3

    # ---- the actions (each either acts at once, or says what it waits for) ----------------
    def _op_vae(self) -> None:
        """A model with vector latents and a posterior, and its map: else the bundled digits."""
        m, maps = self.ctx.models, self.ctx.maps
        if m.is_loading or (m.summary is not None and maps.data is None and not maps.done):
            self._queue.insert(0, ("vae",))  # look again once it is there
            self._wait = (lambda: self._map_ready() or (not m.is_loading and maps.done), "waiting for the map…")
            return
        if m.summary is None or self.ctx.theory.available() != "":
            self._op_model("digits")
        elif maps.data is None:
            self._fail("The map could not be built: open images or another model, then Do it again.")

    def _op_model(self, spec: str) -> None:
        if self._map_ready(spec):
            return
        m = self.ctx.models
        self._want = spec
        if not (m.is_loading and m.spec == spec):
            m.load(spec)
        name = spec.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        self._wait = (lambda: self._map_ready(spec), f"loading {name} and encoding its images (a few seconds)…")

    def _op_linear(self) -> None:
        """The prior can only be drawn on a linear map: PCA (or a 2-d latent itself)."""
        if self.ctx.maps.data.projection.method in ("pca", "identity"):
            return
        if self.ctx.maps.set_projection("pca") < 0:
            self._fail("The prior needs a PCA map: choose projection PCA once the map is up, then Do it again.")
            return
        self._wait = (lambda: self._map_ready() and self.ctx.maps.data.projection.method == "pca",
                      "projecting the map with PCA…")

    def _op_theory(self) -> None:
        d = self._theory_dock()
        if d is not None:
            d.show()
            d.raise_()

    def _op_select(self, keep: bool = False) -> None:
        """Select an image (``keep``: only when none is selected: the user's own choice stays)."""
        if not (keep and self.ctx.maps.selected is not None):
            self.ctx.maps.select(self._pick())

    def _op_numbers(self) -> None:
        def ready():
            n, d, i = self.ctx.theory.image_numbers, self.ctx.maps.data, self.ctx.maps.selected
            return (n is not None and d is not None and i is not None and i < len(d.mean)
                    and np.allclose(n.mean, d.mean[i].reshape(-1), atol=1e-5))

        self._wait = (ready, "working out the selected image's μ, σ² and KL…")

    def _op_sample(self, k: int) -> None:
        rid = self.ctx.theory.sample(k)
        if rid < 0:
            self._fail("Select an image on the map first (with the Theory panel open), then Do it again.")
            return
        self._wait = (lambda: self._finished.get("posterior", 0) >= rid,
                      "drawing ε and decoding z = μ + σ·ε…" if k == 1 else f"decoding {k} posterior samples…")

    def _op_temperature(self, t: float) -> None:
        if self.ctx.views.temperature is not None:
            self.ctx.views.temperature.setValue(t)

    def _op_random(self) -> None:
        p = self.ctx.previews
        before = p.seed
        p.random_sample()
        if p.seed == before:
            self._fail("No model to sample from yet: wait for it to load, then Do it again.")
            return
        tag = f" seed {p.seed}"
        self._wait = (lambda: (self.ctx.state.source or "").startswith("random sample")
                      and self.ctx.state.source.endswith(tag), "decoding a sample of the prior…")

    def _op_prior(self) -> None:
        check = self.ctx.views.theory.prior_check
        if check.isChecked():
            self.ctx.theory.show_prior()  # drawn again for the map on screen
        else:
            check.setChecked(True)

    def _op_spatial(self) -> None:
        self.ctx.message("the Latent channels panel shows the current latent; drag a direction slider"
                         if self.ctx.models.spatial else
                         "no Stable Diffusion VAE is loaded: File → Open model file (.safetensors)… opens one", 6000)
