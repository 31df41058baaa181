"""What a student's page can ask for, as async functions over the classroom (on the server's loop).

The lean HTTP endpoints (``web/server.py``) and the Gradio panels (``web/page.py``) both call
these, so the numbers a panel shows are the ones a script reading ``/le/theory`` gets. Jobs go to
the student's lane of the shared scheduler; their results come back on the loop thread.
"""
from __future__ import annotations

import asyncio
import base64

import numpy as np

from ..app.classroom import Classroom, Student, png_bytes
from ..app.jobs import decode as decode_jobs
from ..app.jobs import theory as theory_jobs
from ..core.errors import UserError

#: how many of the most informative dimensions get a slider on the page
SLIDERS = 8
STRIP_STEPS = 7
STRIP_RANGE = 3.0
MORPH_FRAMES = (2, 48)
POSTERIOR_DRAWS = (1, 16)


def b64png(image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def strip_png(images) -> str:
    """Frames side by side in one PNG (the page crops a frame out of it while scrubbing)."""
    return b64png(np.concatenate(list(images), axis=1))


class ClassApi:
    def __init__(self, classroom: Classroom):
        self.classroom = classroom
        self.scheduler = classroom.scheduler
        self._waiting: dict[int, asyncio.Future] = {}
        s = self.scheduler
        s.finished.connect(lambda kind, rid, value, sec: self._settle(rid, value))
        s.failed.connect(lambda f: self._settle(f.id, UserError(f.message)))
        s.dropped.connect(lambda kind, rid: self._settle(rid, None))
        self.sliders = self._slider_dims()

    # ---- waiting for one request --------------------------------------------------------------
    def _settle(self, rid: int, value) -> None:
        fut = self._waiting.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_result(value)

    async def until(self, rid: int, timeout: float = 120.0):
        """The result of request ``rid`` (None: a newer one of the student's replaced it)."""
        if rid < 0:
            raise UserError("the class is closing")
        fut = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        try:
            value = await asyncio.wait_for(fut, timeout)
        finally:
            self._waiting.pop(rid, None)
        if isinstance(value, Exception):
            raise value
        return value

    async def job(self, student: Student, kind: str, fn, *args):
        return await self.until(self.scheduler.lane(student.token).submit(kind, fn, *args))

    # ---- what the page starts with -------------------------------------------------------------------
    def _slider_dims(self) -> list[int]:
        """The dimensions that carry most information (mean KL over the map), most first."""
        m = self.classroom.teacher
        if m.spatial or m.map is None:
            return []
        kl = m.map.kl_per_dim
        d = int(np.prod(m.latent_shape))
        order = list(np.argsort(-np.asarray(kl))) if kl is not None else list(range(d))
        return [int(i) for i in order[:SLIDERS]]

    def welcome(self, s: Student) -> dict:
        m, t = s.model, self.classroom.teacher
        kl = None if t.map.kl_per_dim is None else [round(float(v), 3) for v in t.map.kl_per_dim]
        return {
            "token": s.token, "number": s.number, "model": t.summary.spec, "name": t.map.name,
            "latent_dim": int(np.prod(t.latent_shape)), "spatial": bool(t.spatial),
            "sliders": self.sliders, "kl": kl, "z": self.latent_list(s),
            "lab_step": self.classroom.lab_step, "shown": self.classroom.shown,
            "limits": {"value": 4.0, "temperature": [0.0, 3.0]},
        }

    def latent_list(self, s: Student):
        z = s.model.latent.z
        return None if z is None or z.size > 256 else [round(float(v), 5) for v in np.asarray(z).reshape(-1)]

    # ---- slower panels --------------------------------------------------------------------------------
    async def strips(self, s: Student) -> list:
        """Each slider's strip: what its dimension does around the student's latent."""
        if not self.sliders:
            return []
        imgs = await self.job(s, "traversal", decode_jobs.traversal, s.model.latent.z, STRIP_STEPS, STRIP_RANGE,
                              self.sliders)
        if imgs is None:
            return []
        return [{"dim": d, "png": strip_png(row)} for d, row in zip(self.sliders, imgs)]

    async def morph(self, s: Student, a, b, frames=12) -> dict:
        n = len(s.model.map.mean)
        for v, name in ((a, "a"), (b, "b")):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n:
                raise UserError(f"{name} must be an image number in [0, {n - 1}]")
        if isinstance(frames, bool) or not isinstance(frames, int) or not MORPH_FRAMES[0] <= frames <= MORPH_FRAMES[1]:
            raise UserError(f"frames must be a whole number in [{MORPH_FRAMES[0]}, {MORPH_FRAMES[1]}]")
        c = s.commands
        c.morph(a, b, frames=frames, method="slerp")
        strip = await self.until(c.scheduler.latest_id("strip"))
        if strip is None:
            return {"superseded": True}
        return {"name": s.model.morph.name, "frames": len(strip.frames), "png": strip_png(strip.frames),
                "width": int(strip.frames.shape[2]), "height": int(strip.frames.shape[1])}

    async def theory(self, s: Student) -> dict:
        """The selected image's posterior and −ELBO split, as ``explain`` computes them."""
        m = s.model
        why = m.theory_unavailable
        if why:
            raise UserError(why)
        if s.upload is not None and m.selected is None:
            return await self.theory_of(s, s.upload[0], s.upload[1], select=False)
        i = m.selected if m.selected is not None else 0
        n = await self.job(s, "theory", theory_jobs.image_numbers, m.map.images[i])
        if n is None:
            return {"superseded": True}
        m.theory_numbers = n
        return numbers_dict(n, i, m.label(i))

    async def upload(self, s: Student, path: str) -> dict:
        """A student's own image file, through the same bounded loader as a folder import: its
        posterior, and μ becomes their latent."""
        from ..core.data.images import load_files

        t = self.classroom.teacher
        # off the server's loop: decoding a large file takes a moment (the loader is thread-safe)
        loaded = await asyncio.get_running_loop().run_in_executor(
            None, load_files, [path], tuple(t.summary.image_size), int(t.summary.channels))
        if not loaded.paths:
            why = loaded.skipped[0][1] if loaded.skipped else "it could not be read"
            raise UserError(f"That file cannot be used: {why}.")
        from pathlib import Path

        name = Path(path).name
        s.upload = (loaded.images[0], name)
        return await self.theory_of(s, loaded.images[0], name)

    async def theory_of(self, s: Student, image, name: str, select: bool = True) -> dict:
        m = s.model
        n = await self.job(s, "theory", theory_jobs.image_numbers, image)
        if n is None:
            return {"superseded": True}
        m.theory_numbers = n
        if select:
            m.selected = None
            m.latent.selected = None
            m.caption = f"your image {name}: its posterior mean μ decoded"
            s.commands.set_latent(n.mean.reshape(m.latent_shape), f"your image {name}")
        out = numbers_dict(n, -1, name)
        out["png"] = b64png(image)
        return out

    async def sample(self, s: Student, k: int) -> dict:
        """z = μ + σ·ε for the selected image, ``k`` draws, with ε, σ·ε and z (the reparameterisation)."""
        if isinstance(k, bool) or not isinstance(k, int) or not POSTERIOR_DRAWS[0] <= k <= POSTERIOR_DRAWS[1]:
            raise UserError(f"k must be a whole number in [{POSTERIOR_DRAWS[0]}, {POSTERIOR_DRAWS[1]}]")
        m = s.model
        if m.theory_numbers is None:
            await self.theory(s)
        d = await self.until(s.commands.sample_posterior(k))
        if d is None:
            return {"superseded": True}
        n = m.theory_numbers
        return {"seed": int(d.seed), "mu": _r(n.mean), "sigma": _r(np.exp(0.5 * n.logvar)),
                "eps": [_r(e) for e in d.eps], "sigma_eps": [_r(e) for e in d.sigma_eps],
                "z": [_r(np.asarray(z).reshape(-1)) for z in d.z], "images": [b64png(im) for im in d.images]}


def _r(a, digits: int = 4) -> list:
    return [round(float(v), digits) for v in np.asarray(a).reshape(-1)]


def numbers_dict(n, i: int, label: str) -> dict:
    return {"image": i, "label": label, "mu": _r(n.mean), "logvar": _r(n.logvar),
            "sigma": _r(np.exp(0.5 * np.asarray(n.logvar))), "kl_per_dim": _r(n.kl_per_dim),
            "kl_nats": float(n.kl_nats), "recon_nats": None if n.recon_nats is None else float(n.recon_nats),
            "neg_elbo_nats": None if n.neg_elbo_nats is None else float(n.neg_elbo_nats), "beta": float(n.beta)}
