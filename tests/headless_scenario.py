"""A whole explorer session driven through the application model and commands, with no Qt.

Run as a script (``python tests/headless_scenario.py OUT_DIR``; tests/test_app_model.py does, in a
fresh interpreter, so that nothing else has imported Qt): it opens digits, selects an image, pins
two, morphs between them, exports the morph as a GIF, makes a direction, breeds two generations,
saves a session, opens it in a fresh model, and compares the two models field by field. It prints
one JSON object (what it wrote, what differed, whether Qt was imported) as its last line.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def wait(sched, cmds, what: str, timeout: float = 300) -> None:
    if not sched.wait_for(cmds.idle, timeout=timeout):
        raise SystemExit(f"timed out waiting for {what}")
    if cmds.failures:
        raise SystemExit(f"{what} failed: {cmds.failures}")


def fields(m) -> dict:
    """The saved fields of an ExplorerModel, as comparable plain values."""
    tree = m.family
    st = m.latent
    return {
        "spec": m.spec, "images": m.images, "selected": m.selected, "pins": list(m.pins),
        "temperature": m.temperature, "color_by": m.color_by,
        "latent": None if st.z is None else st.z.round(6).tolist(), "latent_source": st.source,
        "history": [(z.round(6).tolist(), src) for z, src in st.history.entries()],
        "history_position": st.history.position,
        "bookmarks": [(b.name, np.asarray(b.latent).round(6).tolist()) for b in m.bookmarks],
        "morph": None if m.morph is None else {
            "keys": np.asarray(m.morph.keys).round(6).tolist(), "ends": list(m.morph.ends), "name": m.morph.name,
            "method": m.morph.method, "frames": int(m.morph.frames)},
        "directions": [(d.name, d.method, np.asarray(d.vector).round(6).tolist(), float(s))
                       for d, s in m.directions],
        "family": None if tree is None or not tree.nodes else json.loads(json.dumps(tree.to_dict()[0], default=str)),
        "family_latents": None if tree is None or not tree.nodes else
        np.asarray(tree.to_dict()[1]).round(6).tolist(),
    }


#: the scenario's settings (tests/test_app_model.py does the same through the window)
FRAMES, FPS, TEMPERATURE, DIRECTION = 10, 10, 0.8, "0 → 1"


def scenario_images(d) -> tuple[int, int]:
    """The scenario's two images: the first 0 and the first 1 of the map."""
    return int(np.flatnonzero(d.labels == 0)[0]), int(np.flatnonzero(d.labels == 1)[0])


def run(out: Path) -> dict:
    from latent_explorer.app.commands import Commands
    from latent_explorer.app.model import ExplorerModel
    from latent_explorer.app.scheduler import Scheduler
    from latent_explorer.core.session import Bookmark

    sched = Scheduler(torch_threads=None)
    sched.start()
    try:
        model = ExplorerModel()
        cmds = Commands(model, sched)
        events = []
        model.events.selected.connect(lambda i: events.append(("selected", i)))
        model.events.pins.connect(lambda p: events.append(("pins", list(p))))
        cmds.open_model("digits")
        wait(sched, cmds, "opening digits and mapping its images")
        assert model.summary is not None and model.map is not None and model.map_done
        d = model.map
        a, b = scenario_images(d)
        cmds.select(a)
        cmds.bookmark("a zero")
        cmds.pin(a)
        cmds.pin(b)
        cmds.morph(a, b, frames=FRAMES, method="slerp")
        wait(sched, cmds, "the morph strip")
        gif = out / "morph.gif"
        cmds.export_morph(str(gif), fps=FPS)
        zeros, ones = np.flatnonzero(d.labels == 0), np.flatnonzero(d.labels == 1)
        cmds.make_direction(cmds.group(zeros, "label 0"), cmds.group(ones, "label 1"), name=DIRECTION)
        wait(sched, cmds, "the export and the direction")
        model.temperature = TEMPERATURE
        cmds.add_pinned_parents()
        gen1 = cmds.breed(n=6, mutation=0.2, seed=7)
        gen2 = cmds.next_generation(gen1[:2], n=6, mutation=0.2, seed=8)
        child = model.family.nodes[gen2[0]]
        cmds.set_latent(child.latent, f"breeding {child.label}")
        session = out / "scenario.lexplore"
        cmds.save_session(str(session))
        saved = fields(model)
        (out / "fields.json").write_text(json.dumps(saved), encoding="utf-8")

        fresh = ExplorerModel()
        cmds2 = Commands(fresh, sched)
        cmds2.open_session(str(session))
        if not sched.wait_for(lambda: fresh.opening_session is None and cmds2.idle(), timeout=300):
            raise SystemExit("timed out opening the session")
        reopened = fields(fresh)
        differ = sorted(k for k in saved if saved[k] != reopened[k])
        return {"files": sorted(p.name for p in out.iterdir() if p.name != "fields.json"),
                "gif_bytes": gif.stat().st_size,
                "differ": differ, "notes": cmds2.session_notes, "events": events[:4],
                "generations": [len(gen1), len(gen2)], "directions": len(fresh.directions),
                "qt_imported": sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5",
                                                                                  "PyQt6", "pyqtgraph", "superqt"))}
    finally:
        sched.stop(3000)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(target)))
