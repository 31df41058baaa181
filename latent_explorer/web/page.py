"""The classroom's pages, in Gradio: the students' (``/``) and the teacher's (``/teacher/``).

The Explore and Morph panels are drawn by the page script (``static/classroom.js``: the map on a
canvas, the preview, the sliders) over the lean endpoints; Gradio holds the page, its tabs and
the slower panels: Theory (μ ± σ, KL, the −ELBO split, z = μ + σ·ε), the β comparison, the lab's
steps, and the teacher's view. A panel's event carries the student's token, put in by a one-line
script before it leaves the page (``js=``); the handlers are async and run on the server's loop.
"""
import asyncio
import html

import numpy as np

from ..core.errors import UserError
from . import figures

TOKEN_JS = "(...args) => [window.LE ? window.LE.token : '', ...args.slice(1)]"

EXPLORE_HTML = """
<div id="le-explore" class="le-explore">
  <div class="le-mapbox">
    <div class="le-row"><label>colour by <select id="le-colour"></select></label>
      <span id="le-legend" class="le-legend"></span></div>
    <canvas id="le-map" class="le-map" aria-label="the map of encoded images: click anywhere"></canvas>
    <div class="le-hint">Click an image or anywhere between them: that place is decoded.
      Shift-click: choose the morph's ends.</div>
  </div>
  <div class="le-side">
    <div class="le-previewbox"><img id="le-preview" class="le-preview" alt="the decoded latent">
      <div id="le-caption" class="le-caption">joining the class…</div></div>
    <div class="le-row"><button id="le-random" class="le-btn">Random z ~ N(0, T²I)</button>
      <label>T <input id="le-temp" type="range" min="0" max="3" step="0.05" value="1">
      <span id="le-temp-v">1.00</span></label>
      <button id="le-undo" class="le-btn" title="undo">↶</button><button id="le-redo" class="le-btn" title="redo">↷</button></div>
    <div id="le-sliders" class="le-sliders"></div>
  </div>
</div>
<div id="le-banner" class="le-banner" hidden></div>
"""

MORPH_HTML = """
<div class="le-morph">
  <div class="le-row">From image <input id="le-ma" type="number" min="0" value="0" class="le-num">
    to image <input id="le-mb" type="number" min="0" value="1" class="le-num">
    <label>frames <input id="le-mf" type="number" min="2" max="48" value="12" class="le-num"></label>
    <button id="le-morph-go" class="le-btn">Morph</button></div>
  <div class="le-hint">Tip: on the map, shift-click the first image, then the second.</div>
  <div class="le-morphview"><img id="le-morph-frame" class="le-preview" alt="a frame of the morph">
    <div><input id="le-scrub" type="range" min="0" max="11" value="0" style="width:100%">
    <div id="le-morph-caption" class="le-caption"></div>
    <img id="le-morph-strip" class="le-strip" alt="the morph's frames"></div></div>
</div>
"""


def _steps():
    from ..app.lab import lab_steps

    return lab_steps()


def _step_md(steps, k: int) -> str:
    s = steps[k]
    out = [f"### Step {k + 1} of {len(steps)}: {s.title}", s.text]
    if getattr(s, "do", ""):
        out.append(f"**In the window, Do it** {s.do}. Here: " + BROWSER_DO.get(k, "use the panels above."))
    if getattr(s, "look", ""):
        out.append(f"**Look:** {s.look}")
    return "\n\n".join(out)


#: what each lab step asks of a student in the browser (the window's "Do it" drives its own widgets)
BROWSER_DO = {
    0: "pick an image on the Explore map, then open **Theory** and press *Show the posterior*.",
    1: "in **Theory**, press *Sample z = μ + σ·ε* once, then with k = 16.",
    2: "on **Explore**, press *Random* a few times, then move T towards 0 and towards 2.",
    3: "in **Theory**, compare the KL of a few images; drag a slider far outside ±2 and watch the picture.",
    4: "open **β**: the same data through 2-d models trained with different β.",
    5: "this step needs the photos-sd model: your teacher can open a class on it (serve --model photos-sd).",
}


def _numbers_md(n: dict) -> str:
    rec, kl, tot = n["recon_nats"], n["kl_nats"], n["neg_elbo_nats"]
    what = f"Image {n['label']}" if n["image"] >= 0 else f"Your image {n['label']}"
    lines = [f"**{html.escape(what)}.** KL(q(z|x) ‖ N(0, I)) = **{kl:.2f} nats** "
             f"(sum of the bars)."]
    if rec is not None:
        lines.append(f"Reconstruction −log p(x|z) ≈ **{rec:.2f} nats** at one z = μ + σ·ε (one sample, as training "
                     f"scores it); −ELBO ≈ reconstruction + KL = **{tot:.2f} nats**; the model was trained with "
                     f"β = {n['beta']:g} (its loss: reconstruction + β·KL).")
    return "\n\n".join(lines)


def _sample_html(d: dict) -> str:
    k = len(d["z"])
    imgs = "".join(f'<img src="{src}" class="le-thumb" alt="decode of sample {i + 1}">' for i, src in enumerate(d["images"]))
    if k == 1:
        rows = [("μ", d["mu"]), ("σ", d["sigma"]), ("ε ~ N(0, 1)", d["eps"][0]), ("σ·ε", d["sigma_eps"][0]),
                ("z = μ + σ·ε", d["z"][0])]
        return (f"<p>Seed {d['seed']}: ε is drawn, scaled by σ and added to μ; the decoder sees only z "
                f"(now your latent on Explore).</p>{figures.table(rows)}<div class='le-thumbs'>{imgs}</div>")
    return (f"<p>{k} draws z = μ + σ·ε (seed {d['seed']}): the posterior's cloud, decoded. "
            f"Each differs where σ is large.</p><div class='le-thumbs le-grid'>{imgs}</div>")


def student_blocks(server):
    import gradio as gr

    api, steps = server.api, _steps()

    async def theory(token):
        try:
            n = await api.theory(server.classroom.student(token))
        except (KeyError, UserError) as e:
            return f"*{_why(e)}*", ""
        if n.get("superseded"):
            return gr.skip(), gr.skip()
        return _numbers_md(n), figures.posterior(n["mu"], n["sigma"], n["kl_per_dim"])

    async def sample(token, k):
        try:
            d = await api.sample(server.classroom.student(token), int(k))
        except (KeyError, UserError, ValueError, TypeError) as e:
            return f"<p><i>{html.escape(_why(e))}</i></p>"
        return gr.skip() if d.get("superseded") else _sample_html(d)

    async def upload(token, f):
        try:
            n = await api.upload(server.classroom.student(token), f if isinstance(f, str) else f.name)
        except (KeyError, UserError) as e:
            return f"*{_why(e)}*", "", ""
        return (_numbers_md(n), figures.posterior(n["mu"], n["sigma"], n["kl_per_dim"]),
                f'<p>Your image, as the model sees it (now your latent on Explore):</p>'
                f'<img src="{n["png"]}" class="le-thumb" alt="your image">')

    def lab(token, delta):
        try:
            s = server.classroom.student(token)
        except KeyError as e:
            return f"*{_why(e)}*"
        k = s.model.lab_step if s.model.lab_step is not None else 0
        s.model.lab_step = max(0, min(len(steps) - 1, k + delta))
        return _step_md(steps, s.model.lab_step)

    with gr.Blocks(title="latent-explorer · class", fill_width=True, delete_cache=(3600, 3600)) as demo:
        tok = gr.Textbox(visible=False)
        gr.HTML('<div class="le-top"><b>latent-explorer</b> · <span id="le-model"></span> · '
                '<span id="le-who">joining…</span></div>')
        with gr.Tabs(elem_id="le-tabs", selected="lab" if server.options.lab else "explore"):
            with gr.Tab("Explore", id="explore", elem_id="le-tab-explore") as t_explore:
                gr.HTML(EXPLORE_HTML, js_on_load="window.LE && window.LE.mount(element)")
            with gr.Tab("Morph", elem_id="le-tab-morph"):
                gr.HTML(MORPH_HTML, js_on_load="window.LE && window.LE.mountMorph(element)")
            with gr.Tab("Theory", elem_id="le-tab-theory") as t_theory:
                gr.Markdown("The selected image's posterior q(z|x) = N(μ, σ²), what it costs (KL) and how a "
                            "latent is drawn from it.")
                with gr.Row():
                    show = gr.Button("Show the posterior of my image", elem_id="le-theory-show", variant="primary")
                    k = gr.Slider(1, 16, value=1, step=1, label="k draws", elem_id="le-k")
                    draw = gr.Button("Sample z = μ + σ·ε", elem_id="le-theory-sample")
                    own = gr.UploadButton("Your own image…", file_types=["image"], elem_id="le-upload")
                numbers = gr.Markdown(elem_id="le-numbers")
                fig = gr.HTML(elem_id="le-posterior")
                drawn = gr.HTML(elem_id="le-draws")
            with gr.Tab("β", elem_id="le-tab-beta") as t_beta:
                beta = gr.HTML("<p>Open this tab to compare the 2-d models.</p>", elem_id="le-beta")
            with gr.Tab("Lab", id="lab", elem_id="le-tab-lab"):
                step = gr.Markdown(_step_md(steps, 0), elem_id="le-step")
                with gr.Row():
                    back = gr.Button("← Back", elem_id="le-lab-back")
                    fwd = gr.Button("Next →", elem_id="le-lab-next")
                    sync = gr.Button("sync", elem_id="le-lab-sync", visible="hidden")
        show.click(theory, [tok], [numbers, fig], js=TOKEN_JS, concurrency_limit=None)
        t_theory.select(theory, [tok], [numbers, fig], js=TOKEN_JS, concurrency_limit=None)
        draw.click(sample, [tok, k], [drawn], js=TOKEN_JS, concurrency_limit=None)
        own.upload(upload, [tok, own], [numbers, fig, drawn], js=TOKEN_JS, concurrency_limit=None)
        async def beta_tab():
            return await comparison(server)

        t_beta.select(beta_tab, None, [beta], concurrency_limit=None)
        back.click(lambda t: lab(t, -1), [tok], [step], js=TOKEN_JS, concurrency_limit=None)
        fwd.click(lambda t: lab(t, +1), [tok], [step], js=TOKEN_JS, concurrency_limit=None)
        sync.click(lambda t: lab(t, 0), [tok], [step], js=TOKEN_JS, concurrency_limit=None)
        t_explore.select(None, None, None, js="() => { window.LE && window.LE.refresh(); }")
    return demo


def _why(e: Exception) -> str:
    if isinstance(e, KeyError):
        return "You are not in the class any more: reload the page."
    return str(e)


async def comparison(server) -> str:
    """The β comparison: the class's data through every bundled 2-d model (computed once a server)."""
    cache = server.compare_cache
    if "html" in cache:
        return cache["html"]
    if "running" in cache:  # another student's request computes it: wait for that one
        return await asyncio.shield(cache["running"])
    cache["running"] = asyncio.ensure_future(_comparison(server))
    return await asyncio.shield(cache["running"])


async def _comparison(server) -> str:
    from ..app.jobs import compare as compare_jobs

    t = server.classroom.teacher
    points = [p for p in compare_jobs.rate_distortion_points() if p.latent_dim == 2]
    points = [p for p in points if p.data == t.map.name.split("[")[0]]
    if not points:
        return (f"<p>The β comparison uses the bundled 2-d models, trained on the digits; this class maps "
                f"{html.escape(t.map.name)}. Open a class on <code>digits</code> to compare them.</p>")
    points.sort(key=lambda p: p.beta)
    n = len(t.map.images)
    idx = np.sort(np.random.default_rng(0).choice(n, min(1000, n), replace=False))
    labels = None if t.map.labels is None else t.map.labels[idx]
    rid = server.scheduler.submit("compare", compare_jobs.compare, points, t.map.images[0], t.map.images[idx], labels, {})
    results = await server.api.until(rid, timeout=600)
    if results is None:
        return "<p>The comparison was replaced by a newer one: open the tab again.</p>"
    cards = []
    for r in results:
        p = r.point
        words = (f"β = {p.beta:g} · rate (KL) {p.kl_nats:.2f} · distortion {p.recon_nats:.1f} nats "
                 f"(test split)")
        cards.append(f'<figure class="le-card">{figures.plane(r.map_xy, r.labels, f"β = {p.beta:g}")}'
                     f"<figcaption>{html.escape(words)}</figcaption></figure>")
    server.compare_cache["html"] = ("<p>The same 1,000 images through 2-d models trained with different β. Grey discs: the "
                        "prior's 1σ and 2σ. Small β: the means spread out and leave holes the prior covers; "
                        "large β: the means crowd onto the prior and the digits blur together.</p>"
                        f'<div class="le-cards">{"".join(cards)}</div>')
    return server.compare_cache["html"]


def teacher_blocks(server):
    import gradio as gr

    from .share import qr_svg, urls

    steps = _steps()
    cl = server.classroom

    def allowed(request: gr.Request) -> bool:
        return request is not None and request.query_params.get("key") == server.teacher_key

    def stats_md(request: gr.Request):
        if not allowed(request):
            return "**This page needs the teacher's key** (printed by `latent-explorer serve`)."
        ld = cl.load()
        p95 = "–" if ld["p95_ms"] is None else f"{ld['p95_ms']:.0f} ms"
        step = "not set" if cl.lab_step is None else f"{cl.lab_step + 1}"
        return (f"### {ld['connected']} connected · {ld['students']} with state\n\n"
                f"Changes {ld['changes_per_s']:.1f}/s · change → image p95 {p95} (last 10 s) · "
                f"{ld['decoded']} images decoded · lab step for everyone: {step} · "
                f"server CPU {_cpu_percent():.0f}% · memory {_rss_mb():.0f} MB")

    def to_step(k, request: gr.Request):
        if not allowed(request):
            return "Not allowed without the teacher's key."
        k = int(k)
        n = cl.broadcast({"type": "step", "step": k})
        return f"Sent step {k + 1} to {n} students."

    def preview(i, request: gr.Request):
        if not allowed(request) or i is None:
            return ""
        i = int(i)
        if not 0 <= i < len(cl.teacher.map.images):
            return f"<p>There is no image {i}.</p>"
        from .api import b64png

        return (f'<img src="{b64png(cl.teacher.map.images[i])}" class="le-preview" alt="image {i}">'
                f"<p>{html.escape(cl.teacher.label(i))}</p>")

    def show_all(i, request: gr.Request):
        if not allowed(request) or i is None:
            return "Not allowed without the teacher's key."
        i = int(i)
        if not 0 <= i < len(cl.teacher.map.images):
            return f"There is no image {i}."
        n = cl.broadcast({"type": "show", "i": i})
        return f"Showing {cl.teacher.label(i)} to {n} students."

    def qr():
        links = urls(server.options.host, server.port)
        return (f'<div class="le-qr">{qr_svg(links[0])}<p>Students open '
                f'{" · ".join(html.escape(u) for u in links)}</p></div>')

    with gr.Blocks(title="latent-explorer · teacher", fill_width=True) as demo:
        gr.HTML('<div class="le-top"><b>latent-explorer</b> · the teacher\'s view</div>')
        with gr.Row():
            with gr.Column(scale=2):
                load = gr.Markdown(elem_id="le-load")
                with gr.Row():
                    which = gr.Dropdown([(f"{k + 1}. {s.title}", k) for k, s in enumerate(steps)], value=0,
                                        label="Lab step", elem_id="le-step-pick")
                    go = gr.Button("Everyone to this step", elem_id="le-step-all", variant="primary")
                with gr.Row():
                    img = gr.Number(0, precision=0, minimum=0, label="Image number", elem_id="le-image-pick")
                    show = gr.Button("Show everyone this image", elem_id="le-show-all")
                said = gr.Markdown(elem_id="le-said")
                shown = gr.HTML(elem_id="le-teacher-preview")
            with gr.Column(scale=1):
                code = gr.HTML(elem_id="le-qr")
        timer = gr.Timer(2.0)
        timer.tick(stats_md, None, [load], concurrency_limit=None, show_progress="hidden")
        demo.load(stats_md, None, [load])
        demo.load(qr, None, [code])
        demo.load(preview, [img], [shown])
        go.click(to_step, [which], [said])
        img.change(preview, [img], [shown], show_progress="hidden")
        show.click(show_all, [img], [said])
    return demo


def _cpu_percent() -> float:
    """This process's CPU use since the last call, in percent of one core."""
    import time

    now, cpu = time.monotonic(), time.process_time()
    last = _CPU.get("last")
    _CPU["last"] = (now, cpu)
    if last is None or now - last[0] <= 0:
        return 0.0
    return 100.0 * (cpu - last[1]) / (now - last[0])


_CPU: dict = {}


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


CSS_HEAD = '<link rel="stylesheet" href="/le/static/classroom.css"><script src="/le/static/classroom.js"></script>'


def mount(app, server) -> None:
    import gradio as gr

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    common = dict(footer_links=[], ssr_mode=False, theme=theme, head=CSS_HEAD, show_error=True, max_file_size="8mb",
                  enable_monitoring=False, pwa=False, mcp_server=False)
    gr.mount_gradio_app(app, teacher_blocks(server), path="/teacher", **common)
    gr.mount_gradio_app(app, student_blocks(server), path="", **common)
