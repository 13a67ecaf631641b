"""PyTorch's argument conventions, with NumPy's spellings accepted as aliases.

Every public function resolves ``dim``/``axis`` and ``keepdim``/``keepdims`` here, so
the rule "PyTorch's meaning wins, NumPy's names are aliases" lives in one place, and so
do the error messages for a bad or out-of-range dim.
"""
from __future__ import annotations

import functools
import operator
import re
from typing import Any, Callable, Optional

from ..primitive import renamed


def pick(name: str, value: Any, alias_name: str, alias: Any, default: Any = None) -> Any:
    """``value`` (PyTorch's keyword) or ``alias`` (NumPy's), never both."""
    if alias is not None:
        if value is not None and value is not default:
            raise TypeError(f"got both {name}= and its alias {alias_name}=; pass one")
        return alias
    return value


def keep(keepdim: bool, keepdims: Optional[bool]) -> bool:
    return bool(keepdims) if keepdims is not None else bool(keepdim)


def as_int(value: Any, what: str) -> int:
    """An int from an int, a NumPy integer or an integer 0-d tensor; floats are refused."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    return operator.index(value)


def check_dim(op: str, dim: Any, ndim: int, extra: int = 0) -> int:
    """Wrap a possibly negative ``dim`` into ``[0, ndim + extra)``; a clear IndexError if it
    is out of range (``extra=1`` where a new dim may be inserted, as in unsqueeze)."""
    dim = as_int(dim, f"{op}: dim")
    size = max(ndim + extra, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimension"
                         f"{'s' if ndim != 1 else ''} (expected a dim in [{-size}, {size - 1}])")
    return dim % size


def check_cut_dim(op: str, dim: Any, ndim: int) -> int:
    """:func:`check_dim` for ops that cut, pick or roll along a dim: a 0-d tensor has none
    (reductions, by contrast, take dim 0 of a 0-d tensor, as PyTorch does)."""
    if ndim == 0:
        raise IndexError(f"{op}: the tensor is 0-d, it has no dim {dim} (expected a tensor "
                         "of at least 1 dimension)")
    return check_dim(op, dim, ndim)


def check_dims(op: str, dims: Any, ndim: int) -> Optional[tuple]:
    """None (all dims), an int or a sequence of ints -> a sorted tuple of distinct dims."""
    if dims is None:
        return None
    if isinstance(dims, (list, tuple)):
        if not dims:
            return None  # PyTorch: an empty dim list reduces over every dim
        out = [check_dim(op, d, ndim) for d in dims]
        if len(set(out)) != len(out):
            raise ValueError(f"{op}: dim {tuple(dims)} names a dim more than once")
        return tuple(sorted(out)) if ndim else None
    dim = check_dim(op, dims, ndim)
    return (dim,) if ndim else None  # dim 0 (or -1) of a 0-d tensor: all of it


def shape_args(op: str, sizes: tuple) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])`` -> ``(2, 3)``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for s in sizes:  # plain ints, the usual case, need no conversion (nor a message built)
        if type(s) is not int:
            return tuple(as_int(s, f"{op}: size") for s in sizes)
    return sizes


def sizes_or_keyword(op: str, sizes: tuple, name: str, value: Any) -> tuple:
    """Sizes as varargs or one sequence, or under PyTorch's keyword (``shape=``, ``dims=``)."""
    if value is None:
        return shape_args(op, sizes)
    if sizes:
        raise TypeError(f"{op}: got the sizes both as arguments and as {name}=")
    return shape_args(op, (value,))


def names(op: str, message: str) -> bool:
    """Does ``message`` name ``op`` (as a word: ``t`` is not named by "tensor")?"""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(op)}(?![A-Za-z0-9])", message) is not None


def reported(fn: Callable, *aliases: str) -> Callable:
    """``fn``, whose errors name it: an argument error raised inside it without its name
    (NumPy's "axis 2 is out of bounds", a conversion's "cannot make a tensor from
    NoneType data") is raised again as the same builtin type, prefixed with ``fn``'s
    name; the original stays attached as the cause. Errors that already name it (or one
    of its ``aliases``) pass as they are."""
    op = fn.__name__
    known = (op,) + aliases

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, IndexError, RuntimeError, OverflowError) as exc:
            if isinstance(exc, (NotImplementedError, RecursionError)):
                raise  # not an argument error: a gap or a bug, never relabelled
            if type(exc) in (TypeError, ValueError, IndexError, RuntimeError) and \
                    any(names(n, str(exc)) for n in known):
                raise
            raise renamed(op, exc) from exc
    return call
