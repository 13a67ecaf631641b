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
        return tuple(sorted(out))
    return (check_dim(op, dims, ndim),)


def shape_args(op: str, sizes: tuple) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])`` -> ``(2, 3)``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return tuple(as_int(s, f"{op}: size") for s in sizes)


def sizes_or_keyword(op: str, sizes: tuple, name: str, value: Any) -> tuple:
    """Sizes as varargs or one sequence, or under PyTorch's keyword (``shape=``, ``dims=``)."""
    if value is None:
        return shape_args(op, sizes)
    if sizes:
        raise TypeError(f"{op}: got the sizes both as arguments and as {name}=")
    return shape_args(op, (value,))


# What an argument error from deep inside (NumPy's own classes included) is raised again as:
# the builtin type it belongs to (an overflow is PyTorch's RuntimeError).
_BUILTIN = (IndexError, TypeError, ValueError, RuntimeError)


def names(op: str, message: str) -> bool:
    """Does ``message`` name ``op`` (as a word: ``t`` is not named by "tensor")?"""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(op)}(?![A-Za-z0-9])", message) is not None


def renamed(op: str, exc: Exception) -> Exception:
    """``exc`` as a builtin exception whose message starts with ``op``'s name."""
    kind = RuntimeError if isinstance(exc, OverflowError) else \
        next(t for t in _BUILTIN if isinstance(exc, t))
    return kind(f"{op}: {exc}")


def reported(fn: Callable, op: Optional[str] = None) -> Callable:
    """``fn``, whose errors name it: an argument error raised inside it without its name
    (NumPy's "axis 2 is out of bounds", a conversion's "cannot make a tensor from
    NoneType data") is raised again as the same builtin type, prefixed with ``op:``;
    the original stays attached as the cause. Errors that name it already pass as
    they are."""
    op = op or fn.__name__

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, IndexError, OverflowError) as exc:
            if type(exc) in _BUILTIN and names(op, str(exc)):
                raise
            raise renamed(op, exc) from exc
    return call
