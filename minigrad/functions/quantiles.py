"""Quantiles, as PyTorch computes them: the sorted row's element at rank q (n - 1), with the
ranks between two elements interpolated as asked. The values are gathered from the input,
so the gradient goes back to the elements the quantile was read from."""
from __future__ import annotations

from numbers import Real
from typing import Any

import numpy

from .. import ops
from ..tensor import Tensor
from .arguments import check_dim
from .common import as_tensor
from .selection import _sorted_indices, pick_sorted

INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _levels(name: str, q: Any, x: Tensor) -> tuple:
    """The quantile levels as a 1-d host float64 array, and whether q was one number."""
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise ValueError(f"{name}: q must be a number or a 1-d tensor, got shape "
                             f"{tuple(q.shape)}")
        if q.dtype != x.dtype:
            raise TypeError(f"{name}: q must have the input's dtype {x.dtype}, got {q.dtype}")
        if q.device != x.device:
            raise RuntimeError(f"{name}: q is on {q.device} but the input is on {x.device}")
        levels, single = numpy.asarray(q.numpy(), dtype=numpy.float64), q.ndim == 0
    elif isinstance(q, Real):  # True is 1.0, as PyTorch reads it
        levels, single = numpy.asarray(float(q)), True
    else:
        raise TypeError(f"{name}: q must be a number or a tensor, got {type(q).__name__} {q!r}")
    bad = levels[~((levels >= 0) & (levels <= 1))]
    if bad.size:
        raise ValueError(f"{name}: q must be in the range [0, 1], got {bad.flat[0]}")
    return levels.reshape(-1), single


def _quantile(name: str, input: Any, q: Any, dim: Any, keepdim: bool, interpolation: str,
              skip_nan: bool) -> Tensor:
    x = as_tensor(input)
    if x.dtype not in (numpy.float32, numpy.float64):  # PyTorch's kernel: these two only
        raise TypeError(f"{name}: the input must be float32 or float64, got {x.dtype}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{name}: interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                         f"got {interpolation!r}")
    levels, single = _levels(name, q, x)
    if x.numel() == 0:
        raise ValueError(f"{name}: the input is empty")
    shape = x.shape
    if dim is None:  # of every element; keepdim keeps every dim, at size 1
        x, d = ops.reshape(x, (-1,)), 0
    else:
        d = check_dim(name, dim, x.ndim)
        if x.ndim == 0:
            x = ops.reshape(x, (1,))
    xp, n = x._backend.xp, x.shape[d]
    order = _sorted_indices(x, d, False)  # NaN sorted last
    nans = xp.sum(xp.isnan(x._data), axis=d, keepdims=True)
    results = []
    for level in levels if levels.size else numpy.zeros(1):  # no levels: none of one
        if skip_nan:  # ranks among the numbers; a row of NaN reads its first NaN
            rank = xp.maximum(level * (n - nans - 1), 0)
        else:  # a row with a NaN reads its last element, a NaN
            rank = xp.where(nans > 0, n - 1, level * (n - 1))
        lower, upper = xp.floor(rank), xp.ceil(rank)
        if interpolation in ("lower", "higher", "nearest"):
            at = lower if interpolation == "lower" else upper if interpolation == "higher" \
                else xp.round(rank)  # half to even, as PyTorch's
            value = pick_sorted(x, order, at, d)[0]
        else:
            weight = rank - lower if interpolation == "linear" else xp.where(
                upper > lower, 0.5, 0.0)
            value = _lerp(pick_sorted(x, order, lower, d)[0],
                          pick_sorted(x, order, upper, d)[0], weight.astype(x.dtype),
                          x._backend)
        results.append(value)
    out = results[0] if single else ops.stack(results, axis=0)[:len(levels)]
    if dim is None:
        return ops.reshape(out, (() if single else (len(levels),)) +
                           ((1,) * len(shape) if keepdim else ()))
    if not keepdim or len(shape) == 0:
        out = ops.squeeze(out, d if single else d + 1)
    return out


def _lerp(low: Tensor, high: Tensor, weight: Any, backend: Any) -> Tensor:
    """PyTorch's lerp: from the nearer end, so that its infinities give what PyTorch's do
    (0 and inf at weight 0.5: inf - inf * 0.5, NaN)."""
    step = high - low
    w = Tensor._wrap(weight, backend)
    near_low = Tensor._wrap(weight < 0.5, backend)
    return ops.where(near_low, low + w * step, high - step * (1 - w))


def quantile(input: Any, q: Any, dim: Any = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-th quantiles of ``input`` (of every element, or along ``dim``), q a number or
    a 1-d tensor of levels in [0, 1] (then the first dim of the result runs over them).
    ``interpolation`` says what a rank between two elements reads, as in PyTorch: linear,
    lower, higher, midpoint or nearest (half to even). NaN where a NaN is in the row."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input: Any, q: Any, dim: Any = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """:func:`quantile` of the elements that are not NaN (NaN where all are)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


__all__ = ["quantile", "nanquantile"]
