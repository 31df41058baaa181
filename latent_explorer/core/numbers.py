"""Numbers a user hands the app, checked in the dtype they will be used in.

A direction of ``1e300`` (or ``4e38``) is a finite float64 but ``inf`` once it is a float32, and a
latent of ``3e38`` is a finite float32 that overflows the moment it is walked, scaled or decoded:
every latent-like array read from a file (direction files, sessions, family trees, a collection's
Parquet shards) goes through ``latent_array``, which converts it to float32 first and then refuses
NaN, infinities and magnitudes beyond ``LATENT_LIMIT`` (far beyond any latent a VAE makes, and
small enough that a walk of strength ±100 stays finite) with a ``ValueError`` of one line.
"""
from __future__ import annotations

import numpy as np

#: the largest |value| a latent (or a direction) read from a file may hold; a VAE's latents are
#: within a few dozen (posterior means near N(0, I); Stable Diffusion's unscaled ones within ±60)
LATENT_LIMIT = 1e4
#: a log-variance beyond this makes exp(log σ²) overflow (float64) in the KL
LOGVAR_LIMIT = 700.0


def latent_array(values, what: str, limit: float = LATENT_LIMIT) -> np.ndarray:
    """``values`` as a float32 array, every entry finite *as a float32* and within ±``limit``;
    a one-line ``ValueError`` naming ``what`` otherwise."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range becomes inf: refused below
            a = np.asarray(values, dtype=np.float64).astype(np.float32)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} must hold numbers only") from None
    check_latent(a, what, limit)
    return a


def check_latent(a: np.ndarray, what: str, limit: float = LATENT_LIMIT) -> None:
    """``a`` (float32 already) finite and within ±``limit``, else a one-line ``ValueError``."""
    if not np.isfinite(a).all():
        raise ValueError(f"{what} holds NaN or infinite values (or numbers beyond a float32's range, "
                         f"±3.4e38)")
    if a.size and float(np.abs(a).max()) > limit:
        raise ValueError(f"{what} holds {float(np.abs(a).max()):.3g}, beyond ±{limit:g}: not a latent any "
                         "model makes")
