"""The worker's request kinds and their rules. The DecodeWorker (gui/worker.py) enforces this table.

| kind                                   | coalesce or queue        | nested in a long job's checkpoint? | rank |
| -------------------------------------- | ------------------------ | ---------------------------------- | ---- |
| load, size, device, precision, pair    | queue, applied in order  | never: exclusive                   | 0    |
| preview, sample, recon                 | coalesce (newest wins)   | yes: read-only decodes             | 1-3  |
| hash, warm                             | coalesce                 | no                                 | 4-5  |
| final (a slow decoder's full decode)   | coalesce                 | yes: read-only (the latent shown)  | 6    |
| strip, traversal, manifold             | coalesce                 | no                                 | 7-9  |
| attribute-strips (what each direction does) | coalesce            | no                                 | 8    |
| theory, posterior, figure (Theory)     | coalesce                 | no                                 | 9    |
| compare (its own worker and models)    | coalesce                 | no                                 | 13   |
| export                                 | queue: every one runs    | no; ranks above the map            | 10   |
| attribute (a group's encode, a direction) | queue: every one runs | no                                 | 10   |
| strip-final, directions                | coalesce                 | no                                 | 11-12|
| map                                    | coalesce + generation    | no                                 | 13   |
| breed (a family tree's thumbnails)     | coalesce                 | no                                 | 9    |
| learn-preview (short chunks)           | coalesce                 | no; previews nest inside it        | 14   |
| learn-decode (one background decode)   | coalesce; yields         | no, none inside; gives way instead | 15   |

- **coalesce**: a newer request replaces the pending one of its kind and asks a running one to
  stop at its next checkpoint; only the newest result of a kind is delivered.
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
    rows += [("preview", COALESCE, NESTED, 1), ("sample", COALESCE, NESTED, 2), ("recon", COALESCE, NESTED, 3),
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
