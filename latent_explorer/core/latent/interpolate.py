"""Moving between latents: lerp, slerp, barycentric blends, eased paths through keyframes.

Latents of any shape (vectors or C×H×W spatial latents) are treated as flat vectors.
``path_latents`` is the exports' morph path: frames spread evenly over the segments between
consecutive keyframes (not by their length), each segment's parameter eased (``ease_t``).
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-7


def lerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Straight line: (1 − t)·a + t·b; ``t`` a scalar or a 1-D array (one output per t)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    t = np.asarray(t, np.float32)
    if t.ndim == 0:
        return ((1 - t) * a + t * b).astype(np.float32)
    tt = t.reshape(-1, *([1] * a.ndim))
    return ((1 - tt) * a[None] + tt * b[None]).astype(np.float32)


def _orthogonal_unit(v: np.ndarray) -> np.ndarray:
    """A fixed unit vector orthogonal to unit vector v (Gram–Schmidt on the least-aligned axis)."""
    e = np.zeros_like(v)
    e[int(np.argmin(np.abs(v)))] = 1.0
    u = e - v * np.dot(e, v)
    return u / np.linalg.norm(u)


def slerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation, the usual path through a Gaussian latent space.

    Follows the great circle between the directions of a and b, with the norm changing
    smoothly from |a| to |b| (unit vectors stay unit). Nearly parallel vectors fall back to
    lerp; exactly opposite vectors (no unique great circle) turn through a fixed orthogonal
    direction so the result is still defined and continuous.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    shape = a.shape
    t_arr = np.atleast_1d(np.asarray(t, np.float64))
    fa, fb = a.ravel(), b.ravel()
    na, nb = np.linalg.norm(fa), np.linalg.norm(fb)
    if na < _EPS or nb < _EPS:
        return lerp(a, b, t)
    ua, ub = fa / na, fb / nb
    dot = float(np.clip(np.dot(ua, ub), -1.0, 1.0))
    if dot > 1 - 1e-6:  # parallel: the arc is a line
        return lerp(a, b, t)
    norms = (1 - t_arr) * na + t_arr * nb
    if dot < -1 + 1e-6:  # opposite: rotate through a fixed orthogonal direction
        u = _orthogonal_unit(ua)
        ang = np.pi * t_arr
        out = norms[:, None] * (np.cos(ang)[:, None] * ua + np.sin(ang)[:, None] * u)
    else:
        omega = np.arccos(dot)
        so = np.sin(omega)
        wa = np.sin((1 - t_arr) * omega) / so
        wb = np.sin(t_arr * omega) / so
        out = wa[:, None] * fa + wb[:, None] * fb
    out = out.reshape(len(t_arr), *shape).astype(np.float32)
    return out[0] if np.ndim(t) == 0 else out


def interpolate(a, b, steps: int, method: str = "slerp") -> np.ndarray:
    """``steps`` latents from a to b inclusive (steps ≥ 2), by ``method`` slerp or lerp."""
    if method not in ("slerp", "lerp"):
        raise ValueError(f"unknown interpolation {method!r}: use slerp or lerp")
    t = np.linspace(0.0, 1.0, max(2, steps))
    return (slerp if method == "slerp" else lerp)(a, b, t)


def path(latents: np.ndarray, frames: int, method: str = "slerp") -> np.ndarray:
    """A morph through several latents in order: ``frames`` in all, ending on each keyframe."""
    latents = np.asarray(latents, np.float32)
    k = len(latents)
    if k < 2:
        raise ValueError("a morph needs at least two latents")
    frames = max(frames, k)
    pos = np.linspace(0, k - 1, frames)
    out = []
    for p in pos:
        i = min(int(np.floor(p)), k - 2)
        t = p - i
        f = slerp if method == "slerp" else lerp
        out.append(f(latents[i], latents[i + 1], float(t)))
    return np.stack(out).astype(np.float32)


EASES = ("linear", "ease-in-out")


def ease_t(t, kind: str = "linear") -> np.ndarray:
    """The frame parameter t in [0, 1] eased: ``linear`` keeps it; ``ease-in-out`` is smoothstep
    3t² − 2t³ (zero speed at both ends, C¹; at most 0.0101 from the cosine ease (1 − cos πt) / 2)."""
    t = np.clip(np.asarray(t, np.float64), 0.0, 1.0)
    if kind == "linear":
        return t
    if kind == "ease-in-out":
        return t * t * (3.0 - 2.0 * t)
    raise ValueError(f"unknown ease {kind!r}: use {' or '.join(EASES)}")


def segment_steps(frames: int, segments: int) -> list[int]:
    """How many steps each of ``segments`` segments gets when ``frames`` frames (ends included)
    run through segments + 1 keyframes: frames − 1 steps shared evenly, the first segments taking
    one more where they do not divide; each segment at least one step."""
    if segments < 1 or frames < segments + 1:
        raise ValueError(f"{frames} frames cannot pass through {segments + 1} keyframes: use at least {segments + 1}")
    base, extra = divmod(frames - 1, segments)
    return [base + (i < extra) for i in range(segments)]


def path_latents(keyframes, frames: int, method: str = "slerp", ease: str = "linear") -> np.ndarray:
    """``frames`` latents along keyframes A → B → C … in order, by ``method`` (slerp or lerp)
    between consecutive keyframes.

    The frames are spread *evenly over the segments* (``segment_steps``: every keyframe-to-
    keyframe move takes the same number of frames, whatever its length in latent space) and the
    parameter of each segment is eased on its own by ``ease`` (``ease_t``), so an ease-in-out
    morph slows into and out of every keyframe. Every keyframe is a frame, exactly: the first
    frame is A, the last the last keyframe (pass A again at the end for a closed loop).
    """
    if method not in ("slerp", "lerp"):
        raise ValueError(f"unknown interpolation {method!r}: use slerp or lerp")
    keys = np.asarray(keyframes, np.float32)
    if len(keys) < 2:
        raise ValueError("a morph needs at least two latents")
    f = slerp if method == "slerp" else lerp
    out = [keys[0]]
    for i, n in enumerate(segment_steps(frames, len(keys) - 1)):
        t = ease_t(np.arange(1, n + 1) / n, ease)
        seg = np.asarray(f(keys[i], keys[i + 1], t), np.float32).reshape(n, *keys.shape[1:])
        seg[-1] = keys[i + 1]  # the keyframe itself, not its float rounding
        out.extend(seg)
    return np.stack(out).astype(np.float32)


def barycentric(latents: np.ndarray, weights) -> np.ndarray:
    """Blend k latents with weights that sum to 1 (normalised here; negatives are allowed)."""
    latents = np.asarray(latents, np.float32)
    w = np.asarray(weights, np.float64).ravel()
    if len(w) != len(latents):
        raise ValueError(f"{len(w)} weights for {len(latents)} latents")
    s = w.sum()
    if abs(s) < _EPS:
        raise ValueError("weights sum to zero")
    w = w / s
    return np.tensordot(w, latents.astype(np.float64), axes=1).astype(np.float32)


def triangle_weights(p, a, b, c) -> np.ndarray:
    """Barycentric coordinates of 2-D point p in triangle (a, b, c)."""
    p, a, b, c = (np.asarray(v, np.float64) for v in (p, a, b, c))
    m = np.array([[a[0] - c[0], b[0] - c[0]], [a[1] - c[1], b[1] - c[1]]])
    l1, l2 = np.linalg.solve(m, p - c)
    return np.array([l1, l2, 1 - l1 - l2])
