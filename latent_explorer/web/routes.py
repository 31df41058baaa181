"""The lean endpoints under ``/le/``: plain Starlette routes (no validation framework in the hot
path), JSON in and out, every body bounded and every value checked by the classroom."""
from __future__ import annotations

import asyncio
import base64
import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..app.classroom import RateLimited
from ..core.errors import UserError
from ..core.jsonio import loads_bounded

MAX_BODY = 8192
KEEPALIVE_S = 15.0


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def _body(request: Request) -> dict:
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise UserError(f"the request is larger than {MAX_BODY} bytes")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise UserError(f"the request is larger than {MAX_BODY} bytes")
    try:
        data = loads_bounded(raw or b"{}", "the request", max_bytes=MAX_BODY, max_depth=8)
    except ValueError as e:
        raise UserError(str(e).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise UserError("the request must be a JSON object")
    return data


def add(app, server) -> None:
    """Add the ``/le/`` routes for ``server`` (a ``ClassServer``) to ``app``."""

    def student(token):
        return server.classroom.student(token)

    async def guarded(request: Request, fn):
        try:
            return await fn(await _body(request) if request.method == "POST" else dict(request.query_params))
        except KeyError:
            return _bad("unknown student: join again", 404)
        except RateLimited as e:
            return _bad(str(e), 429)
        except UserError as e:
            return _bad(str(e))
        except asyncio.TimeoutError:
            return _bad("the server is too busy: try again", 503)

    async def join(request: Request):
        async def go(data):
            cl = server.classroom
            token = data.get("token")
            s = cl.students.get(token) if isinstance(token, str) else None
            if s is None:
                s = cl.join()
            s.last_seen = cl.clock()
            return JSONResponse(server.api.welcome(s))
        return await guarded(request, go)

    async def change(request: Request):
        async def go(data):
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            server.classroom.change(data.get("token"), data, lambda r: fut.done() or fut.set_result(r))
            s = server.classroom.students.get(data.get("token"))
            z = server.api.latent_list(s) if s is not None else None
            r = await asyncio.wait_for(fut, 30)
            if r is None:
                return JSONResponse({"superseded": True})
            if isinstance(r, Exception):
                return _bad(str(r), 500)
            return JSONResponse({"seq": r.seq, "caption": r.caption, "z": z, "ms": round(r.seconds * 1000, 1),
                                 "png": "data:image/png;base64," + base64.b64encode(r.png).decode("ascii")})
        return await guarded(request, go)

    map_cache: dict = {}

    async def map_(request: Request):
        if "body" not in map_cache:
            map_cache["body"] = json.dumps(map_payload(server.classroom.teacher)).encode()
        return Response(map_cache["body"], media_type="application/json",
                        headers={"Cache-Control": "private, max-age=600"})

    async def strips(request: Request):
        async def go(data):
            return JSONResponse({"strips": await server.api.strips(student(data.get("token")))})
        return await guarded(request, go)

    async def morph(request: Request):
        async def go(data):
            return JSONResponse(await server.api.morph(student(data.get("token")), data.get("a"), data.get("b"),
                                                       data.get("frames", 12)))
        return await guarded(request, go)

    async def theory(request: Request):
        async def go(data):
            return JSONResponse(await server.api.theory(student(data.get("token"))))
        return await guarded(request, go)

    async def sample(request: Request):
        async def go(data):
            return JSONResponse(await server.api.sample(student(data.get("token")), data.get("k", 1)))
        return await guarded(request, go)

    async def leave(request: Request):
        async def go(data):
            return JSONResponse({"left": server.classroom.leave(data.get("token"))})
        return await guarded(request, go)

    async def events(request: Request):
        token = request.query_params.get("token")
        try:
            s = student(token)
        except KeyError:
            return _bad("unknown student: join again", 404)
        queue: asyncio.Queue = asyncio.Queue()
        s.wake = lambda: queue.put_nowait(1)
        s.streams += 1
        cl = server.classroom

        async def stream():
            try:
                yield "retry: 2000\n\n"
                while True:
                    while s.inbox:
                        yield f"data: {json.dumps(s.inbox.popleft())}\n\n"
                    try:
                        await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        yield ": still here\n\n"
            finally:
                s.streams -= 1
                s.last_seen = cl.clock()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    r = app.router
    r.add_route("/le/join", join, methods=["POST"])
    r.add_route("/le/change", change, methods=["POST"])
    r.add_route("/le/map", map_, methods=["GET"])
    r.add_route("/le/strips", strips, methods=["POST"])
    r.add_route("/le/morph", morph, methods=["POST"])
    r.add_route("/le/theory", theory, methods=["POST"])
    r.add_route("/le/sample", sample, methods=["POST"])
    r.add_route("/le/leave", leave, methods=["POST"])
    r.add_route("/le/events", events, methods=["GET"])
    r.add_route("/le/health", lambda request: JSONResponse({"ok": True, "time": time.time()}), methods=["GET"])


#: label colours (the window's palette: ten distinct hues)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def map_payload(model) -> dict:
    """The map as the page draws it: positions, and what each colouring gives each point."""
    import numpy as np

    d = model.map
    xy = np.round(d.xy.astype(np.float64), 4)
    colour_by = {}
    if d.labels is not None:
        names = d.label_names or [str(v) for v in range(int(d.labels.max()) + 1)]
        colour_by[d.label_name] = {"values": d.labels.astype(int).tolist(), "names": list(map(str, names))}
    if d.factors is not None:
        for k, name in enumerate(d.factor_names):
            if name == d.label_name:
                continue
            vals = d.factors[:, k].astype(int)
            names = d.value_names.get(name) or [str(v) for v in range(int(vals.max()) + 1)]
            colour_by[name] = {"values": vals.tolist(), "names": list(map(str, names))}
    return {"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist(), "colour_by": colour_by, "palette": PALETTE,
            "projection": d.projection.method, "name": d.name, "count": int(len(xy))}
