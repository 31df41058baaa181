"""What the map shows (``MapData``) and the click blend over it, shared by the map's jobs: the
images encoded here (``mapping.py``) and a collection read from its shards (``collection_map.py``).
No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: a click's Delaunay blend over a larger map is triangulated over a random sample this large
INTERPOLATOR_POINTS = 20_000


@dataclass
class MapData:
    """Everything the map shows, computed on the worker."""

    name: str
    images: np.ndarray            # uint8 N×H×W×C, fitted to the model
    labels: np.ndarray | None     # int N or None
    mean: np.ndarray              # float32 N×*latent_shape
    logvar: np.ndarray | None
    recon_error: np.ndarray       # float32 N, mean squared error in [0, 1] pixel units
    projection: object            # core.latent.project.Projection
    interpolator: object | None   # core.latent.project.MapInterpolator (None for < 3 points)
    density: np.ndarray           # float32 N in [0, 1]
    kl_per_dim: np.ndarray | None  # float32 D, nats
    active: np.ndarray | None = None  # bool D: KL above core.metrics.ACTIVE_KL_THRESHOLD
    skipped: list = field(default_factory=list)
    seconds: float = 0.0
    paths: list | None = None     # the image files (a folder import), else None
    source: object = None         # the folder (str) or file list the images came from
    factors: np.ndarray | None = None  # int N×K known ground-truth factors (shapes), else None
    factor_names: tuple = ()
    value_names: dict = field(default_factory=dict)   # factor -> names of its values
    label_name: str = "label"     # what the labels are (shapes: the "shape" factor)

    @property
    def label_names(self) -> list | None:
        """Names for the label values (shapes: square, ellipse, …), or None: the numbers themselves."""
        return self.value_names.get(self.label_name)

    def label_text(self, i: int) -> str:
        if self.labels is None:
            return ""
        names, v = self.label_names, int(self.labels[i])
        return names[v] if names and 0 <= v < len(names) else str(v)

    @property
    def xy(self) -> np.ndarray:
        return self.projection.xy


def interpolator(xy: np.ndarray, mean: np.ndarray):
    """The Delaunay blend over the map, or None where there are too few points for one (a
    handful of images: a click then takes the nearest image's latent)."""
    from ...core.latent.project import MapInterpolator

    if len(xy) < 4:
        return None
    if len(xy) > INTERPOLATOR_POINTS:  # a collection: the blend is triangulated over a sample
        keep = np.sort(np.random.default_rng(0).choice(len(xy), INTERPOLATOR_POINTS, replace=False))
        xy, mean = xy[keep], mean[keep]
    try:
        return MapInterpolator(xy, mean)
    except Exception:  # qhull refuses degenerate layouts (all points on a line)
        return None
