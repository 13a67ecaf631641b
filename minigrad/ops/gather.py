"""Gathering and scattering along one axis: NumPy's take_along_axis (PyTorch's gather)
and PyTorch's scatter / scatter_add.

``take_along_axis`` and ``add_along_axis`` are each other's adjoint, so each one's
gradient rule is the other; ``scatter``'s is itself (scattering zeros) and a gather.
Indices are integer arrays held as parameters: they carry no gradient.
"""
import operator
from typing import Any, Union

from ..backends import current_backend
from ..primitive import as_input, primitive
from .shape import broadcast_to, reshape


def _window(a: Any, shape: tuple, axis: int) -> Any:
    """The leading ``shape`` corner of ``a`` in every axis but ``axis`` (PyTorch lets an
    index be smaller than the tensors it reads and writes)."""
    if all(n == m for d, (n, m) in enumerate(zip(a.shape, shape)) if d != axis):
        return a
    return a[tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(shape))]


def _read_back(xp: Any, g: Any, indices: Any, axis: int) -> Any:
    """``g`` at the positions ``indices`` point to: the adjoint of adding or writing there."""
    return xp.take_along_axis(_window(g, indices.shape, axis), indices, axis)


_take_along_axis = primitive(
    "take_along_axis", lambda xp, x, indices, axis: xp.take_along_axis(x, indices, axis),
    lambda xp, g, y, x, indices, axis: xp.add_along_axis(x.shape, indices, g, axis),
    saves=(), saves_output=False, saves_shapes=True)

_add_along_axis = primitive(
    "add_along_axis",
    lambda xp, values, shape, indices, axis: xp.add_along_axis(shape, indices, values, axis),
    lambda xp, g, y, values, shape, indices, axis: _read_back(xp, g, indices, axis),
    saves=(), saves_output=False)

_scatter = primitive(
    "scatter", lambda xp, x, src, axis, indices: xp.scatter(x, axis, indices, src),
    lambda xp, g, y, x, src, axis, indices: xp.scatter(g, axis, indices, 0),
    lambda xp, g, y, x, src, axis, indices: _read_back(xp, g, indices, axis),
    saves=(), saves_output=False)


def _backend(*values: Any) -> Any:
    for v in values:
        backend = getattr(v, "_backend", None)
        if backend is not None:
            return backend
    return current_backend()


def _indices(name: str, indices: Any, backend: Any) -> Any:
    """An integer index array on ``backend``, from a Tensor, an array or a list."""
    source = getattr(indices, "_backend", None)
    if source is not None and source is not backend:
        raise RuntimeError(f"{name}: indices are on {source.device}, the input on "
                           f"{backend.device}; move one of them with .to()")
    array = getattr(indices, "_data", indices)
    if not backend.is_array(array):
        array = backend.asarray(backend.operand(array))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {array.dtype}")
    return array


def _axis(name: str, axis: int, ndim: int) -> int:
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{name}: axis must be an int, got {type(axis).__name__}") from None
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{name}: axis {axis} is out of range for a tensor of dimension "
                         f"{ndim}")
    return axis % max(ndim, 1)


def take_along_axis(x: Any, indices: Any, axis: int) -> Any:
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] along ``axis`` (NumPy's
    take_along_axis: the other axes broadcast). The gradient adds into ``x`` at the
    taken positions; repeated indices accumulate."""
    x = as_input("take_along_axis", x)
    idx = _indices("take_along_axis", indices, _backend(x))
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices of shape {tuple(idx.shape)} need as many "
                         f"dimensions as the tensor of shape {tuple(x.shape)}")
    axis = _axis("take_along_axis", axis, x.ndim)
    if x.ndim == 0:
        return reshape(_take_along_axis(reshape(x, (1,)), indices=idx.reshape((1,)), axis=0), ())
    common = []
    for d, (n, m) in enumerate(zip(x.shape, idx.shape)):
        if d != axis and n != m and 1 not in (n, m):
            raise ValueError(f"take_along_axis: indices of shape {tuple(idx.shape)} do not "
                             f"broadcast with the tensor of shape {tuple(x.shape)} in axis {d} "
                             f"(gathering along axis {axis})")
        common.append(m if n == 1 else n)  # broadcasting: a size 1 takes the other (even 0)
    x_shape = tuple(x.shape[d] if d == axis else n for d, n in enumerate(common))
    idx_shape = tuple(idx.shape[d] if d == axis else n for d, n in enumerate(common))
    if idx.shape != idx_shape:
        idx = _backend(x).broadcast_to(idx, idx_shape)
    return _take_along_axis(broadcast_to(x, x_shape), indices=idx, axis=axis)


def add_along_axis(shape: Any, indices: Any, values: Any, axis: int) -> Any:
    """zeros(shape) with values[i] added where indices[i] points along ``axis`` (repeated
    indices accumulate): the adjoint of take_along_axis, PyTorch's scatter_add onto zeros.
    ``indices`` has ``values``' shape; both may be smaller than ``shape``."""
    values = as_input("add_along_axis", values, "values")
    try:
        shape = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"add_along_axis: shape must be a sequence of ints, got {shape!r}") \
            from None
    idx = _indices("add_along_axis", indices, _backend(values))
    axis = _axis("add_along_axis", axis, len(shape))
    _check_scatter("add_along_axis", shape, axis, idx, tuple(values.shape))
    if tuple(values.shape) != tuple(idx.shape):
        raise ValueError(f"add_along_axis: values of shape {tuple(values.shape)} need the "
                         f"indices' shape {tuple(idx.shape)}")
    return _add_along_axis(values, shape=shape, indices=idx, axis=axis)


def _check_scatter(name: str, shape: tuple, axis: int, idx: Any, src_shape: Any) -> None:
    """PyTorch's rules: one number of dimensions, and the index no larger than the
    source in any axis nor than the target in any axis but ``axis``."""
    index_shape = tuple(idx.shape)
    if len(index_shape) != len(shape) or src_shape is not None and len(src_shape) != len(shape):
        source = "" if src_shape is None else f", source {src_shape}"
        raise ValueError(f"{name}: index {index_shape}, tensor {shape}{source} must have the "
                         "same number of dimensions")
    for d, n in enumerate(index_shape):
        if src_shape is not None and n > src_shape[d]:
            raise ValueError(f"{name}: index of shape {index_shape} is larger than the source "
                             f"of shape {src_shape} in dimension {d}")
        if d != axis and n > shape[d]:
            raise ValueError(f"{name}: index of shape {index_shape} is larger than the tensor "
                             f"of shape {shape} in dimension {d} (only dim {axis}, the one "
                             "scattered along, may differ)")


def _source(name: str, x: Any, axis: int, index: Any, src: Any, value_ok: bool) -> tuple:
    """Checked indices and axis, and the part of ``src`` the index reaches (a number, or
    a 0-d tensor, is written everywhere the index points when ``value_ok``)."""
    idx = _indices(name, index, _backend(x, src))
    axis = _axis(name, axis, x.ndim)
    is_value = value_ok and getattr(src, "ndim", 0) == 0
    src_shape = None if is_value else tuple(getattr(src, "shape", ()))
    _check_scatter(name, tuple(x.shape), axis, idx, src_shape)
    if is_value:
        return idx, axis, src
    if src.dtype != x.dtype:
        raise TypeError(f"{name}: the source's dtype {src.dtype} differs from the tensor's "
                        f"{x.dtype}; convert one of them first")
    if src_shape != tuple(idx.shape):
        src = src[tuple(slice(0, n) for n in idx.shape)]
    return idx, axis, src


def scatter(x: Any, axis: int, index: Any, src: Union[Any, float]) -> Any:
    """PyTorch's ``x.scatter(axis, index, src)``: a copy of ``x`` with src[i] (or the number
    ``src``) written where index[i] points along ``axis``. Gradients: ``x``'s is g with the
    written positions zeroed, ``src``'s is g read back at those positions."""
    idx, axis, src = _source("scatter", x, axis, index, src, value_ok=True)
    return _scatter(x, src, axis=axis, indices=idx)


def scatter_add(x: Any, axis: int, index: Any, src: Any) -> Any:
    """PyTorch's ``x.scatter_add(axis, index, src)``: ``x`` plus src[i] added where index[i]
    points along ``axis`` (repeated indices accumulate)."""
    idx, axis, src = _source("scatter_add", x, axis, index, src, value_ok=False)
    return x + _add_along_axis(src, shape=tuple(x.shape), indices=idx, axis=axis)
