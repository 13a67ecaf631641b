"""Picking elements: gather/scatter along a dim, masks, sorting (values stay
differentiable: they are gathered at the sorted indices)."""
from __future__ import annotations

from collections import namedtuple
from numbers import Number
from typing import Any

from .. import ops
from ..promotion import result_type
from ..tensor import Tensor
from .arguments import as_int, check_dim
from .common import as_tensor, integer_index, on_host

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])


def _check_same_ndim(op: str, x: Tensor, index: Tensor) -> None:
    if index.ndim != x.ndim and not (x.ndim == 0 and index.ndim <= 1):
        raise ValueError(f"{op}: index has {index.ndim} dims but the input has {x.ndim} "
                         f"(index shape {tuple(index.shape)}, input shape {tuple(x.shape)}); "
                         "they must match")


def gather(input: Any, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` for dim 0 (and so on): PyTorch's gather.
    ``index`` may be smaller than ``input`` in the other dims."""
    x = as_tensor(input)
    index = integer_index("gather", index, x)
    _check_same_ndim("gather", x, index)
    d = check_dim("gather", dim, x.ndim)
    if x.ndim == 0:  # PyTorch: the one element, at every (zero) index of a 0-d or 1-d index
        _check_scalar_index("gather", x, index)
        return ops.take_along_axis(ops.reshape(x, (1,)), ops.reshape(index, (-1,)),
                                   axis=0).reshape(tuple(index.shape))
    for i, (n, m) in enumerate(zip(index.shape, x.shape)):
        if i != d and n > m:
            raise ValueError(f"gather: index shape {tuple(index.shape)} is larger than input "
                             f"shape {tuple(x.shape)} in dim {i}")
    window = tuple(slice(None) if i == d else slice(0, n) for i, n in enumerate(index.shape))
    if any(n != m for i, (n, m) in enumerate(zip(index.shape, x.shape)) if i != d):
        x = x[window]
    return ops.take_along_axis(x, index, axis=d)


def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: Any = None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along
    ``dim``."""
    if reduce is not None:
        if reduce != "add":
            raise ValueError(f"scatter: reduce={reduce!r} is not supported (only 'add')")
        return scatter_add(input, dim, index, src)
    x = as_tensor(input)
    src = value if src is None else src
    if src is None:
        raise TypeError("scatter: give src (a tensor) or value (a number)")
    index = integer_index("scatter", index, x)
    _check_same_ndim("scatter", x, index)
    _check_scalar_index("scatter", x, index)
    if isinstance(src, Number) and index.numel() == 0:
        src = 0  # nothing is written: the value need not fit the dtype (NaN into int64)
    return ops.scatter(x, check_dim("scatter", dim, x.ndim), index, src)


def _check_scalar_index(op: str, x: Tensor, index: Tensor) -> None:
    """A 0-d tensor has one place to write to: index 0."""
    if x.ndim == 0 and index.numel() and bool((index._data != 0).any()):
        raise IndexError(f"{op}: a 0-d tensor takes only index 0, got {index.tolist()}")


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Tensor:
    x = as_tensor(input)
    index = integer_index("scatter_add", index, x)
    _check_same_ndim("scatter_add", x, index)
    _check_scalar_index("scatter_add", x, index)
    return ops.scatter_add(x, check_dim("scatter_add", dim, x.ndim), index, as_tensor(src, x))


def _along(d: int, index: Any) -> tuple:
    return (slice(None),) * d + (index,)


def _vector_index(op: str, index: Any, like: Tensor) -> Tensor:
    index = integer_index(op, index, like)
    if index.ndim > 1:
        raise ValueError(f"{op}: index must be 0-d or 1-d, got shape {tuple(index.shape)}")
    return index


def index_select(input: Any, dim: int, index: Any) -> Tensor:
    x = as_tensor(input)
    d = check_dim("index_select", dim, x.ndim)
    index = _vector_index("index_select", index, x)
    if x.ndim == 0:  # one element: the index must be the single 0 (as PyTorch)
        if index.numel() != 1 or index.item() != 0:
            raise IndexError(f"index_select: a 0-d tensor takes the one index 0, got "
                             f"{index.tolist()}")
        return x
    return x[_along(d, ops.reshape(index, (-1,)))]


def index_add(input: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
    """``input`` plus ``alpha * source`` added at ``index`` along ``dim`` (repeats add up)."""
    x = as_tensor(input)
    d = check_dim("index_add", dim, x.ndim)
    index = _vector_index("index_add", index, x)
    source = as_tensor(source, x)
    if source.dtype != x.dtype:  # PyTorch adds in self's dtype and refuses another source
        raise RuntimeError(f"index_add: self ({x.dtype}) and source ({source.dtype}) must "
                           "have the same dtype")
    if source.ndim != x.ndim:
        raise ValueError(f"index_add: source has {source.ndim} dims but the input has {x.ndim} "
                         f"(shapes {tuple(source.shape)} and {tuple(x.shape)})")
    if alpha != 1:
        source = source * alpha
    return x + ops.index_add(x.shape, _along(d, index), source)


def _mask_along(op: str, x: Tensor, dim: int, index: Any) -> Tensor:
    d = check_dim(op, dim, x.ndim)
    index = _vector_index(op, index, x)
    hit = x._backend.xp.zeros(x.shape[d] if x.ndim else 1, dtype=bool)
    hit[index._data] = True
    shape = [1] * x.ndim
    if x.ndim:
        shape[d] = x.shape[d]
    return Tensor._wrap(hit.reshape(shape), x._backend)


def index_fill(input: Any, dim: int, index: Any, value: Any) -> Tensor:
    x = as_tensor(input)
    if not isinstance(value, (Number, Tensor)) or isinstance(value, Tensor) and value.ndim:
        raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got {value!r}")
    return ops.where(_mask_along("index_fill", x, dim, index), value, x)


def _bool_mask(op: str, mask: Any, like: Tensor) -> Tensor:
    mask = as_tensor(mask, like)
    if mask.dtype != bool:
        raise TypeError(f"{op}: the mask must be a bool tensor, got dtype {mask.dtype}")
    return mask


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` is true (input and mask broadcast together; in place, the
    result must keep the input's shape)."""
    x = as_tensor(input)
    mask = _bool_mask("masked_fill", mask, x)
    if isinstance(value, Tensor) and value.ndim:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                         f"{tuple(value.shape)}")
    if not isinstance(value, (Number, Tensor)):
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got {value!r}")
    try:
        x._backend.xp.broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ValueError(f"masked_fill: the mask of shape {tuple(mask.shape)} and the input of "
                         f"shape {tuple(x.shape)} do not broadcast together") from None
    out = ops.where(mask, value, x)
    return out if out.dtype == x.dtype else out.to(x.dtype)


def masked_select(input: Any, mask: Any) -> Tensor:
    """The elements where ``mask`` is true, as a 1-d tensor (both broadcast first)."""
    x = as_tensor(input)
    mask = _bool_mask("masked_select", mask, x)
    xp = x._backend.xp
    try:
        shape = tuple(xp.broadcast_shapes(x.shape, mask.shape))
    except ValueError:
        raise ValueError(f"masked_select: the mask of shape {tuple(mask.shape)} and the input "
                         f"of shape {tuple(x.shape)} do not broadcast together") from None
    flat = ops.reshape(ops.broadcast_to(x, shape), (-1,))
    where_true = xp.nonzero(xp.broadcast_to(mask._data, shape).reshape(-1))[0]
    return flat[Tensor._wrap(where_true, x._backend)]


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` holds, else ``other``; with the condition alone, the
    indices where it holds (as ``nonzero(as_tuple=True)``)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    condition = as_tensor(condition)
    if condition.dtype != bool:
        raise TypeError(f"where: the condition must be a bool tensor, got dtype "
                        f"{condition.dtype}")
    return ops.where(condition, input, other)


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:
    x = as_tensor(input)
    found = x._backend.xp.nonzero(x._data if x.ndim else x._data.reshape(1))
    parts = tuple(Tensor._wrap(i.astype("int64"), x._backend) for i in found)
    if as_tuple:
        return parts
    if x.ndim == 0:  # a row per nonzero element, no columns (as PyTorch)
        return Tensor._wrap(x._backend.xp.zeros((len(found[0]), 0), dtype="int64"), x._backend)
    return Tensor._wrap(x._backend.xp.stack([p._data for p in parts], axis=1), x._backend)


def argwhere(input: Any) -> Tensor:
    return nonzero(input)


def _sorted_indices(x: Tensor, d: int, descending: bool) -> Tensor:
    """Stable sort order; descending keeps equal elements in their original order."""
    xp = x._backend.xp
    if not descending:
        return Tensor._wrap(xp.argsort(x._data, axis=d, kind="stable"), x._backend)
    flipped = xp.flip(x._data, axis=d)
    order = xp.flip(xp.argsort(flipped, axis=d, kind="stable"), axis=d)
    return Tensor._wrap(x.shape[d] - 1 - order, x._backend)


def pick_sorted(x: Tensor, order: Tensor, at: Any, d: int) -> tuple:
    """The elements of ``x`` at sorted position ``at`` along ``d`` (an array of positions,
    size 1 along ``d``) and their indices; the values carry the gradient back to them."""
    index = ops.take_along_axis(order, Tensor._wrap(at.astype("int64"), x._backend), axis=d)
    return ops.take_along_axis(x, index, axis=d), index


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) sorted along ``dim``; the values carry the gradient back to the
    elements they came from."""
    x = as_tensor(input)
    d = check_dim("sort", dim, x.ndim)
    if x.ndim == 0:
        return SortResult(x, Tensor._wrap(x._backend.xp.zeros((), dtype="int64"), x._backend))
    indices = _sorted_indices(x, d, descending)
    return SortResult(ops.take_along_axis(x, indices, axis=d), indices)


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False, *,
            axis: Any = None) -> Tensor:
    x = as_tensor(input)
    d = check_dim("argsort", dim if axis is None else axis, x.ndim)
    if x.ndim == 0:
        return Tensor._wrap(x._backend.xp.zeros((), dtype="int64"), x._backend)
    return _sorted_indices(x, d, descending)


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices."""
    x = as_tensor(input)
    d = check_dim("topk", dim, x.ndim)
    k = as_int(k, "topk: k")
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for dim {dim} of size {n}")
    if x.ndim == 0:  # the one element, whatever k (as PyTorch)
        return TopkResult(*sort(x))
    values, indices = sort(x, d, descending=largest)
    window = (slice(None),) * d + (slice(0, k),)
    return TopkResult(values[window], indices[window])


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """The ``k``-th smallest element (1-based) along ``dim`` and its index."""
    x = as_tensor(input)
    d = check_dim("kthvalue", dim, x.ndim)
    k = as_int(k, "kthvalue: k")
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise ValueError(f"kthvalue: k={k} is out of range for dim {dim} of size {n}")
    if x.ndim == 0:
        return KthvalueResult(*sort(x))
    values, indices = sort(x, d)
    window = (slice(None),) * d + (slice(k - 1, k) if keepdim else k - 1,)
    return KthvalueResult(values[window], indices[window])


def _median(name: str, input: Any, dim: Any, keepdim: bool, skip_nan: bool) -> Any:
    x = as_tensor(input)
    if x.dtype == bool:
        raise TypeError(f"{name}: not implemented for bool tensors (as in PyTorch); "
                        "convert first, e.g. x.int()")
    if dim is None:  # of every element: the value alone, 0-d
        flat = ops.reshape(x, (-1,))
        if flat.shape[0] == 0:  # PyTorch: NaN (an integer tensor's median of nothing fails)
            if x.dtype.kind not in "fc":
                raise ValueError(f"{name}: the input is empty")
            return Tensor._wrap(x._backend.xp.full((), float("nan"), dtype=x.dtype),
                                x._backend)
        return _median_along(flat, 0, False, skip_nan).values
    d = check_dim(name, dim, x.ndim)
    if x.ndim == 0:
        return MedianResult(*sort(x))
    if x.shape[d] == 0:
        raise ValueError(f"{name}: dim {dim} has size 0; a median needs at least one element")
    return _median_along(x, d, keepdim, skip_nan)


def _median_along(x: Tensor, d: int, keepdim: bool, skip_nan: bool) -> Any:
    """The lower median along ``d`` and its index: the sorted position (n - 1) // 2, NaN
    first sorted last, so that a NaN in the row is the median (``median``) or the NaNs
    are left out (``nanmedian``: the lower median of the rest, NaN if all are)."""
    xp, n = x._backend.xp, x.shape[d]
    order = _sorted_indices(x, d, False)
    if x.dtype.kind == "f":
        nans = xp.sum(xp.isnan(x._data), axis=d, keepdims=True)
        at = xp.maximum(n - nans - 1, 0) // 2 if skip_nan else \
            xp.where(nans > 0, n - nans, (n - 1) // 2)
    else:
        at = xp.full(x.shape[:d] + (1,) + x.shape[d + 1:], (n - 1) // 2, dtype="int64")
    values, index = pick_sorted(x, order, at, d)
    if not keepdim:
        values, index = ops.squeeze(values, d), ops.squeeze(index, d)
    return MedianResult(values, index)


def median(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """The lower median (of an even count, the smaller middle value), as PyTorch's:
    of every element (a 0-d tensor), or along ``dim`` as (values, indices); NaN where
    a NaN is among the elements. The value carries the gradient to the element it is."""
    return _median("median", input, dim, keepdim, False)


def nanmedian(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """:func:`median` of the elements that are not NaN (NaN where all are)."""
    return _median("nanmedian", input, dim, keepdim, True)


def msort(input: Any) -> Tensor:
    return sort(input, 0).values


def isin(elements: Any, test_elements: Any) -> Tensor:
    """Membership tested in the promoted dtype, as PyTorch tests it (a 0-d int64 element
    against int32 test elements is first cast to int32; a number takes the tensor's)."""
    x = as_tensor(elements)
    if isinstance(test_elements, Number):  # a number brings only its kind, as in PyTorch
        target = result_type([x._data, test_elements])
        other = Tensor._wrap(x._backend.asarray(test_elements), x._backend)
    else:
        other = as_tensor(test_elements, x)
        target = result_type([x._data, other._data])
    return on_host("isin", x.to(target), other.to(target)._data)


__all__ = ["SortResult", "TopkResult", "KthvalueResult", "MedianResult", "gather", "scatter",
           "scatter_add", "index_select", "index_add", "index_fill", "masked_fill",
           "masked_select", "where", "nonzero", "argwhere", "sort", "argsort", "topk",
           "kthvalue", "median", "nanmedian", "msort", "isin"]
