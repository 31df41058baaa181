"""``latent-explorer serve``: one HTTP server for the whole class.

Routes (one server, one port):

- ``/`` the students' page and ``/teacher/`` the teacher's (Gradio Blocks, ``web/page.py``);
- ``/le/…`` the lean endpoints the page script uses: ``join``, ``change`` (the hot path: one
  operation → the student's new picture), ``map``, ``strips``, ``morph``, ``theory``, ``sample``,
  ``events`` (a server-sent event stream: the teacher's broadcasts; while it is open the student
  counts as present) and ``leave``; ``/le/static/`` the page's script and style.

Every body is bounded (``MAX_BODY``), every value checked (``app.classroom.apply_op``); a bad one
is a 400 with one line, an unknown student a 404 (the page joins again), too many changes a 429.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import missing  # noqa: F401  (sets Gradio's environment before it is imported)

MAX_BODY = 8192
#: a student whose page holds no event stream and asks nothing for this long is freed
IDLE_S = 45.0
STATIC = Path(__file__).parent / "static"


@dataclass
class ServeOptions:
    model: str = "digits"
    host: str = "127.0.0.1"
    port: int = 7860
    lab: bool = False
    device: str = "auto"
    teacher_key: str | None = None
    #: print the banner (addresses, QR) when listening
    announce: bool = True
    #: the map's projection ("pca", "tsne", …; None: the model's default)
    projection: str | None = None
    #: at most this many of the model's images on the map (None: the app's default)
    map_limit: int | None = None


class ClassServer:
    """The model, the classroom and the HTTP server, run on one asyncio loop (``run``, blocking;
    ``start_in_thread`` for tests and benches)."""

    def __init__(self, options: ServeOptions, out=None):
        self.options = options
        self.out = out or (lambda text: print(text, flush=True))
        self.teacher_key = options.teacher_key or secrets.token_urlsafe(9)
        self.port: int | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.classroom = None
        self.api = None
        self.scheduler = None
        self._server = None
        self._loop = None
        #: the β comparison's page part, made once (``page.comparison``)
        self.compare_cache: dict = {}

    # ---- the model ---------------------------------------------------------------------------
    async def _open(self):
        from ..app.classroom import Classroom
        from ..app.commands import Commands
        from ..app.model import ExplorerModel
        from ..app.scheduler import Scheduler
        from .api import ClassApi

        loop = asyncio.get_running_loop()
        self.scheduler = Scheduler(deliver=loop.call_soon_threadsafe)
        self.scheduler.start()
        teacher = ExplorerModel(device=self.options.device)
        if self.options.map_limit:
            teacher.map_limit = int(self.options.map_limit)
        commands = Commands(teacher, self.scheduler, pipelines=True)
        done = loop.create_future()

        def settle(value=None):
            if not done.done():
                done.set_result(value)

        teacher.load_failed.connect(lambda msg: settle(msg))
        teacher.failed.connect(lambda what, msg: settle(f"{what}: {msg}"))
        teacher.events.map_done.connect(lambda v: v and settle(None))
        commands.open_model(self.options.model, first=True)
        # Gradio's import (seconds) overlaps the model's loading and the map's encoding
        gradio_import = loop.run_in_executor(None, __import__, "gradio")
        problem = await done
        if problem or teacher.map is None:
            raise SystemExit(f"latent-explorer serve: could not open {self.options.model}: "
                             f"{problem or 'its map could not be made'}")
        if self.options.projection and self.options.projection != teacher.map.projection.method:
            again = loop.create_future()
            teacher.events.map.connect(lambda v: again.done() or again.set_result(v))
            teacher.projection = self.options.projection
            await asyncio.wait_for(again, 600)
        await gradio_import
        self.classroom = Classroom(teacher, self.scheduler)
        if self.options.lab:
            self.classroom.lab_step = 0
        self.commands = commands
        self.api = ClassApi(self.classroom)

    # ---- the app -------------------------------------------------------------------------------
    def build_app(self):
        from fastapi import FastAPI
        from fastapi.staticfiles import StaticFiles

        from . import page, routes

        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        routes.add(app, self)
        app.mount("/le/static", StaticFiles(directory=STATIC), name="le-static")
        page.mount(app, self)
        return app

    async def _reaper(self):
        while True:
            await asyncio.sleep(5)
            self.classroom.reap(IDLE_S)

    async def main(self):
        import uvicorn

        self._loop = asyncio.get_running_loop()
        await self._open()
        app = self.build_app()
        o = self.options
        config = uvicorn.Config(app, host=o.host, port=o.port, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=2, ws="none")
        self._server = server = uvicorn.Server(config)
        reaper = asyncio.create_task(self._reaper())
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if serving.done():
            serving.result()
            raise SystemExit(f"latent-explorer serve: could not listen on {o.host}:{o.port}")
        self.port = server.servers[0].sockets[0].getsockname()[1]
        if o.announce:
            self.out(self.banner())
        self.ready.set()
        try:
            await serving
        finally:
            reaper.cancel()
            self.scheduler.stop(1000)

    def banner(self) -> str:
        from .share import qr_text, urls

        o = self.options
        links = urls(o.host, self.port)
        lines = [f"latent-explorer: the class is open on {self.classroom.teacher.summary.spec}."]
        if o.host in ("127.0.0.1", "localhost", "::1"):
            lines.append("Only this computer can reach it (127.0.0.1). For the class: --host 0.0.0.0 "
                         "(anyone on this network can then open it: use it on a network you trust).")
        else:
            lines.append(f"Listening on {o.host}: anyone on this network can open the class "
                         "(use it on a network you trust).")
        lines.append("Students open:  " + "   ".join(links))
        lines.append(f"Your view:      {links[0]}teacher/?key={self.teacher_key}")
        lines.append(qr_text(links[0]))
        lines.append(json.dumps({"urls": links, "teacher": f"{links[0]}teacher/?key={self.teacher_key}",
                                 "port": self.port}))
        return "\n".join(lines)

    def run(self) -> int:
        try:
            _run(self.main())
        except KeyboardInterrupt:
            pass
        return 0

    def start_in_thread(self, timeout: float = 180.0) -> "ClassServer":
        """Serve on a thread of its own (tests, benches); returns once it listens."""
        def target():
            try:
                _run(self.main())
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                self.error = e
                self.ready.set()

        self._thread = threading.Thread(target=target, name="ClassServer", daemon=True)
        self._thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("the class server did not start")
        if self.error is not None:
            raise RuntimeError(f"the class server failed: {self.error}") from self.error
        return self

    def call(self, fn, *args, timeout: float = 30.0):
        """``fn(*args)`` run on the server's loop (where the classroom lives); its result."""
        import concurrent.futures

        fut: concurrent.futures.Future = concurrent.futures.Future()

        def run():
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                fut.set_exception(e)

        self._loop.call_soon_threadsafe(run)
        return fut.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.options.host in ("0.0.0.0", "") else self.options.host
        return f"http://{host}:{self.port}/"


def _run(coro):
    """Run the server's loop: uvloop's where it is installed (less CPU a request), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def serve(options: ServeOptions) -> int:
    from . import missing as _missing

    why = _missing()
    if why:
        print(f"latent-explorer serve: {why}", file=sys.stderr)
        return 2
    return ClassServer(options).run()
