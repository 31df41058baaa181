"""`latent-explorer serve` over HTTP, as a browser speaks to it (plain requests): a click decodes
that place, students never mix, bad values are refused, a dead client's state is freed, the
teacher's broadcasts arrive, and the page asks nothing of the internet."""
from __future__ import annotations

import base64
import io
import json
import re
import threading

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the classroom extra is not installed")
requests = pytest.importorskip("requests")


@pytest.fixture
def server(class_server):
    return class_server


def post(srv, path, body, **kw):
    return requests.post(srv.url + path, json=body, timeout=60, **kw)


def join(srv) -> str:
    r = post(srv, "le/join", {})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def pixels(data_url: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def same(a, b) -> bool:
    """The same picture: a batched decode (the class's) may differ from a single one (the window's) by
    one grey level in a pixel, as the decoder's arithmetic order depends on the batch."""
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


def decode(srv, z) -> np.ndarray:
    """z decoded by the server's worker, as every preview is (the model is the worker's alone)."""
    import concurrent.futures

    fut = concurrent.futures.Future()
    z = np.asarray(z, np.float32)
    srv.call(lambda: srv.scheduler.submit("export", lambda ctx: ctx.model.decode(z[None])[0],
                                          on_result=fut.set_result, on_error=fut.set_exception))
    return fut.result(60)[:, :, 0]


def test_join_describes_the_class(server):
    r = post(server, "le/join", {})
    d = r.json()
    assert d["model"] == "digits" and d["latent_dim"] == 16 and len(d["sliders"]) == 8 and len(d["z"]) == 16
    kl = np.array(d["kl"])
    assert list(np.argsort(-kl)[:8]) == d["sliders"]  # the sliders: the most informative dimensions first
    # joining again with the same token (a reload) keeps the student
    again = post(server, "le/join", {"token": d["token"]}).json()
    assert again["token"] == d["token"] and again["number"] == d["number"]


def test_a_click_decodes_that_place(server):
    t = join(server)
    m = server.classroom.teacher
    x, y = (m.map.xy[100] + m.map.xy[200] + m.map.xy[300]) / 3
    r = post(server, "le/change", {"token": t, "op": "place", "x": float(x), "y": float(y)})
    assert r.status_code == 200, r.text
    want = m.map.interpolator.latent_at((float(x), float(y)))
    assert np.allclose(r.json()["z"], want, atol=1e-4)
    assert same(pixels(r.json()["png"]), decode(server, want))
    r = post(server, "le/change", {"token": t, "op": "select", "i": 42})
    assert same(pixels(r.json()["png"]), decode(server, m.map.mean[42]))
    assert r.json()["caption"].startswith("image #42")


def test_students_never_mix(server):
    """Twelve students on threads, each selecting and dragging their own image at once; every answer
    is the decode of that student's own latent."""
    m = server.classroom.teacher
    tokens = [join(server) for _ in range(12)]
    wrong, errors = [], []

    def student(k, t):
        try:
            for step in range(6):
                i = 10 * k + step
                r = post(server, "le/change", {"token": t, "op": "select", "i": i})
                if not same(pixels(r.json()["png"]), decode(server, m.map.mean[i])):
                    wrong.append((k, i))
                v = 0.25 * k - 1.5
                r = post(server, "le/change", {"token": t, "op": "dims", "values": {"0": v}})
                z = m.map.mean[i].copy()
                z[0] = v
                if not np.allclose(r.json()["z"], z, atol=1e-5) or \
                        not same(pixels(r.json()["png"]), decode(server, z)):
                    wrong.append((k, i, v))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=student, args=(k, t)) for k, t in enumerate(tokens)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors and not wrong
    assert not any(th.is_alive() for th in threads)


def test_theory_numbers_are_explains(server):
    from latent_explorer.core import explain

    t = join(server)
    post(server, "le/change", {"token": t, "op": "select", "i": 17})
    n = post(server, "le/theory", {"token": t}).json()
    m = server.classroom.teacher
    r = explain.explain(__import__('latent_explorer').load_model('digits'), m.map.images[17][None])[0]
    assert n["image"] == 17
    assert np.allclose(n["mu"], r["mean"], atol=1e-4) and np.allclose(n["kl_per_dim"], r["kl_per_dim"], atol=1e-4)
    assert abs(n["kl_nats"] - r["kl_nats"]) < 1e-4 and abs(n["recon_nats"] - r["recon_nats"]) < 1e-3
    d = post(server, "le/sample", {"token": t, "k": 1}).json()
    mu, sigma = np.array(d["mu"]), np.array(d["sigma"])
    eps, z = np.array(d["eps"][0]), np.array(d["z"][0])
    assert np.allclose(z, mu + sigma * eps, atol=1e-3)  # z = μ + σ·ε, as shown
    assert np.allclose(d["sigma_eps"][0], sigma * eps, atol=1e-3)
    cur = post(server, "le/change", {"token": t, "op": "current"}).json()
    assert np.allclose(cur["z"], z, atol=1e-3)  # k = 1: the draw is now the student's latent


def test_strips_and_morph(server):
    t = join(server)
    s = post(server, "le/strips", {"token": t}).json()["strips"]
    assert len(s) == 8 and pixels(s[0]["png"]).shape == (28, 28 * 7)
    m = post(server, "le/morph", {"token": t, "a": 3, "b": 9, "frames": 10}).json()
    strip = pixels(m["png"])
    assert m["frames"] == 10 and strip.shape == (28, 280)
    mm = server.classroom.teacher.map.mean
    assert same(strip[:, :28], decode(server, mm[3])) and same(strip[:, -28:], decode(server, mm[9]))


BAD = [
    ("le/change", {"op": "select", "i": -3}, 400), ("le/change", {"op": "select", "i": "1"}, 400),
    ("le/change", {"op": "place", "x": 1e308, "y": 0}, 400), ("le/change", {"op": "dims", "values": {"0": 1e39}}, 400),
    ("le/change", {"op": "dims", "values": {"400": 1}}, 400), ("le/change", {"op": "exec"}, 400),
    ("le/change", {"op": "random", "t": 50}, 400), ("le/morph", {"a": 0, "b": 10**12}, 400),
    ("le/morph", {"a": 0, "b": 1, "frames": 10_000}, 400), ("le/sample", {"k": 10_000}, 400),
    ("le/sample", {"k": "many"}, 400),
]


@pytest.mark.parametrize("path,body,status", BAD, ids=[f"{p}-{json.dumps(b)[:40]}" for p, b, _ in BAD])
def test_bad_values_are_refused(server, path, body, status):
    t = join(server)
    before = post(server, "le/change", {"token": t, "op": "current"}).json()["z"]
    r = post(server, path, {"token": t, **body})
    assert r.status_code == status and r.json()["error"]
    assert post(server, "le/change", {"token": t, "op": "current"}).json()["z"] == before


def test_hostile_bodies(server):
    t = join(server)
    u = server.url + "le/change"
    assert requests.post(u, data=b"{" * 5000, headers={"Content-Type": "application/json"}).status_code == 400
    assert requests.post(u, data=b"[" * 40 + b"]" * 40).status_code == 400
    assert requests.post(u, data=b"\xff\xfe not json").status_code == 400
    assert requests.post(u, data=json.dumps({"token": t, "op": "current", "pad": "x" * 20000})).status_code == 400
    assert requests.post(u, data=b"[1, 2]").status_code == 400
    assert post(server, "le/change", {"token": "someone-else", "op": "current"}).status_code == 404
    assert post(server, "le/change", {"op": "current"}).status_code == 404
    assert requests.get(server.url + "le/events", params={"token": "nobody"}).status_code == 404


def test_one_student_is_rate_limited_not_the_others(server):
    a, b = join(server), join(server)
    codes = [post(server, "le/change", {"token": a, "op": "current"}).status_code for _ in range(80)]
    assert 429 in codes and codes[0] == 200
    assert post(server, "le/change", {"token": b, "op": "current"}).status_code == 200


def test_a_dead_clients_state_is_freed(server):
    t = join(server)
    cl = server.classroom
    r = requests.get(server.url + "le/events", params={"token": t}, stream=True, timeout=30)
    assert r.status_code == 200
    lines = r.iter_lines()
    assert next(lines).startswith(b"retry")
    assert server.call(lambda: cl.students[t].streams) == 1
    assert t not in server.call(cl.reap, 0.0)  # its page is open: kept (the others here have none)
    # the teacher's broadcast arrives on the stream
    server.call(cl.broadcast, {"type": "step", "step": 2})
    got = next(line for line in lines if line.startswith(b"data:"))
    assert json.loads(got[5:]) == {"type": "step", "step": 2}
    server.call(cl.broadcast, {"type": "step", "step": 0})
    r.close()  # the tab closes
    import time

    for _ in range(200):  # the server notices the closed stream when it next writes to it
        server.call(cl.broadcast, {"type": "step", "step": 0})
        if server.call(lambda: cl.students[t].streams) == 0:
            break
        time.sleep(0.05)
    assert t in server.call(cl.reap, 0.0)
    assert post(server, "le/change", {"token": t, "op": "current"}).status_code == 404


def test_the_page_asks_nothing_of_the_internet(server):
    page = requests.get(server.url).text
    assert "le/static/classroom.js" in page
    external = {u for u in re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page)
                if not u.startswith(server.url)}
    assert not external
    assert requests.get(server.url + "le/static/classroom.js").status_code == 200
    teacher = requests.get(server.url + "teacher/", params={"key": server.teacher_key})
    assert teacher.status_code == 200


def test_serve_refuses_without_the_extra(monkeypatch, capsys):
    from latent_explorer import cli, web

    monkeypatch.setattr(web, "missing", lambda: "the classroom needs gradio: pip install 'latent-explorer[classroom]'")
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "pip install" in capsys.readouterr().err


def test_a_students_own_image_goes_through_the_bounded_loader(server, tmp_path):
    import asyncio

    from PIL import Image

    from latent_explorer.core import explain
    from latent_explorer.core.data.images import load_files
    from latent_explorer.core.errors import UserError

    t = join(server)
    st = server.call(lambda: server.classroom.students[t])

    def upload(path):
        return asyncio.run_coroutine_threadsafe(server.api.upload(st, str(path)), server._loop).result(60)

    digit = server.classroom.teacher.map.images[5][:, :, 0]
    good = tmp_path / "mine.png"
    Image.fromarray(digit).resize((112, 112)).convert("RGBA").save(good)
    n = upload(good)
    img = load_files([good], (28, 28), 1).images[0]
    r = explain.explain(__import__("latent_explorer").load_model("digits"), img[None])[0]
    assert n["label"] == "mine.png" and np.allclose(n["mu"], r["mean"], atol=1e-4)
    cur = post(server, "le/change", {"token": t, "op": "current"}).json()
    assert np.allclose(cur["z"], r["mean"], atol=1e-4) and cur["caption"].startswith("your image mine.png")
    (tmp_path / "broken.png").write_bytes(good.read_bytes()[:60])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # a few kB on disk, 400 megapixels
    for bad in ("broken.png", "empty.jpg", "text.png", "bomb.png", "missing.png"):
        with pytest.raises(UserError, match="cannot be used"):
            upload(tmp_path / bad)
    assert np.allclose(post(server, "le/change", {"token": t, "op": "current"}).json()["z"], r["mean"], atol=1e-4)
