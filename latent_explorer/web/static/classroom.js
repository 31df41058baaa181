/* latent-explorer classroom: the page script of the hot path.
 *
 * It joins the class (a token kept for this tab), draws the map on a canvas, and sends each
 * change (a click on the map, a slider, Random) to /le/change, keeping only the newest change in
 * flight: while one is on its way, a newer one waits, and a still newer one replaces it. The
 * answer's picture is drawn at once. The teacher's broadcasts arrive on an event stream.
 */
(function () {
  "use strict";
  const LE = (window.LE = window.LE || {});
  const KEY = "le-token";
  LE.token = sessionStorage.getItem(KEY) || "";
  LE.stats = []; // {op, sent, painted}: the page's own change → painted times (ms)
  let welcome = null, map = null, colourBy = null, selected = null, morphEnds = [];
  let inflight = null, next = null, dragging = null, stripTimer = null, events = null;
  const $ = (id) => document.getElementById(id);

  async function post(path, body) {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(Object.assign({token: LE.token}, body || {}))});
    let data = null;
    try { data = await r.json(); } catch (e) { data = {error: "the server's answer could not be read"}; }
    return {status: r.status, data};
  }

  async function join() {
    const {status, data} = await post("/le/join", {});
    if (status !== 200) { say(data.error || "could not join the class"); return null; }
    LE.token = data.token;
    sessionStorage.setItem(KEY, LE.token);
    welcome = data;
    header();
    listen();
    return data;
  }
  function header() {
    const who = $("le-who"), model = $("le-model");
    if (!welcome) return;
    if (who) who.textContent = "you are student " + welcome.number;
    if (model) model.textContent = welcome.model + " · " + welcome.name;
  }
  LE.ready = null;
  function ready() { return LE.ready || (LE.ready = join()); }
  ready();  // join at once: every panel's events carry the token

  function say(text) {
    const b = $("le-banner");
    if (!b) return;
    b.textContent = text;
    b.hidden = !text;
    clearTimeout(say.t);
    if (text) say.t = setTimeout(() => { b.hidden = true; }, 6000);
  }

  // ---- the hot path: newest change only, one in flight -----------------------------------------
  // ``t0``: when the user acted (a key's or a click's event time), where the clock starts
  function send(op, t0) {
    const item = {op, t0: t0 === undefined ? performance.now() : t0};
    if (inflight) { next = item; return item; }
    go(item);
    return item;
  }
  LE.send = send;

  async function go(item) {
    inflight = item;
    const op = item.op;
    let res;
    try {
      res = await post("/le/change", op);
      if (res.status === 404) { LE.ready = null; await ready(); res = await post("/le/change", op); }
      if (res.status === 429) { await new Promise((r) => setTimeout(r, 150)); if (!next) next = item; }
      else if (res.status !== 200) say(res.data.error || ("the server answered " + res.status));
      else if (!res.data.superseded) await show(res.data, item);
    } catch (e) {
      say("the class server cannot be reached: is the teacher's laptop still serving?");
      await new Promise((r) => setTimeout(r, 1000));
    }
    inflight = null;
    if (next) { const n = next; next = null; go(n); }
  }

  async function show(d, item) {
    const op = item.op;
    const img = $("le-preview");
    if (!img) return;
    const pic = new Image();
    pic.src = d.png;
    try { await pic.decode(); } catch (e) { /* drawn anyway */ }
    img.src = d.png;
    const cap = $("le-caption");
    if (cap) cap.textContent = d.caption;
    if (d.z) setSliders(d.z);
    await new Promise((r) => requestAnimationFrame(() => r()));
    LE.stats.push({op: op.op, sent: item.t0, painted: performance.now(), key: !!item.key});
    if (LE.stats.length > 5000) LE.stats.splice(0, 1000);
    if (op.op !== "dims" || op.commit) scheduleStrips();
  }

  // ---- the map ------------------------------------------------------------------------------------
  async function loadMap() {
    const r = await fetch("/le/map");
    map = await r.json();
    const sel = $("le-colour");
    if (sel) {
      sel.innerHTML = "";
      for (const name of Object.keys(map.colour_by)) sel.add(new Option(name, name));
      colourBy = sel.value || null;
      sel.onchange = () => { colourBy = sel.value; drawMap(); };
    }
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < map.count; i++) {
      x0 = Math.min(x0, map.x[i]); x1 = Math.max(x1, map.x[i]);
      y0 = Math.min(y0, map.y[i]); y1 = Math.max(y1, map.y[i]);
    }
    const px = (x1 - x0) * 0.04 || 1, py = (y1 - y0) * 0.04 || 1;
    map.box = [x0 - px, x1 + px, y0 - py, y1 + py];
    drawMap();
  }

  function view(canvas) {
    const [x0, x1, y0, y1] = map.box, w = canvas.clientWidth, h = canvas.clientHeight;
    const s = Math.min(w / (x1 - x0), h / (y1 - y0)); // equal aspect
    const ox = (w - s * (x1 - x0)) / 2, oy = (h - s * (y1 - y0)) / 2;
    return {s, toPx: (x, y) => [ox + (x - x0) * s, h - oy - (y - y0) * s],
            toData: (px, py) => [x0 + (px - ox) / s, y0 + (h - oy - py) / s]};
  }

  function drawMap() {
    const c = $("le-map");
    if (!c || !map) return;
    const dpr = window.devicePixelRatio || 1, w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#fff"; g.fillRect(0, 0, w, h);
    const v = view(c), col = colourBy && map.colour_by[colourBy], r = map.count > 2000 ? 1.6 : 2.6;
    for (let i = 0; i < map.count; i++) {
      const [px, py] = v.toPx(map.x[i], map.y[i]);
      g.fillStyle = col ? map.palette[col.values[i] % map.palette.length] : "#3060c0";
      g.fillRect(px - r, py - r, 2 * r, 2 * r);
    }
    const mark = (i, colour) => {
      const [px, py] = v.toPx(map.x[i], map.y[i]);
      g.strokeStyle = colour; g.lineWidth = 2.5; g.beginPath(); g.arc(px, py, 7, 0, 2 * Math.PI); g.stroke();
    };
    morphEnds.forEach((i) => mark(i, "#e6550d"));
    if (selected !== null && typeof selected === "number") mark(selected, "#000");
    if (selected && selected.place) {
      const [px, py] = v.toPx(selected.place[0], selected.place[1]);
      g.strokeStyle = "#000"; g.lineWidth = 2; g.beginPath();
      g.moveTo(px - 7, py); g.lineTo(px + 7, py); g.moveTo(px, py - 7); g.lineTo(px, py + 7); g.stroke();
    }
    const leg = $("le-legend");
    if (leg) leg.innerHTML = col ? col.names.map((n, k) =>
      `<span><i style="background:${map.palette[k % map.palette.length]}"></i>${n}</span>`).join("") : "";
  }

  function nearest(px, py, canvas) {
    const v = view(canvas);
    let best = -1, bd = 64; // within 8 px
    for (let i = 0; i < map.count; i++) {
      const [qx, qy] = v.toPx(map.x[i], map.y[i]), d = (qx - px) ** 2 + (qy - py) ** 2;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }

  function onMapClick(ev) {
    const c = ev.currentTarget, rect = c.getBoundingClientRect();
    const px = ev.clientX - rect.left, py = ev.clientY - rect.top, i = nearest(px, py, c);
    if (ev.shiftKey && i >= 0) { pickMorphEnd(i); return; }
    if (i >= 0) { selected = i; send({op: "select", i}, ev.timeStamp); }
    else { const [x, y] = view(c).toData(px, py); selected = {place: [x, y]}; send({op: "place", x, y}, ev.timeStamp); }
    drawMap();
  }

  function pickMorphEnd(i) {
    morphEnds = morphEnds.length >= 2 ? [i] : morphEnds.concat([i]);
    const a = $("le-ma"), b = $("le-mb");
    if (a && morphEnds[0] !== undefined) a.value = morphEnds[0];
    if (b && morphEnds[1] !== undefined) b.value = morphEnds[1];
    say(morphEnds.length === 2 ? "Morph ends chosen: open the Morph tab" : "First end chosen: shift-click the second");
    drawMap();
  }

  // ---- sliders --------------------------------------------------------------------------------------
  function fmt(v) { return (v < 0 ? "−" : "+") + Math.abs(v).toFixed(2); }

  function buildSliders() {
    const box = $("le-sliders");
    if (!box || !welcome) return;
    box.innerHTML = "";
    if (!welcome.sliders.length) { box.textContent = "This model's latent is a grid: use the map and Random."; return; }
    for (const d of welcome.sliders) {
      const kl = welcome.kl ? ` · KL ${welcome.kl[d].toFixed(2)}` : "";
      const row = document.createElement("div");
      row.className = "le-slider";
      row.innerHTML = `<label for="le-s${d}">z${d}<small>${kl}</small></label>` +
        `<input id="le-s${d}" type="range" min="-4" max="4" step="0.01" value="0" data-dim="${d}">` +
        `<output id="le-v${d}">+0.00</output><img id="le-strip${d}" class="le-strip" alt="what z${d} does">`;
      box.appendChild(row);
      const input = row.querySelector("input");
      let keyAt = null;
      input.addEventListener("keydown", (e) => { keyAt = e.timeStamp; });
      input.addEventListener("input", (e) => {
        dragging = d;
        $("le-v" + d).textContent = fmt(+input.value);
        const item = send({op: "dims", values: sliderValues()}, keyAt === null ? e.timeStamp : keyAt);
        item.key = keyAt !== null;  // a key press: the browser bench's clock starts there
        keyAt = null;
      });
      input.addEventListener("change", () => {
        dragging = null;
        send({op: "dims", values: sliderValues(), commit: true});
      });
    }
    if (welcome.z) setSliders(welcome.z);
  }

  function sliderValues() {
    const out = {};
    for (const d of welcome.sliders) out[String(d)] = +$("le-s" + d).value;
    return out;
  }

  function setSliders(z) {
    if (!welcome) return;
    for (const d of welcome.sliders) {
      const input = $("le-s" + d);
      if (!input || d === dragging) continue;
      input.value = z[d];
      $("le-v" + d).textContent = fmt(z[d]);
    }
  }

  function scheduleStrips() {
    clearTimeout(stripTimer);
    stripTimer = setTimeout(async () => {
      const {status, data} = await post("/le/strips", {});
      if (status !== 200) return;
      for (const s of data.strips) { const im = $("le-strip" + s.dim); if (im) im.src = s.png; }
    }, 250);
  }

  // ---- the teacher's broadcasts ------------------------------------------------------------------
  function listen() {
    if (events) events.close();
    events = new EventSource("/le/events?token=" + encodeURIComponent(LE.token));
    events.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === "step") {
        const b = $("le-lab-sync");
        if (b) b.click();
        say(`Your teacher moved the class to lab step ${m.step + 1} (the Lab tab).`);
      } else if (m.type === "show") {
        selected = m.i; drawMap(); send({op: "select", i: m.i});
        say(`Your teacher shows everyone image ${m.i}.`);
      }
    };
    events.onerror = () => { if (events.readyState === EventSource.CLOSED) setTimeout(() => ready().then(listen), 2000); };
  }

  window.addEventListener("pagehide", () => {
    if (LE.token) navigator.sendBeacon("/le/leave", new Blob([JSON.stringify({token: LE.token})],
                                                             {type: "application/json"}));
    sessionStorage.removeItem(KEY);
  });

  // ---- mounting (Gradio calls these when the panels appear) ---------------------------------------
  LE.mount = async function (root) {
    await ready();
    header();
    const c = $("le-map");
    c.addEventListener("click", onMapClick);
    new ResizeObserver(() => drawMap()).observe(c);
    $("le-random").onclick = () => send({op: "random", t: +$("le-temp").value});
    $("le-temp").oninput = () => { $("le-temp-v").textContent = (+$("le-temp").value).toFixed(2); };
    $("le-undo").onclick = () => send({op: "undo"});
    $("le-redo").onclick = () => send({op: "redo"});
    buildSliders();
    await loadMap();
    selected = 0; drawMap();
    send({op: "current"});
    if (welcome.shown !== null && welcome.shown !== undefined) { selected = welcome.shown; send({op: "select", i: welcome.shown}); }
  };

  LE.refresh = function () { if (welcome) { drawMap(); send({op: "current"}); } };

  LE.mountMorph = async function (root) {
    await ready();
    const frame = $("le-morph-frame"), scrub = $("le-scrub"), strip = $("le-morph-strip");
    let m = null;
    const draw = () => {
      if (!m) return;
      const k = +scrub.value, c = document.createElement("canvas");
      c.width = m.width; c.height = m.height;
      c.getContext("2d").drawImage(m.pic, k * m.width, 0, m.width, m.height, 0, 0, m.width, m.height);
      frame.src = c.toDataURL();
      $("le-morph-caption").textContent = `${m.name} · frame ${k + 1} of ${m.frames}`;
    };
    scrub.oninput = draw;
    $("le-morph-go").onclick = async () => {
      $("le-morph-caption").textContent = "decoding the morph…";
      const {status, data} = await post("/le/morph", {a: +$("le-ma").value, b: +$("le-mb").value,
                                                     frames: +$("le-mf").value});
      if (status !== 200) { $("le-morph-caption").textContent = data.error || "could not morph"; return; }
      if (data.superseded) return;
      const pic = new Image(); pic.src = data.png; await pic.decode();
      m = Object.assign({pic}, data);
      strip.src = data.png;
      scrub.max = data.frames - 1; scrub.value = 0;
      draw();
    };
  };
})();
