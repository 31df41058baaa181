"""The explorer's application layer, with no Qt: what the app knows and does, apart from its widgets.

- ``state``: the current latent, its source, the selection and the undo history;
- ``requests``: the worker's request kinds and their rules (coalesce or queue, nested or exclusive);
- ``jobs``: the plain functions the worker runs with the model (load, decode, map, exports, tiers);
- ``session_io``: the app's state <-> a ``core.session.Session`` (capture, and a plan to restore it);
- ``map_generations``: map results are accepted in order only.

``gui/`` binds Qt widgets to this layer; tests run it headless, like ``core/``.
"""
