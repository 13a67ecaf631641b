"""Reductions with PyTorch's meanings: ``max(dim)`` gives values and indices, ``var`` is
unbiased, ``amax`` reduces; ``axis=``/``keepdims=``/``ddof=`` are accepted as aliases."""
from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, Optional

import numpy

from .. import ops
from ..dtypes import get_default_dtype
from ..tensor import Tensor, as_dtype
from .arguments import check_dim, check_dims, keep, pick
from .common import as_tensor, on_host

# What torch.return_types gives: a tuple that also has .values and .indices.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])
INT64 = numpy.dtype("int64")
VarMean = namedtuple("var_mean", ["var", "mean"])
StdMean = namedtuple("std_mean", ["std", "mean"])


def _cast(x: Tensor, dtype: Any) -> Tensor:
    if dtype is None:
        return x
    dtype = as_dtype(dtype)
    if dtype.kind not in "biufc":
        raise TypeError(f"dtype must be a number type (as mg.float32), got {dtype!r}")
    return x.to(dtype)


def _accumulated(result: Tensor, x: Tensor, dtype: Any) -> Tensor:
    """A sum's or product's result in PyTorch's dtype: ``dtype`` if given, else int64 for
    integer and bool input (NumPy would give uint64 for unsigned, or keep int32)."""
    target = as_dtype(dtype) if dtype is not None else \
        (INT64 if x.dtype.kind in "biu" else x.dtype)
    return result if result.dtype == target else result.astype(target)


def sum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
        axis: Any = None, keepdims: Optional[bool] = None) -> Tensor:
    x = _cast(as_tensor(input), dtype)
    dims = check_dims("sum", pick("dim", dim, "axis", axis), x.ndim)
    return _accumulated(ops.sum(x, axis=dims, keepdims=keep(keepdim, keepdims)), x, dtype)


def mean(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: Optional[bool] = None) -> Tensor:
    x = _cast(as_tensor(input), dtype)
    if x.dtype.kind not in "fc":
        raise TypeError(f"mean: input dtype must be floating point, got {x.dtype}; "
                        "convert with .float() first")
    dims = check_dims("mean", pick("dim", dim, "axis", axis), x.ndim)
    return ops.mean(x, axis=dims, keepdims=keep(keepdim, keepdims))


def prod(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: Optional[bool] = None) -> Tensor:
    x = _cast(as_tensor(input), dtype)
    dims = check_dims("prod", pick("dim", dim, "axis", axis), x.ndim)
    return _accumulated(ops.prod(x, axis=dims, keepdims=keep(keepdim, keepdims)), x, dtype)


def amax(input: Any, dim: Any = (), keepdim: bool = False, *, axis: Any = None,
         keepdims: Optional[bool] = None) -> Tensor:
    """The maximum over ``dim`` (all dims by default); tied maxima share the gradient."""
    x = as_tensor(input)
    dims = check_dims("amax", pick("dim", dim, "axis", axis, ()), x.ndim)
    return ops.max(x, axis=dims, keepdims=keep(keepdim, keepdims))


def amin(input: Any, dim: Any = (), keepdim: bool = False, *, axis: Any = None,
         keepdims: Optional[bool] = None) -> Tensor:
    x = as_tensor(input)
    dims = check_dims("amin", pick("dim", dim, "axis", axis, ()), x.ndim)
    return ops.min(x, axis=dims, keepdims=keep(keepdim, keepdims))


def _select_extremum(op: str, x: Tensor, dim: Any, keepdim: bool, result: type) -> Any:
    """Values and indices of the extremum along ``dim``: the values are gathered at the
    indices, so the gradient goes to the selected element only (as PyTorch's max(dim))."""
    d = check_dim(op, dim, x.ndim)
    if x.ndim == 0:
        return result(x, Tensor._wrap(x._backend.xp.zeros((), dtype="int64"), x._backend))
    pick_index = ops.argmax if op == "max" else ops.argmin
    indices = pick_index(x, axis=d, keepdims=True)
    values = ops.take_along_axis(x, indices, axis=d)
    if not keepdim:
        values, indices = ops.squeeze(values, d), ops.squeeze(indices, d)
    return result(values, indices)


def _extremum(op: str, input: Any, dim: Any, keepdim: Optional[bool], axis: Any,
              keepdims: Optional[bool]) -> Any:
    x = as_tensor(input)
    dim = pick("dim", dim, "axis", axis)
    given = keepdim is not None or keepdims is not None
    if isinstance(dim, Tensor) and given and dim.ndim == 0 and dim.dtype.kind in "iu":
        dim = dim.item()  # PyTorch: max(x, tensor(0), False) takes the 0-d int as the dim
    if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
        if keepdim or keepdims is not None:
            raise TypeError(f"{op}: keepdim goes with a dim, not with a second tensor "
                            f"(the elementwise {op}imum)")
        return (ops.maximum if op == "max" else ops.minimum)(x, dim)
    if dim is None:
        if keepdims or keepdim:
            raise TypeError(f"{op}: keepdim needs a dim; use amax/amin to reduce every dim")
        return (ops.max if op == "max" else ops.min)(x)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be one int (got {dim!r}); use {'a' + op} to "
                        "reduce several dims")
    return _select_extremum(op, x, dim, keep(keepdim, keepdims),
                            MaxResult if op == "max" else MinResult)


def max(input: Any, dim: Any = None, keepdim: Optional[bool] = None, *, axis: Any = None,
        keepdims: Optional[bool] = None) -> Any:
    """``max(x)``: the largest element; ``max(x, dim)``: (values, indices) along ``dim``;
    ``max(x, other)``: the elementwise maximum (PyTorch's three meanings)."""
    return _extremum("max", input, dim, keepdim, axis, keepdims)


def min(input: Any, dim: Any = None, keepdim: Optional[bool] = None, *, axis: Any = None,
        keepdims: Optional[bool] = None) -> Any:
    return _extremum("min", input, dim, keepdim, axis, keepdims)


def _correction(op: str, unbiased: Any, correction: Any, ddof: Any) -> float:
    given = [v for v in (unbiased, correction, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: pass only one of unbiased=, correction= and ddof=")
    if unbiased is not None:
        return 1 if unbiased else 0
    if correction is not None:
        if not isinstance(correction, (int, float)):
            raise TypeError(f"{op}: correction must be a number, got {correction!r}")
        return correction
    return 1 if ddof is None else ddof


def _root(total: Tensor, p: float = 2.0) -> Tensor:
    """``total ** (1/p)`` whose gradient at 0 is 0, not inf (PyTorch's subgradient for the
    std of equal values and the norm of zeros): the root only ever sees positive values."""
    positive = total > 0
    safe = ops.where(positive, total, 1.0)
    root = ops.sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return ops.where(positive, root, total * 0.0)  # 0 stays 0, NaN stays NaN


def var(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None, axis: Any = None, keepdims: Optional[bool] = None,
        ddof: Any = None) -> Tensor:
    """The variance; unbiased (``correction=1``) by default, as in PyTorch.
    ``ddof=`` is NumPy's name for ``correction=`` (NumPy's default, 0, is not ours)."""
    x = as_tensor(input)
    if x.dtype.kind not in "fc":
        raise TypeError(f"var: input dtype must be floating point, got {x.dtype}; convert "
                        "with .float() first")
    dim = pick("dim", dim, "axis", axis)
    if isinstance(dim, bool):  # the legacy overload var(input, unbiased)
        dim, unbiased = None, dim
    dims = check_dims("var", dim, x.ndim)
    c = _correction("var", unbiased, correction, ddof)
    n = 1
    for i, s in enumerate(x.shape):
        if dims is None or i in dims:
            n *= s
    centred = x - ops.mean(x, axis=dims, keepdims=True)
    denominator = n - c if n else 0  # no elements: NaN, as PyTorch
    squares = centred * centred if x.dtype.kind != "c" else ops.abs(centred) ** 2  # real
    total = ops.sum(squares, axis=dims, keepdims=keep(keepdim, keepdims))
    return total / denominator if denominator > 0 else total * math.inf


def std(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None, axis: Any = None, keepdims: Optional[bool] = None,
        ddof: Any = None) -> Tensor:
    """The standard deviation, unbiased by default (see :func:`var`)."""
    return _root(var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
                     keepdims=keepdims, ddof=ddof))


def var_mean(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> VarMean:
    x = as_tensor(input)
    return VarMean(var(x, dim, unbiased, keepdim, correction=correction),
                   mean(x, None if isinstance(dim, bool) else dim, keepdim))


def std_mean(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> StdMean:
    x = as_tensor(input)
    return StdMean(std(x, dim, unbiased, keepdim, correction=correction),
                   mean(x, None if isinstance(dim, bool) else dim, keepdim))


def logsumexp(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
              keepdims: Optional[bool] = None) -> Tensor:
    x = as_tensor(input)
    if x.dtype.kind not in "fc":  # PyTorch: integers are summed in the default float dtype
        x = x.to(get_default_dtype())
    dims = check_dims("logsumexp", pick("dim", dim, "axis", axis), x.ndim)
    if x.numel() == 0:  # nothing to sum: log(0) = -inf (NumPy's max of nothing fails)
        return ops.log(ops.sum(ops.exp(x), axis=dims, keepdims=keep(keepdim, keepdims)))
    return ops.logsumexp(x, axis=dims, keepdims=keep(keepdim, keepdims))


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None, axis: Any = None, keepdims: Optional[bool] = None) -> Tensor:
    """The vector p-norm over ``dim`` (every element by default); 'fro' is the 2-norm."""
    x = _cast(as_tensor(input), dtype)
    p = "fro" if p is None else p
    if x.dtype.kind not in "fc":
        raise TypeError(f"norm: input dtype must be floating point, got {x.dtype}; convert "
                        "with .float() first")
    dims = check_dims("norm", pick("dim", dim, "axis", axis), x.ndim)
    kd = keep(keepdim, keepdims)
    if x.dtype.kind == "c":  # the norm of the magnitudes, a real number (x * x is not |x|²)
        x = ops.abs(x)
    if p in ("fro", 2, 2.0):
        return _root(ops.sum(x * x, axis=dims, keepdims=kd))
    if p == math.inf:
        return ops.max(ops.abs(x), axis=dims, keepdims=kd)
    if p == -math.inf:
        return ops.min(ops.abs(x), axis=dims, keepdims=kd)
    if p == 0:
        return ops.sum(ops.not_equal(x, 0).astype(x.dtype), axis=dims, keepdims=kd)
    if p in (1, 1.0):
        return ops.sum(ops.abs(x), axis=dims, keepdims=kd)
    if isinstance(p, str) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: p={p!r} is not supported (use a number, inf or 'fro')")
    total = ops.sum(ops.abs(x) ** p, axis=dims, keepdims=kd)
    return _root(total, p) if p > 0 else total ** (1.0 / p)  # p < 0: a zero sum gives inf


def dist(input: Any, other: Any, p: Any = 2) -> Tensor:
    """The p-norm of ``input - other`` (broadcast to one shape) over every element; a
    number for ``other`` is taken as ``tensor(number)`` (PyTorch's takes tensors only)."""
    x = as_tensor(input)
    return norm(ops.subtract(x, as_tensor(other, x)), p)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1: Any, x2: Any, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M): (..., P, R), batch dims broadcast. As PyTorch's, the Euclidean distance
    goes through ``‖a‖² + ‖b‖² - 2 a·b`` (a matrix product) when P or R exceeds 25 (or
    always, or never, by ``compute_mode``); other p and small inputs take the differences."""
    a, b = as_tensor(x1), as_tensor(x2)
    for name, t in (("x1", a), ("x2", b)):
        if t.ndim < 2:
            raise ValueError(f"cdist: {name} must have at least 2 dims, got shape "
                             f"{tuple(t.shape)}")
        if t.dtype.kind != "f":
            raise TypeError(f"cdist: {name} must be a floating-point tensor, got {t.dtype}")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"cdist: x1 and x2 must have the same number of columns, got "
                         f"{a.shape[-1]} and {b.shape[-1]}")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"cdist: compute_mode must be one of {_CDIST_MODES}, got "
                         f"{compute_mode!r}")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p >= 0:
        raise ValueError(f"cdist: p must be a non-negative number, got {p!r}")
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or compute_mode == _CDIST_MODES[0]
                   and (a.shape[-2] > 25 or b.shape[-2] > 25)):
        squares = (ops.sum(a * a, axis=-1, keepdims=True)
                   + ops.swapaxes(ops.sum(b * b, axis=-1, keepdims=True), -1, -2)
                   - 2 * ops.matmul(a, ops.swapaxes(b, -1, -2)))
        return _root(ops.maximum(squares, 0))  # 0 with a zero gradient at zero distance
    return norm(ops.expand_dims(a, -2) - ops.expand_dims(b, -3), p, -1)  # (..., P, R, M)


def argmax(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: Optional[bool] = None) -> Tensor:
    """Index of the largest element along ``dim`` (of the flattened tensor if None)."""
    x = as_tensor(input)
    dim = pick("dim", dim, "axis", axis)
    if dim is None:  # over every element; keepdim keeps every dim, at size 1
        out = ops.argmax(x)
        return ops.reshape(out, (1,) * x.ndim) if keep(keepdim, keepdims) else out
    return ops.argmax(x, axis=check_dim("argmax", dim, x.ndim), keepdims=keep(keepdim, keepdims))


def argmin(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: Optional[bool] = None) -> Tensor:
    x = as_tensor(input)
    dim = pick("dim", dim, "axis", axis)
    if dim is None:
        out = ops.argmin(x)
        return ops.reshape(out, (1,) * x.ndim) if keep(keepdim, keepdims) else out
    return ops.argmin(x, axis=check_dim("argmin", dim, x.ndim), keepdims=keep(keepdim, keepdims))


def _logical_reduction(name: str, input: Any, dim: Any, keepdim: bool, axis: Any,
                       keepdims: Optional[bool]) -> Tensor:
    x = as_tensor(input)
    dim = pick("dim", dim, "axis", axis)
    if isinstance(dim, (list, tuple)) and not dim:  # PyTorch: no dims, nothing reduced
        return on_host("not_equal", x, 0)
    dims = check_dims(name, dim, x.ndim)
    return on_host(name, x, axis=dims, keepdims=keep(keepdim, keepdims))


def all(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: Optional[bool] = None) -> Tensor:
    return _logical_reduction("all", input, dim, keepdim, axis, keepdims)


def any(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: Optional[bool] = None) -> Tensor:
    return _logical_reduction("any", input, dim, keepdim, axis, keepdims)


def count_nonzero(input: Any, dim: Any = None) -> Tensor:
    x = as_tensor(input)
    dims = check_dims("count_nonzero", dim, x.ndim)
    return on_host("count_nonzero", x, axis=dims).astype("int64")


def _running(op: str, input: Any, dim: Any, dtype: Any, axis: Any) -> Tensor:
    x = _cast(as_tensor(input), dtype)
    dim = pick("dim", dim, "axis", axis)
    if dim is None:
        raise TypeError(f"{op}: missing the dim to accumulate along")
    d = check_dim(op, dim, x.ndim)
    out = getattr(ops, op)(x, axis=d) if x.ndim else x + 0  # a 0-d tensor: itself
    return _accumulated(out, x, dtype)


def cumsum(input: Any, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
    return _running("cumsum", input, dim, dtype, axis)


def cumprod(input: Any, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
    return _running("cumprod", input, dim, dtype, axis)


__all__ = ["MaxResult", "MinResult", "sum", "mean", "prod", "amax", "amin", "max", "min", "var",
           "std", "var_mean", "std_mean", "logsumexp", "norm", "dist", "cdist", "argmax", "argmin",
           "all", "any", "count_nonzero", "cumsum", "cumprod"]
