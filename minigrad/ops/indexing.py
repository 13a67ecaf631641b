"""Indexing and its adjoint, the scatter-add (repeated indices accumulate)."""
from typing import Any

from ..primitive import as_input, primitive, renamed


def as_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (integer or boolean). An index of
    plain ints gets a trailing ``...``, so that ``x[0]`` of a 1-d tensor is a 0-d view of
    ``x`` (as in PyTorch), not a copied scalar: ``x[0].add_(1)`` then writes into ``x``."""
    if type(index) is int:
        return index, Ellipsis
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        if all(type(i) is int for i in index):
            return index + (Ellipsis,)
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


_PLAIN_INDEX = (int, slice, type(None), type(Ellipsis))


def check_masks(shape: tuple, index: Any, op: str) -> None:
    """PyTorch's IndexError for a bool mask whose shape differs from the dims it covers
    (NumPy takes an empty mask against a dim of any size), and for a float index (whose
    error would be the array library's own); a uint8 index, a mask to PyTorch
    (deprecated) but positions to NumPy, is refused. ``index`` is as_index's."""
    if not isinstance(index, tuple) and getattr(index, "dtype", None) is None:
        return  # an int or a slice, the common case: nothing to check
    if isinstance(index, tuple):
        for item in index:
            if type(item) not in _PLAIN_INDEX:
                break
        else:
            return  # ints, slices, None and ...: nothing to check either
    items = index if isinstance(index, tuple) else (index,)
    dtypes = [getattr(i, "dtype", None) for i in items]
    if "uint8" in dtypes:
        raise TypeError(f"{op}: a uint8 index is a mask to PyTorch (deprecated) but positions "
                        "to NumPy: the mask must be a bool tensor (positions: an int64 one)")
    for d in dtypes:
        if d is not None and d.kind in "fc":
            raise IndexError(f"{op}: tensors used as indices must be long, int or bool "
                             f"tensors, got dtype {d}")
    if not any(d == bool and i.ndim for d, i in zip(dtypes, items)):
        return

    def taken(item: Any) -> int:  # the dims of the tensor an index item covers
        if item is None or item is Ellipsis:
            return 0
        return item.ndim if getattr(item, "dtype", None) == bool else 1

    at = 0
    for k, item in enumerate(items):
        if item is Ellipsis:
            at = len(shape) - sum(taken(i) for i in items[k + 1:])
            continue
        if getattr(item, "dtype", None) == bool and item.ndim:
            covered = list(shape[at:at + item.ndim])
            if list(item.shape) != covered:
                raise IndexError(f"{op}: the shape of the mask {list(item.shape)} at index "
                                 f"{k} does not match the shape of the indexed tensor "
                                 f"{covered} at index {at}")
        at += taken(item)


getitem = primitive(
    "getitem", lambda xp, x, index: x[index],
    lambda xp, g, y, x, index: xp.index_add(x.shape, index, g),
    saves=(), saves_output=False, saves_shapes=True)



def _accumulate_slice(total, g, y, x, index):
    """Add a slice's gradient into the input's buffer in place: no padded temporary."""
    total.add_at(index, g)
    return True


getitem.accumulators = {0: _accumulate_slice}

_index_add = primitive(
    "index_add", lambda xp, values, shape, index: xp.index_add(shape, index, values),
    lambda xp, g, y, values, shape, index: g[index],
    saves=(), saves_output=False)


def index_add(shape: Any, index: Any, values: Any) -> Any:
    """A tensor of zeros of ``shape`` with ``values`` added at ``index`` (duplicates sum)."""
    return _index_add(values, shape=tuple(shape), index=as_index(index))


def index_put(x: Any, index: Any, value: Any) -> Any:
    """``x`` with ``value`` written at ``index``, recorded: the gradient goes to ``value``
    at ``index`` and to ``x`` everywhere else (what ``t[index] = value`` records)."""
    from .elementwise import where
    from .shape import broadcast_to
    x = as_input("index_put", x)
    index = as_index(index)  # a Tensor in it must not reach the array library as it is
    check_masks(tuple(x.shape), index, "index_put")
    backend = x._backend
    written = backend.xp.zeros(x.shape, dtype=bool)
    try:
        written[index] = True
    except (IndexError, TypeError, ValueError, RuntimeError) as exc:  # an index that does
        # not fit x, or one the array library cannot read (CuPy: a tensor inside a list)
        raise renamed("index_put", exc, f" (tensor of shape {tuple(x.shape)})") from exc
    try:
        if not isinstance(value, Tensor):
            value = tensor(value, dtype=x.dtype, device=backend)
        target = written[index].shape
        placed = index_add(x.shape, index, broadcast_to(value, target))
        return where(Tensor._wrap(written, backend), placed, x)
    except (IndexError, TypeError, ValueError, RuntimeError) as exc:  # a value that does not fit
        raise renamed("index_put", exc, f" (tensor of shape {tuple(x.shape)})") from exc


from ..tensor import Tensor, tensor  # noqa: E402  (defined before the ops load)
