"""Map generations: a result from an older map job never replaces a newer map.

Every job that will produce a map (encoding a folder, a re-projection with PCA, t-SNE or UMAP)
takes a new generation number when it is asked for; its result is accepted only while its
generation is the newest asked for. Encoding and projecting run on different threads, so
results can arrive out of order (a slow t-SNE of the previous folder after the new folder's
map): the numbers, not the arrival order, decide.
"""
from __future__ import annotations


class MapGenerations:
    def __init__(self):
        self._asked = 0
        self._shown = 0

    def next(self) -> int:
        """A new map job: its generation."""
        self._asked += 1
        return self._asked

    @property
    def newest(self) -> int:
        return self._asked

    def accept(self, generation: int) -> bool:
        """True when a result of ``generation`` may replace the map on screen (it is the newest asked
        for); it then becomes the one shown."""
        if generation != self._asked or generation < self._shown:
            return False
        self._shown = generation
        return True

    def is_current(self, generation: int) -> bool:
        return generation == self._asked
