"""The worker's request kinds and their rules. The Scheduler (app/scheduler.py) enforces this table.

The table below is generated from ``RULES`` (``markdown_table()``); docs/architecture.md holds the
same text, checked by a test, so no copy can drift.

{table}

- **coalesce**: a newer request replaces the pending one of its kind and asks a running one to
  stop at its next checkpoint; only the newest result of a kind is delivered. A *lane*
  (``Scheduler.lane``: one classroom student) coalesces within itself: students never replace
  each other's requests.
- **queue**: every request runs, in the order submitted, and reports success or failure;
  a newer one never cancels an older one. ``cancel_all`` leaves queued exports alone.
- **nested**: while a long job runs, ``ctx.checkpoint()`` serves waiting requests of *nested*
  kinds only (read-only decodes of what is on screen, which leave the model as it was), so a
  slider preview never waits behind the map, nor a slow decoder's full decode (seconds) behind
  an encode of hundreds of images (minutes). Every other kind waits until the running job ends.
- **exclusive**: changes the model. Never runs nested; nothing runs nested inside it; it waits
  for every request submitted before it (an export queued before a model switch is written
  with the model it was made with).
- **generation** (maps): ``MapGenerations`` in ``app/map_generations.py``: a result from an
  older map job never replaces a newer map.
- **yields** (``learn-decode``): between the decoder's layers, and between bands of one large
  convolution or attention (``app/jobs/banded.py``), the job asks ``ctx.waiting()`` (does any
  request of a higher rank wait?) and, if one does, drops the decode it is in and returns, so
  the waiting request runs next, as a request of its own. It never calls ``ctx.checkpoint()``
  (only its cancellation is checked): nothing runs nested inside it, so after the first preview
  of a drag the worker is free and the next previews wait for nothing. A preview waits at most
  one band or one memory-bound layer (``bench/diffusers_overhead.py --yield-gap``: 45 ms at
  256 px, 170 ms at 512 px on one CPU thread for the Stable Diffusion VAE).
When several requests wait, the lowest rank runs first (then the oldest). ``learn-preview``
(``app/jobs/learned.py``) fits a learned preview in quarter-second chunks, rank 14:
whatever else waits runs between two chunks, and previews run nested inside one.
``learn-decode`` (``app/jobs/learned_decodes.py``), the lowest rank, fully decodes the map's
latents one at a time, as targets for a second fit; the GUI asks for it only after the user has
left the worker idle for a while (nothing else waiting or running), and a decode yields to any
request that arrives meanwhile.
"""
from __future__ import annotations

_DOC_TEMPLATE = __doc__

from dataclasses import dataclass

COALESCE, QUEUE = "coalesce", "queue"
NESTED, NORMAL, EXCLUSIVE = "nested", "normal", "exclusive"


@dataclass(frozen=True)
class Rule:
    kind: str
    policy: str     # COALESCE or QUEUE
    nesting: str    # NESTED, NORMAL or EXCLUSIVE
    rank: int       # lower runs first

    @property
    def queued(self) -> bool:
        return self.policy == QUEUE

    @property
    def exclusive(self) -> bool:
        return self.nesting == EXCLUSIVE


def _table() -> dict[str, Rule]:
    rows = [(k, QUEUE, EXCLUSIVE, 0) for k in ("load", "size", "device", "precision", "pair")]
    rows += [("preview", COALESCE, NESTED, 1), ("class", COALESCE, NESTED, 1), ("sample", COALESCE, NESTED, 2), ("recon", COALESCE, NESTED, 3),
             ("hash", COALESCE, NORMAL, 4), ("warm", COALESCE, NORMAL, 5),
             ("final", COALESCE, NESTED, 6), ("strip", COALESCE, NORMAL, 7), ("traversal", COALESCE, NORMAL, 8),
             ("attribute-strips", COALESCE, NORMAL, 8),
             ("manifold", COALESCE, NORMAL, 9), ("theory", COALESCE, NORMAL, 9), ("posterior", COALESCE, NORMAL, 9),
             ("figure", COALESCE, NORMAL, 9),
             ("export", QUEUE, NORMAL, 10), ("attribute", QUEUE, NORMAL, 10),
             ("strip-final", COALESCE, NORMAL, 11), ("directions", COALESCE, NORMAL, 12),
             ("map", COALESCE, NORMAL, 13), ("compare", COALESCE, NORMAL, 13),
             ("learn-preview", COALESCE, NORMAL, 14), ("learn-decode", COALESCE, NORMAL, 15)]
    rows.append(("breed", COALESCE, NORMAL, 9))  # breeding's thumbnails
    return {k: Rule(k, p, n, r) for k, p, n, r in rows}


RULES: dict[str, Rule] = _table()
#: kinds that change the model
MODEL_KINDS = tuple(k for k, r in RULES.items() if r.exclusive)


def rule(kind: str) -> Rule:
    """The rule of ``kind``; an unknown kind is a bug (every kind must be declared here)."""
    try:
        return RULES[kind]
    except KeyError:
        raise ValueError(f"unknown request kind {kind!r}: declare it in app/requests.py") from None


#: what each kind is, in words (the docs' table shows it; every kind of ``RULES`` has one)
WHAT = {
    "load": "open a model", "size": "change a Stable Diffusion-style VAE's working size",
    "device": "move the model to another device", "precision": "change the full decode's precision",
    "pair": "pair a TAESD decoder for a slow VAE's approximate previews",
    "preview": "decode the latent on screen (a slider, a map click)", "sample": "decode a random sample",
    "class": "the classroom's previews: every student's newest latent, decoded in one batch "
             "(coalescing per student happens before, in its batcher)",
    "recon": "encode and decode the selected image", "hash": "the weights' hash (sessions, recipes)",
    "warm": "trace the small decoder after the first preview", "final": "a slow decoder's full decode of the latent shown",
    "strip": "a slider's strip of what its dimension does", "traversal": "the traversal grid",
    "attribute-strips": "what each of your directions does", "manifold": "the 2-d manifold figure",
    "theory": "the Theory panel's numbers", "posterior": "samples of the posterior q(z ∣ x) for the Theory panel",
    "figure": "a figure for slides", "export": "write an image, GIF, MP4 or recipe",
    "attribute": "a group's encode or a direction's fit", "strip-final": "a strip's full decodes",
    "directions": "principal directions", "map": "encode and project the map",
    "compare": "the β comparison (its own models)", "breed": "a family tree's thumbnails",
    "learn-preview": "fit the learned preview in quarter-second chunks",
    "learn-decode": "one background full decode, a target for the learned preview (yields)",
}

_NESTING_WORDS = {NESTED: "yes: read-only decodes", NORMAL: "no", EXCLUSIVE: "never: exclusive"}
_POLICY_WORDS = {COALESCE: "coalesce (newest wins)", QUEUE: "queue: every one runs, in order"}


def markdown_table() -> str:
    """The rule table, in Markdown, one row a kind in rank order (generated from ``RULES``)."""
    rows = ["| kind | coalesce or queue | nested in a long job's checkpoint? | rank | what it is |",
            "| --- | --- | --- | --- | --- |"]
    for r in sorted(RULES.values(), key=lambda r: (r.rank, r.kind)):
        policy = _POLICY_WORDS[r.policy] + ("; yields to anything waiting" if r.kind == "learn-decode" else "")
        policy += "; map generations" if r.kind == "map" else ""
        rows.append(f"| {r.kind} | {policy} | {_NESTING_WORDS[r.nesting]} | {r.rank} | {WHAT[r.kind]} |")
    return "\n".join(rows)


if _DOC_TEMPLATE:  # (python -O strips docstrings)
    __doc__ = _DOC_TEMPLATE.replace("{table}", markdown_table())
