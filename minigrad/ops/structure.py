"""Reorderings and structured parts of a tensor: flip, roll, triangles, diagonals.

Each gradient is the same operation undone: a flip flips back, a roll rolls back,
a triangle keeps the same triangle, a diagonal is put back on the diagonal.
"""
from typing import Any, Union

from ..backends import current_backend
from ..primitive import primitive
from .indexing import getitem
from .reduction import normalize_axis
from .shape import moveaxis

Axes = Union[int, tuple, None]


def _negated(shift: Union[int, tuple]) -> Union[int, tuple]:
    return -shift if isinstance(shift, int) else tuple(-s for s in shift)


_roll = primitive(
    "roll", lambda xp, x, shift, axis: xp.roll(x, shift, axis),
    lambda xp, g, y, x, shift, axis: xp.roll(g, _negated(shift), axis),
    saves=(), saves_output=False)

_tril = primitive(
    "tril", lambda xp, x, k: xp.tril(x, k),
    lambda xp, g, y, x, k: xp.tril(g, k),
    saves=(), saves_output=False)

_triu = primitive(
    "triu", lambda xp, x, k: xp.triu(x, k),
    lambda xp, g, y, x, k: xp.triu(g, k),
    saves=(), saves_output=False)


def flip(x: Any, axis: Axes = None) -> Any:
    """Reverse the order of elements along ``axis`` (None: every axis). A view: its
    gradient is the incoming one flipped back."""
    axes = normalize_axis(axis, x.ndim)
    axes = range(x.ndim) if axes is None else axes
    index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(x.ndim))
    return getitem(x, index=index)


def roll(x: Any, shift: Union[int, tuple], axis: Axes = None) -> Any:
    """Shift elements cyclically by ``shift`` along ``axis`` (NumPy's roll: None rolls
    the flattened tensor; a tuple of shifts goes with a tuple of axes)."""
    shift = int(shift) if not isinstance(shift, (tuple, list)) else tuple(int(s) for s in shift)
    if axis is not None:
        axis = int(axis) if not isinstance(axis, (tuple, list)) else tuple(int(a) for a in axis)
    return _roll(x, shift=shift, axis=axis)


def _triangle(name: str, prim: Any, x: Any, k: int) -> Any:
    if x.ndim < 2:
        raise ValueError(f"{name}: needs a tensor of at least 2 dimensions (a matrix or a "
                         f"batch of them), got shape {tuple(x.shape)}")
    return prim(x, k=int(k))


def tril(x: Any, k: int = 0) -> Any:
    """The lower triangle of the last two dimensions (on and below diagonal ``k``)."""
    return _triangle("tril", _tril, x, k)


def triu(x: Any, k: int = 0) -> Any:
    """The upper triangle of the last two dimensions (on and above diagonal ``k``)."""
    return _triangle("triu", _triu, x, k)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal of the planes spanned by ``axis1`` and ``axis2``, offset by ``offset``
    (above the main diagonal if positive), as a new last dimension (NumPy's and
    PyTorch's convention). Read by integer indexing, so its gradient adds the incoming
    one back onto the diagonal."""
    if x.ndim < 2:
        raise ValueError(f"diagonal: needs a tensor of at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    first, second = (normalize_axis(a, x.ndim)[0] for a in (axis1, axis2))
    if first == second:
        raise ValueError(f"diagonal: axis1 and axis2 are the same dimension ({first}) of a "
                         f"tensor of shape {tuple(x.shape)}")
    offset = int(offset)
    rows, cols = x.shape[first], x.shape[second]
    start_row, start_col = (0, offset) if offset >= 0 else (-offset, 0)
    length = max(0, min(rows - start_row, cols - start_col))
    backend = getattr(x, "_backend", None) or current_backend()
    index = [slice(None)] * x.ndim
    index[first] = backend.arange(start_row, start_row + length)
    index[second] = backend.arange(start_col, start_col + length)
    taken = getitem(x, index=tuple(index))
    # NumPy puts the indexed dimension where the two were if they are adjacent, else first
    at = min(first, second) if abs(first - second) == 1 else 0
    return taken if at == taken.ndim - 1 else moveaxis(taken, at, -1)
