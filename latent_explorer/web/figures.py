"""The classroom's figures as inline SVG (crisp on a projector, nothing to fetch, no cache files)."""
from __future__ import annotations

import html

import numpy as np

from .routes import PALETTE

GREY1, GREY2 = "#d9d9d9", "#efefef"


def _svg(w: int, h: int, body: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
            f'aria-label="{html.escape(label)}" style="max-width:{w}px;font:12px sans-serif">{body}</svg>')


def posterior(mu, sigma, kl, dims=None) -> str:
    """Per dimension: the prior N(0, 1) as grey bands (±1, ±2), μ as a dot with ±σ and ±2σ bars,
    and the dimension's KL as a bar on the right."""
    mu, sigma, kl = (np.asarray(a, float).reshape(-1) for a in (mu, sigma, kl))
    order = list(range(len(mu))) if dims is None else list(dims)
    row, left, span, klw = 18, 44, 300, 120
    w, h = left + span + 30 + klw + 40, 28 + row * len(order)
    sx = lambda v: left + (np.clip(v, -3.5, 3.5) + 3.5) / 7 * span  # noqa: E731
    parts = [f'<rect x="{sx(-2):.1f}" y="20" width="{sx(2) - sx(-2):.1f}" height="{row * len(order)}" fill="{GREY2}"/>',
             f'<rect x="{sx(-1):.1f}" y="20" width="{sx(1) - sx(-1):.1f}" height="{row * len(order)}" fill="{GREY1}"/>',
             f'<line x1="{sx(0):.1f}" y1="20" x2="{sx(0):.1f}" y2="{20 + row * len(order)}" stroke="#999"/>',
             f'<text x="{left}" y="13">μ ± σ against the prior N(0, 1) (grey: ±1, ±2)</text>',
             f'<text x="{left + span + 30}" y="13">KL (nats)</text>']
    kmax = max(float(kl.max()), 1e-6)
    for r, d in enumerate(order):
        y = 20 + r * row + row / 2
        m, s = mu[d], sigma[d]
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">z{d}</text>')
        parts.append(f'<line x1="{sx(m - 2 * s):.1f}" y1="{y:.1f}" x2="{sx(m + 2 * s):.1f}" y2="{y:.1f}" '
                     'stroke="#9ecae1" stroke-width="3"/>')
        parts.append(f'<line x1="{sx(m - s):.1f}" y1="{y:.1f}" x2="{sx(m + s):.1f}" y2="{y:.1f}" '
                     'stroke="#2171b5" stroke-width="5"/>')
        parts.append(f'<circle cx="{sx(m):.1f}" cy="{y:.1f}" r="4" fill="#111"/>')
        bw = float(kl[d]) / kmax * klw
        parts.append(f'<rect x="{left + span + 30}" y="{y - 5:.1f}" width="{bw:.1f}" height="10" fill="#e6550d"/>')
        parts.append(f'<text x="{left + span + 34 + bw:.1f}" y="{y + 4:.1f}">{kl[d]:.2f}</text>')
    for v in (-3, -2, -1, 0, 1, 2, 3):
        parts.append(f'<text x="{sx(v):.1f}" y="{h - 2}" text-anchor="middle" fill="#555">{v:+d}'
                     .replace("+0", "0") + "</text>")
    return _svg(w, h, "".join(parts), "the posterior of each latent dimension against the prior, and its KL")


def plane(xy, labels, title: str, size: int = 240) -> str:
    """A 2-d latent plane, equal aspect, ±3 on both axes: the prior's 1σ and 2σ circles and the
    posterior means of a sample, coloured by label."""
    xy = np.asarray(xy, float)
    c, s = size / 2, size / 7
    parts = [f'<rect width="{size}" height="{size}" fill="#fff" stroke="#ccc"/>',
             f'<circle cx="{c}" cy="{c}" r="{2 * s:.1f}" fill="{GREY2}"/>',
             f'<circle cx="{c}" cy="{c}" r="{s:.1f}" fill="{GREY1}"/>']
    lab = np.zeros(len(xy), int) if labels is None else np.asarray(labels, int)
    for (x, y), k in zip(xy, lab):
        if abs(x) < 3.5 and abs(y) < 3.5:
            parts.append(f'<circle cx="{c + x * s:.1f}" cy="{c - y * s:.1f}" r="1.6" fill="{PALETTE[k % 10]}"/>')
    parts.append(f'<text x="6" y="14">{html.escape(title)}</text>')
    return _svg(size, size, "".join(parts), title)


def table(rows: list[tuple[str, list]], digits: int = 2, max_cols: int = 16) -> str:
    """A small HTML table: one row per name, one column per latent dimension."""
    n = min(max_cols, max(len(v) for _, v in rows))
    head = "".join(f"<th>z{d}</th>" for d in range(n))
    body = "".join(f"<tr><th>{html.escape(name)}</th>" + "".join(f"<td>{float(x):+.{digits}f}</td>" for x in v[:n])
                   + "</tr>" for name, v in rows)
    return f'<div class="le-scroll"><table class="le-table"><tr><th></th>{head}</tr>{body}</table></div>'
