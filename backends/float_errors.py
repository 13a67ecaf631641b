"""NumPy's floating-point warnings switched off around one call, at a fraction of
errstate's cost.

``numpy.errstate`` builds a new settings object on every entry: about 1 µs, three
times a 256-element ``exp``, and a sigmoid pays it once per call. NumPy 2 keeps its
floating-point settings in one context variable, so the quiet version of the
settings in force is built once (and again only when they change) and set around
the call: the user's other settings (``divide='raise'``, say) stay as they are.
Where that variable is not there (another NumPy), ``errstate`` does the same.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy

try:  # NumPy 2's home of the settings; not public, so only used when present
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
except ImportError:  # pragma: no cover - NumPy 1.x or a future layout
    _extobj_contextvar = _make_extobj = None

# which -> (settings in force, the same with `which` ignored): each entry a tuple replaced
# whole, so a thread reading it never pairs one call's settings with another's quiet version
_quiet_for: dict = {}


def _quiet(which: str) -> Any:
    """The settings in force with ``which`` ignored, built again only when they change."""
    current = _extobj_contextvar.get()
    cached = _quiet_for.get(which)
    if cached is None or cached[0] is not current:
        cached = _quiet_for[which] = (current, _make_extobj(**{which: "ignore"}))
    return cached[1]


def ignoring(which: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with the floating-point errors ``which`` ("over", "all", ...:
    errstate's keywords) neither warned about nor raised."""
    if _extobj_contextvar is None:
        with numpy.errstate(**{which: "ignore"}):
            return fn(*args, **kwargs)
    token = _extobj_contextvar.set(_quiet(which))
    try:
        return fn(*args, **kwargs)
    finally:
        _extobj_contextvar.reset(token)


def ignoring_overflow(fn: Callable[..., Any], *args: Any) -> Any:
    """``ignoring("over", fn, *args)`` without keyword packing: every sigmoid's exp runs
    in it."""
    if _extobj_contextvar is None:
        return ignoring("over", fn, *args)
    token = _extobj_contextvar.set(_quiet("over"))
    try:
        return fn(*args)
    finally:
        _extobj_contextvar.reset(token)
