"""NumPy's overflow warning switched off around one call, at a fraction of errstate's cost.

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

# (settings in force, the same with overflow ignored): one tuple, replaced whole, so a
# thread reading it never pairs one call's settings with another's quiet version
_quiet_for: tuple = (None, None)


def ignoring_overflow(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with floating-point overflow neither warned about nor raised."""
    global _quiet_for
    if _extobj_contextvar is None:
        with numpy.errstate(over="ignore"):
            return fn(*args)
    current = _extobj_contextvar.get()
    cached = _quiet_for
    if cached[0] is not current:
        cached = _quiet_for = (current, _make_extobj(over="ignore"))
    token = _extobj_contextvar.set(cached[1])
    try:
        return fn(*args)
    finally:
        _extobj_contextvar.reset(token)
