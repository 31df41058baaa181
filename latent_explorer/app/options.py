"""How the app was asked to start: model, images, device, and the switches tests and scripts use.

Frozen: what changes while the app runs (the model open, its images, size, device, precision)
is the application model's (``app/model.py``), which starts from these."""
from __future__ import annotations

from dataclasses import dataclass

MAX_MAP_POINTS = 5000


@dataclass(frozen=True)
class LaunchOptions:
    model: str = "digits"
    images: object = None
    device: str = "auto"
    #: full-decode precision of diffusers VAEs: "auto" is bf16 where that is fast (CUDA, a CPU
    #: with bf16 units: Device → Fast bf16 full decode), else fp32
    precision: str = "auto"
    #: working image size of Stable Diffusion-style VAEs: an int, (H, W) or "HxW" (None: 256)
    size: object = None
    allow_pickle: bool = False
    screenshot: str | None = None
    #: a ready LatentModel to use instead of loading ``model`` (tests, scripts)
    model_object: object = None
    #: build the example morph and selection once the map is ready (off in some tests)
    demo: bool = True
    #: at most this many images on the map
    map_limit: int = MAX_MAP_POINTS
    #: autosave every minute and offer to recover after a crash (off for --screenshot)
    autosave: bool = True
    #: where the autosave lives (None: the user data folder, or $LATENT_EXPLORER_DATA)
    data_dir: str | None = None
    #: the answer to "recover the autosaved session?": None asks with a dialog; True / False,
    #: or a callable returning one, answers without asking (tests, scripts)
    recover: object = None
    autosave_interval_ms: int = 60_000
    #: (width, height) of the window, exactly (``gui --window-size``: screenshots at a given size)
    window_size: tuple | None = None
