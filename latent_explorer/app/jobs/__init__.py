"""Jobs: plain functions ``fn(ctx, *args)`` that the worker runs with the model, returning plain data.

``ctx`` is the worker's task context (``ctx.model``, ``ctx.checkpoint()``, ``ctx.progress()``,
``ctx.cancelled``); which request kind runs each job, and that kind's rules, are in
``app.requests``. No Qt and nothing that touches a widget.
"""
