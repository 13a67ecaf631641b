"""Counting host synchronisations: the moments the CPU waits for a GPU's results.

A GPU runs ahead of Python as long as nothing reads its data back: ``.item()``,
``float(t)``, ``.numpy()``, printing, a boolean mask (its result's size is data), each
stall the queue until the GPU has caught up. One of those per training step can cost
more than the step's kernels. The simulated device records every one of them here, and
the CuPy backend records the ones that pass through minigrad's conversion points, so
``mg.cuda.sync_counter()`` can show that a training step makes none.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import Counter
from typing import Any, Iterator, Optional


class HostSyncError(RuntimeError):
    """A host synchronisation happened where none is allowed (strict mode)."""


class SyncCounter:
    """Counts host synchronisations inside its ``with`` block, with where each happened.

    ``count`` is the total, ``events`` a list of ``(kind, site)`` pairs (``site`` is the
    first line outside the engine that led to it, e.g. ``examples/char_lstm.py:210 in
    train``), ``by_site()`` the totals per site. With ``strict=True`` the first sync
    raises :class:`HostSyncError` instead (before the data is read).
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.events: list[tuple[str, str]] = []

    @property
    def count(self) -> int:
        return len(self.events)

    def by_site(self) -> Counter:
        return Counter(f"{kind} at {site}" for kind, site in self.events)

    def __enter__(self) -> "SyncCounter":
        with _lock:
            _active.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        with _lock:
            _active.remove(self)

    def __repr__(self) -> str:
        return f"<SyncCounter: {self.count} host syncs>"


_active: list[SyncCounter] = []
_lock = threading.Lock()
_HERE = os.path.dirname(os.path.abspath(__file__))


class _Piggyback(threading.local):
    depth = 0


_piggyback = _Piggyback()


@contextlib.contextmanager
def piggyback() -> Iterator[None]:
    """Reads made right after a sync (the GPU has just drained its queue, so they cost no
    wait of their own) are not counted as syncs inside this block."""
    _piggyback.depth += 1
    try:
        yield
    finally:
        _piggyback.depth -= 1


def record(kind: str, strict: bool = False) -> None:
    """Note one host synchronisation of ``kind`` (e.g. "item"); raise if a strict
    counter is open or ``strict`` is set (the simulated device's strict mode)."""
    if not _active and not strict or _piggyback.depth:
        return
    site = call_site()
    for counter in list(_active):
        counter.events.append((kind, site))
    if strict or any(c.strict for c in _active):
        raise HostSyncError(
            f"host synchronisation ({kind}) at {site}: the CPU would wait for the GPU here; "
            "keep the value on the device (accumulate it as a tensor, read it every N steps)")


def call_site() -> str:
    """Where a sync came from: the first frame outside minigrad's engine and backends
    (the user's line, or an nn/ layer), plus the engine line that made it."""
    engine = _engine_dirs()
    frame: Optional[Any] = sys._getframe(1)
    origin = None
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        here = f"{_short(path)}:{frame.f_lineno} in {frame.f_code.co_name}"
        if not path.startswith(_HERE):
            if origin is None:
                origin = here
            if not any(path.startswith(d) for d in engine):
                return here if here == origin else f"{here} (via {origin})"
        frame = frame.f_back
    return origin or "<unknown>"


def _engine_dirs() -> tuple:
    module = sys.modules.get("minigrad")
    root = os.path.dirname(os.path.abspath(module.__file__)) if module else None
    return (_HERE,) if root is None else (_HERE, root + os.sep)


def _short(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    cwd = os.getcwd() + os.sep
    return path[len(cwd):] if path.startswith(cwd) else path
