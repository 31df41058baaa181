"""The latent map at 100,000 and 1,000,000 points, through the real widget and event loop.

For each size, a synthetic map (ten Gaussian clusters of different shapes and a sparse halo in a
16-d latent, PCA-projected; thumbnails made on demand, as a collection reads them lazily) is
shown in a LatentMapWidget of 1000 × 760 px:
- first draw: from ``set_data`` until the plot has painted (KD-tree, colours, raster, sample);
- pan and zoom: middle-button drags and wheel steps sent as real events every 11 ms, for a few
  seconds each; a frame's clock starts at the event's *scheduled* time and stops when the plot
  has painted it; frames per second = paints / duration, with the p95 latency;
- after each, the view is redone: from the user's last action (the button released, the last wheel
  step) until the re-binned view is painted (the 90 ms debounce included);
- hover: mouse moves 12 ms apart, half onto a random point, half anywhere over the plot; each
  clock stops when the move has been handled (KD-tree pick, hover card updated) and painted;
- memory: the process's resident set before and after the map is shown.
Prints one JSON object as its last line. Targets on this CPU: ≥ 30 fps at 100k, ≥ 20 fps at 1M,
hover ≤ 10 ms, first draw ≤ 2 s at 1M. ``--smoke``: 30,000 points, a fraction of a second of each
gesture, a few hovers, offscreen; ``--save``: bench/results/ (bench/_results.py).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import _results

KEYS = ("load_average", "targets")

if "--smoke" in sys.argv or (not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class LazyThumbs:
    """Thumbnails made on demand (a collection reads them from its shards the same way)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(int(i))
        return (rng.random((28, 28, 1)) * 255).astype(np.uint8)


def synthetic_map(n: int, seed: int = 0):
    from latent_explorer.app.jobs.mapping import MapData
    from latent_explorer.core.latent.project import Projection, point_density

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(0, 3, (10, 16)).astype(np.float32)
    scales = rng.uniform(0.3, 1.2, (10, 16)).astype(np.float32)
    mean = centres[labels] + rng.normal(0, 1, (n, 16)).astype(np.float32) * scales[labels]
    halo = rng.random(n) < 0.01
    mean[halo] *= 2.5
    mu = mean.mean(0)
    comps = np.linalg.svd(mean[:20000] - mu, full_matrices=False)[2][:2].astype(np.float32)
    xy = ((mean - mu) @ comps.T).astype(np.float32)
    proj = Projection("pca", xy, mean, mean=mu, components=comps, explained=(0.3, 0.2))
    err = rng.gamma(2.0, 0.01, n).astype(np.float32)
    return MapData(f"synthetic-{n}", LazyThumbs(n), labels, mean, None, err, proj, None, point_density(xy), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--seconds", type=float, default=3.0, help="of panning, and of zooming, per size")
    ap.add_argument("--hovers", type=int, default=200)
    ap.add_argument("--screenshot", default=None, metavar="DIR", help="save each map as DIR/map-<size>.png")
    _results.add_options(ap)
    a = ap.parse_args()
    run = _results.start("map_scale", a)
    if a.smoke:
        a.sizes, a.seconds, a.hovers = "30000", 0.25, 6  # above LOD_POINTS: the raster and re-binning too

    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
    from PySide6.QtGui import QMouseEvent, QWheelEvent
    from PySide6.QtWidgets import QApplication

    from latent_explorer.gui import theme
    from latent_explorer.gui.widgets.latent_map import LatentMapWidget

    app = QApplication.instance() or QApplication([])
    theme.apply(app) if hasattr(theme, "apply") else None
    results = {}
    for n in [int(s) for s in a.sizes.split(",")]:
        data = synthetic_map(n)
        base_mb = rss_mb()
        w = LatentMapWidget()
        w.resize(1000, 760)
        w.show()
        app.processEvents()
        vp = w.plot.viewport()
        painted = []
        orig_paint = w.plot.paintEvent

        def paint(ev, orig=orig_paint, painted=painted):
            orig(ev)
            painted.append(time.perf_counter())

        w.plot.paintEvent = paint
        t0 = time.perf_counter()
        w.set_data(data)
        n_before = len(painted)
        while len(painted) == n_before:
            app.processEvents()
        first_draw = painted[-1] - t0
        shown_mb = rss_mb()

        def settle(t_action, before):
            """From the user's last action (the button released, the last wheel step) until the re-binned
            view is painted: the debounce the user waits plus the re-bin and its paint."""
            deadline = time.perf_counter() + 5
            while w.lod.refreshes == before and time.perf_counter() < deadline:
                app.processEvents()
                time.sleep(0.001)
            n = len(painted)
            while len(painted) == n and time.perf_counter() < deadline:
                app.processEvents()
            return painted[-1] - t_action if len(painted) > n else float("nan")

        def drive(send, seconds):
            """send(k) every 11 ms from scheduled times (pyqtgraph's scene drops mouse moves closer than
            10 ms: its mouseRateLimit of 100 Hz); (fps, p95 latency ms) from the paints."""
            interval = 0.011
            steps = int(seconds / interval)
            marks = []
            start = time.perf_counter()
            painted.clear()
            k = 0
            while k < steps:
                due = start + k * interval
                now = time.perf_counter()
                if now < due:
                    app.processEvents()
                    continue
                send(k)
                marks.append(due)
                k += 1
                app.processEvents()
            end = time.perf_counter()
            paints = [p for p in painted if p <= end]
            lat = []
            for m in marks:  # each event's latency: to the first paint after its scheduled time
                j = np.searchsorted(paints, m)
                if j < len(paints):
                    lat.append((paints[j] - m) * 1000)
            return len(paints) / (end - start), float(np.percentile(lat, 95)) if lat else float("nan")

        c = QPointF(vp.width() / 2, vp.height() / 2)

        def mouse(kind, pos, button, buttons):
            ev = QMouseEvent(kind, pos, QPointF(vp.mapToGlobal(pos.toPoint())), button, buttons,
                             Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(vp, ev)

        mid = Qt.MouseButton.MiddleButton
        mouse(QEvent.Type.MouseButtonPress, c, mid, mid)

        def pan(k):
            dx = 120 * np.sin(k * 0.05)
            dy = 80 * np.sin(k * 0.031)
            mouse(QEvent.Type.MouseMove, c + QPointF(dx, dy), Qt.MouseButton.NoButton, mid)

        pan_fps, pan_p95 = drive(pan, a.seconds)
        before = w.lod.refreshes
        t_release = time.perf_counter()
        mouse(QEvent.Type.MouseButtonRelease, c, mid, Qt.MouseButton.NoButton)
        redo_pan = settle(t_release, before)

        def zoom(k):
            delta = 120 if (k // 40) % 2 == 0 else -120
            ev = QWheelEvent(c, QPointF(vp.mapToGlobal(c.toPoint())), QPoint(0, 0), QPoint(0, delta),
                             Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                             False)
            QApplication.sendEvent(vp, ev)

        zoom_fps, zoom_p95 = drive(zoom, a.seconds)
        redo_zoom = settle(time.perf_counter(), w.lod.refreshes)  # (the last wheel step was just handled)
        w.lod.fit_view()
        app.processEvents()

        if a.screenshot:
            w.card.hide_card()  # shown by the pan's mouse moves
            app.processEvents()
            w.grab().save(os.path.join(a.screenshot, f"map-{n // 1000}k.png"))
        rng = np.random.default_rng(1)
        hover_ms, pick_ms, hits, picks, changed = [], [], 0, 0, 0
        for k in range(a.hovers):
            if k % 2:  # half on a random point (a hover that finds one), half anywhere
                j = int(rng.integers(n))
                at = w.plot.mapFromScene(w.vb.mapViewToScene(QPointF(*map(float, data.xy[j]))))
                p = QPointF(np.clip(at.x() + rng.uniform(-2, 2), 1, vp.width() - 2),
                            np.clip(at.y() + rng.uniform(-2, 2), 1, vp.height() - 2))
            else:
                p = QPointF(rng.uniform(20, vp.width() - 20), rng.uniform(20, vp.height() - 20))
            time.sleep(0.012)  # moves closer than 10 ms apart are dropped by the scene (see drive)
            shown = w.card.index
            t = time.perf_counter()
            mouse(QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
            app.processEvents()  # the pick, the hover card's picture and text, and the paint
            hover_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            i = w.point_at(w.vb.mapSceneToView(w.plot.mapToScene(p.toPoint())))
            pick_ms.append((time.perf_counter() - t) * 1000)
            hits += i is not None and w.card.isVisible() and w.card.index == i
            picks += i is not None
            changed += w.card.index != shown
        results[f"{n // 1000}k"] = {
            "first_draw_s": round(first_draw, 3),
            "pan_fps": round(pan_fps, 1), "pan_p95_ms": round(pan_p95, 1),
            "zoom_fps": round(zoom_fps, 1), "zoom_p95_ms": round(zoom_p95, 1),
            "redo_view_ms": [None if r != r else round(r * 1000, 1) for r in (redo_pan, redo_zoom)],  # NaN: none
            "hover_p50_ms": round(float(np.median(hover_ms)), 2), "hover_p95_ms": round(float(np.percentile(hover_ms, 95)), 2),
            "pick_p95_ms": round(float(np.percentile(pick_ms, 95)), 3), "hover_hits": hits, "picks": picks, "card_changes": changed,
            "points_drawn": int(len(w.lod.drawn)), "sampled": bool(w.lod.sampled),
            "rss_mb": round(shown_mb, 1), "widget_mb": round(shown_mb - base_mb, 1),
        }
        print(f"{n:,} points: {results[f'{n // 1000}k']}", flush=True)
        w.lod.stop()
        w.close()
        w.deleteLater()
        del data
        app.processEvents()
    QTimer.singleShot(0, app.quit)
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = "pan/zoom >= 30 fps at 100k, >= 20 fps at 1M; hover <= 10 ms; first draw <= 2 s at 1M"
    run.emit(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
