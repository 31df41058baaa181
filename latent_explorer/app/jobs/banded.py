"""Finer yield points inside one layer: large convolutions and attentions computed in bands.

A torch forward pre-hook (``tiers.interruptible``) can look for waiting requests only when a
module starts, and in a Stable Diffusion VAE's decoder at 512 px one 3×3 convolution over
256 → 128 channels at full resolution takes about 1.6 s on one CPU thread: that is how long a
background decode (``learned_decodes.py``) could keep a slider preview waiting. Within
``banded(look)``, on the calling thread only:

- a stride-1 ``Conv2d`` with zero padding whose cost is above ``BAND_FLOPS`` is computed in
  bands of output rows, each from the input rows it needs, into one output tensor;
- ``F.scaled_dot_product_attention`` without a mask or causality (the VAE's mid-block
  attention over every latent pixel) is computed in bands of queries (each query's softmax is
  its own, so this is the same attention);

and ``look()`` is called between two bands (it may raise: the layer is dropped). The result is
the same computation in other slices, so it can differ from the unbanded one by float rounding
(a uint8 level at most here and there). Other threads, and small layers, run unchanged.
No Qt.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager

#: at most about this many multiply-adds ×2 (flops) between two looks: tens of ms on one CPU thread
BAND_FLOPS = 1.5e9


def _conv_bands(conv, x, look, band_flops: float):
    """``conv(x)`` in bands of output rows, or None when the convolution is not one to band."""
    import torch
    import torch.nn.functional as F

    if (x.dim() != 4 or conv.padding_mode != "zeros" or tuple(conv.stride) != (1, 1)
            or tuple(conv.dilation) != (1, 1) or isinstance(conv.padding, str)):
        return None
    n, _, h, w = x.shape
    kh, kw = conv.kernel_size
    ph, pw = conv.padding
    h_out, w_out = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
    per_row = 2.0 * n * w_out * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw
    if h_out < 2 or per_row * h_out <= 2 * band_flops:
        return None
    rows = max(1, int(band_flops // per_row))
    out = torch.empty((n, conv.out_channels, h_out, w_out), dtype=x.dtype, device=x.device)
    for r0 in range(0, h_out, rows):
        r1 = min(h_out, r0 + rows)
        lo, hi = r0 - ph, r1 - ph + kh - 1          # input rows this band reads (may lie in the padding)
        band = x[:, :, max(lo, 0):min(hi, h)]
        band = F.pad(band, (pw, pw, max(0, -lo), max(0, hi - h)))
        out[:, :, r0:r1] = F.conv2d(band, conv.weight, conv.bias, 1, 0, 1, conv.groups)
        if r1 < h_out:
            look()
    return out


def _attention_bands(sdpa, q, k, v, look, band_flops: float, args, kwargs):
    """``sdpa(q, k, v)`` in bands of queries, or None when it is not one to band (a mask, causal)."""
    import torch

    if args or kwargs.get("attn_mask") is not None or kwargs.get("is_causal") or kwargs.get("dropout_p"):
        return None
    if q.dim() < 2 or k.shape[-2] < 1:
        return None
    lq, lk = q.shape[-2], k.shape[-2]
    batch = q.numel() // max(lq * q.shape[-1], 1)
    per_query = 2.0 * batch * lk * (q.shape[-1] + v.shape[-1])
    if lq < 2 or per_query * lq <= 2 * band_flops:
        return None
    rows = max(1, int(band_flops // per_query))
    parts = []
    for r0 in range(0, lq, rows):
        parts.append(sdpa(q[..., r0:r0 + rows, :], k, v, **kwargs))
        if r0 + rows < lq:
            look()
    return torch.cat(parts, dim=-2)


_local = threading.local()      # this thread's (look, budget) while inside ``banded``
_lock = threading.Lock()
_users = 0                      # threads inside ``banded``: the patch is in place while any is
_originals: tuple = ()


def _conv_forward(self, x):
    active = getattr(_local, "active", None)
    if active is not None and type(self).forward is _conv_forward:
        out = _conv_bands(self, x, *active)
        if out is not None:
            return out
    return _originals[0](self, x)


def _attention(q, k, v, *args, **kwargs):
    active = getattr(_local, "active", None)
    if active is not None:
        out = _attention_bands(_originals[1], q, k, v, *active, args, kwargs)
        if out is not None:
            return out
    return _originals[1](q, k, v, *args, **kwargs)


@contextmanager
def banded(look: Callable[[], None], band_flops: float | None = None):
    """Within the block, large convolutions and attentions run on this thread in bands, ``look()``
    between two bands (see the module's docstring). Other threads are not affected."""
    import torch
    import torch.nn.functional as F

    global _users, _originals
    with _lock:
        if _users == 0:
            _originals = (torch.nn.Conv2d.forward, F.scaled_dot_product_attention)
            torch.nn.Conv2d.forward, F.scaled_dot_product_attention = _conv_forward, _attention
        _users += 1
    before = getattr(_local, "active", None)
    _local.active = (look, BAND_FLOPS if band_flops is None else float(band_flops))
    try:
        yield
    finally:
        _local.active = before
        with _lock:
            _users -= 1
            if _users == 0:
                torch.nn.Conv2d.forward, F.scaled_dot_product_attention = _originals
