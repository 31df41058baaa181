"""The classroom in the browser: ``latent-explorer serve`` (``web.server``).

A second front-end over the application layer (``app.classroom``: one model and one scheduler,
an ``ExplorerModel`` and ``Commands`` per student): Gradio draws the page and its panels, and
the hot path (a slider moved, the map clicked → the new picture) is a lean endpoint of the same
server, driven by a small page script (``web/static/classroom.js``) that keeps only each
student's newest change in flight. Nothing here is imported by the desktop app; Gradio is an
optional extra (``pip install latent-explorer[classroom]``).
"""
import os

# Before Gradio is imported: no telemetry (its import would otherwise look up Gradio's host),
# no server-side rendering (it needs Node and a second server). The page works with no internet.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_SSR_MODE", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def missing() -> str:
    """"" when the classroom's libraries are installed, else how to install them (one line)."""
    import importlib.util

    need = [m for m in ("gradio", "fastapi", "uvicorn", "segno") if importlib.util.find_spec(m) is None]
    if not need:
        return ""
    return (f"the classroom needs {', '.join(need)}: pip install 'latent-explorer[classroom]' "
            "(in the app's environment)")
