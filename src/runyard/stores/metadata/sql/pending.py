"""Parsed values of the history lines still waiting to be sealed, kept in memory.

Sealing needs every waiting line's numbers. The request that brought a line parsed it
already; keeping those numbers (as a float array per line, not the parsed dict) spares a
second decompress and parse of every line when its chunk is sealed.

This is only a cache: the segments stay the source of truth. A run's entry is used only
while this process made every write since the run's last seal: each history write puts a
random token on the run row (``write_token``), and an entry whose token differs from the
row's (another replica wrote, or a transaction rolled back) is dropped. A rewrite of known
lines, a line that is not plain numbers, or a full cache also drops it; sealing then reads
the segments.
"""

from __future__ import annotations

import itertools
import math
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from runyard.stores.metadata.base import StreamLine

#: Values kept at most, over all runs (8 bytes each).
MAX_VALUES = 8_000_000

Block = tuple[tuple[str, ...], npt.NDArray[np.int64], npt.NDArray[np.float64],
              npt.NDArray[np.float64]]


@dataclass
class _Run:
    stamp: int
    first_line: int
    keys: tuple[str, ...]  # in the order of the first line's keys
    shape: dict[str, str]  # the first line's key types: shared by lines of its shape
    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    #: The lines' values, lines x keys, in blocks of consecutive lines.
    blocks: list[npt.NDArray[np.float64]] = field(default_factory=list)
    lines: int = 0
    #: A row's values in ``keys`` order, as a tuple (one C call for a row in another order).
    pick: Callable[[dict[str, object]], tuple[object, ...]] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.keys) > 1:
            self.pick = operator.itemgetter(*self.keys)
        elif self.keys:
            getter = operator.itemgetter(self.keys[0])
            self.pick = lambda row: (getter(row),)
        else:
            self.pick = lambda row: ()

    @property
    def end_line(self) -> int:
        return self.first_line + self.lines


class PendingValues:
    """Per run: the numbers of its unsealed lines, in line order, when all are known.

    Several file_stream writers share it (each writes its own runs): a lock keeps the runs
    and the count of values kept in step."""

    def __init__(self, max_values: int = MAX_VALUES) -> None:
        self._runs: dict[int, _Run] = {}
        self._values = 0
        self._max_values = max_values
        self._lock = threading.Lock()

    def check(self, run_id: int, stamp: int) -> None:
        """Before a write: forget the run unless this process wrote it last."""
        with self._lock:
            entry = self._runs.get(run_id)
            if entry is not None and entry.stamp != stamp:
                self._forget(run_id)

    def forget(self, run_id: int) -> None:
        with self._lock:
            self._forget(run_id)

    def _forget(self, run_id: int) -> None:
        entry = self._runs.pop(run_id, None)
        if entry is not None:
            self._values -= entry.lines * len(entry.keys)

    def add(self, run_id: int, sealed: int, lines: Sequence[StreamLine], stamp: int) -> None:
        """After appending ``lines`` (in line order, the run's next lines) to a run whose
        lines below ``sealed`` are sealed."""
        with self._lock:
            self._add(run_id, sealed, lines, stamp)

    def _add(self, run_id: int, sealed: int, lines: Sequence[StreamLine], stamp: int) -> None:
        entry = self._runs.get(run_id)
        if entry is None:
            if not lines or lines[0].line_no != sealed or lines[0].values is None:
                return
            entry = self._runs[run_id] = _Run(stamp, sealed, tuple(lines[0].values),
                                              lines[0].keys)
        width = len(entry.keys)
        same: list[dict[str, object]] = []  # rows in entry.keys' order, converted together
        for line in lines:
            row = line.values
            if (line.line_no != entry.end_line + len(same) or not line.plain or row is None
                    or len(row) != width):
                self._forget(run_id)
                return
            # Same keys in the same order (rows of one set of keys share their types dict
            # whatever the order, so the order is compared too).
            if line.keys is entry.shape and tuple(row) == entry.keys:
                same.append(row)
                continue
            try:
                self._append(entry, same)
                same = []
                values = np.fromiter(entry.pick(row), np.float64, width).reshape(1, width)
            except (KeyError, OverflowError):  # other keys, or an integer beyond any float
                self._forget(run_id)
                return
            entry.blocks.append(values)
            entry.lines += 1
            self._values += width
        try:
            self._append(entry, same)
        except OverflowError:
            self._forget(run_id)
            return
        for line in lines:
            entry.steps.append(line.step if line.step is not None else line.line_no)
            entry.times.append(math.nan if line.timestamp is None else line.timestamp)
        entry.stamp = stamp
        if self._values > self._max_values:
            self._runs.clear()
            self._values = 0

    def _append(self, entry: _Run, rows: list[dict[str, object]]) -> None:
        """Rows whose keys are ``entry.keys`` in that order, as one block (one C loop)."""
        if not rows:
            return
        width = len(entry.keys)
        block = np.fromiter(itertools.chain.from_iterable(r.values() for r in rows),
                            np.float64, len(rows) * width).reshape(len(rows), width)
        entry.blocks.append(block)
        entry.lines += len(rows)
        self._values += len(rows) * width

    def touch(self, run_id: int, stamp: int) -> None:
        """This process wrote the run again (the row now carries ``stamp``)."""
        with self._lock:
            entry = self._runs.get(run_id)
            if entry is not None:
                entry.stamp = stamp

    def block(self, run_id: int, first_line: int, end_line: int) -> Block | None:
        """(keys, steps, wall times, lines x keys) of lines [first_line, end_line), if
        known; the entry is forgotten either way (the lines are being sealed)."""
        with self._lock:
            entry = self._runs.get(run_id)
            self._forget(run_id)
        if entry is None or entry.first_line != first_line or entry.end_line != end_line:
            return None
        return (entry.keys, np.asarray(entry.steps, np.int64),
                np.asarray(entry.times, np.float64),
                np.vstack(entry.blocks) if entry.blocks else np.empty((0, len(entry.keys))))
