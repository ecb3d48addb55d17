"""Opt-in memory diagnostics for soak runs: where does a long-running operator's memory go?

RSS alone cannot tell a leak from the allocator keeping freed arenas. With ``GREENLANE_MEMORY_SNAPSHOTS=<dir>``
in its environment, ``greenlane run`` starts :mod:`tracemalloc` and, on each ``SIGUSR1``, writes into that
directory a tracemalloc snapshot (``snapshot-<n>.tracemalloc``) and the count of live objects per type after
a full collection (``types-<n>.json``), each renamed into place once complete. Diffing two of them (the soak
bench does: ``make bench-soak SOAK_ARGS=--memory-snapshots``) names the lines whose allocations grew and the
types that multiplied. Off by default: tracing costs CPU and memory, so production never pays for it.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import signal
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

ENV = "GREENLANE_MEMORY_SNAPSHOTS"
FRAMES = 8
"""Frames kept per allocation: enough to see which caller of a shared helper allocated."""


def object_counts() -> dict[str, int]:
    """Live objects per type (module-qualified) after a full collection; the growing ones point at a leak."""
    gc.collect()
    counts = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
    return dict(counts)


def dump(directory: Path, number: int) -> Path:
    """Write snapshot and type counts number ``number``; returns the snapshot's path."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = object_counts()
    types, snapshot = directory / f"types-{number}.json", directory / f"snapshot-{number}.tracemalloc"
    partial = directory / f".types-{number}.json"
    partial.write_text(json.dumps(counts, sort_keys=True))
    partial.replace(types)
    partial = directory / f".snapshot-{number}.tracemalloc"
    tracemalloc.take_snapshot().dump(str(partial))
    partial.replace(snapshot)
    return snapshot


def install(environ: Mapping[str, str] = os.environ) -> bool:
    """Start tracing and handle SIGUSR1 when the environment asks for it; True when it did."""
    where = environ.get(ENV)
    if not where:
        return False
    directory = Path(where)
    numbers = itertools.count(1)
    tracemalloc.start(FRAMES)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        dump(directory, next(numbers))

    signal.signal(signal.SIGUSR1, on_signal)
    return True
