"""Byte planes: the n-th byte of every value together.

Numbers that change little share their high bytes, and noise sits in the low ones; grouped
by byte position, each plane is uniform enough for the compressor to code well. Segments,
digit columns and chunk columns all store their numbers this way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def to_planes(values: npt.NDArray[np.generic]) -> bytes:
    """``values`` (a contiguous or not 1-D array, stored little-endian) as byte planes."""
    little = np.ascontiguousarray(values, values.dtype.newbyteorder("<"))
    if not len(little):
        return b""
    return little.view(np.uint8).reshape(-1, little.dtype.itemsize).T.tobytes()


def from_planes(raw: bytes | memoryview | npt.NDArray[np.uint8], dtype: str,
                count: int) -> npt.NDArray[np.generic]:
    """``count`` values of the little-endian ``dtype`` (e.g. ``"<i8"``) from their planes."""
    width = np.dtype(dtype).itemsize
    if count == 0:
        return np.zeros(0, dtype)
    grid = np.frombuffer(raw, np.uint8, count * width).reshape(width, count)
    return np.ascontiguousarray(grid.T).view(dtype).reshape(count)
