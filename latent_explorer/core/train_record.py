"""What a training run writes beside its model: training.json's record and metrics.json.

training.json (written with the checkpoint, ``core.checkpoint``) holds the recipe (the options
as run: the batch size and augmentation resolved), the plan in words, every evaluation, the
kept (best) epoch as ``epoch`` and ``best_epoch``, the ``last_epoch`` training went on to, the
steps and whether the run ``finished``. metrics.json, written at the end, holds the command, the
kept epoch's record and ``evaluate``'s output.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .paths import atomic_write_text


def record(opts, plan, history: list, best_epoch: int, finished: bool) -> dict:
    """training.json's content besides the stamp: the recipe, every evaluation, best and last epoch."""
    last = history[-1]
    return {
        "options": {k: v for k, v in asdict(opts).items() if k not in ("out", "resume", "device")},
        "plan": plan.describe(),
        "history": [h.to_dict() for h in history],
        "training_seconds": sum(h.seconds for h in history),
        "best_epoch": best_epoch,
        "last_epoch": last.epoch,
        "steps": last.step,
        "finished": bool(finished),
    }


def write_metrics(out: str | Path, evaluate_output: dict | None = None) -> dict:
    """metrics.json beside a trained model: the exact command, epochs, time and evaluate output.

    ``final_epoch`` is the kept epoch's record (the model in the folder); ``last_epoch`` the
    epoch training went on to."""
    out = Path(out)
    state = json.loads((out / "training.json").read_text())
    opts = state.get("options", {})
    hist = state.get("history") or []
    kept = next((h for h in hist if h.get("epoch") == state["epoch"]), hist[-1] if hist else None)
    metrics = {
        "command": opts.get("command", ""),
        "data": _absolute(opts.get("data")),
        "epochs": state["epoch"],
        "last_epoch": state.get("last_epoch", state["epoch"]),
        "steps": kept.get("step", 0) if kept else 0,
        "training_seconds": round(state.get("training_seconds", 0.0), 3),
        "final_epoch": kept,
    }
    if evaluate_output is not None:
        metrics["evaluate"] = evaluate_output
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _absolute(data):
    """A folder the model was trained on, as an absolute path (so its own images are found from
    anywhere); a bundled dataset's name as it is."""
    from pathlib import Path

    if isinstance(data, str) and data not in ("mnist-5k", "shapes") and Path(data).is_dir():
        return str(Path(data).resolve())
    return data

