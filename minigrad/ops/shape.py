"""Primitives that move elements around without changing them."""
import operator
from typing import Any, Sequence

from ..primitive import as_input, primitive, variadic_primitive
from ..promotion import ALL
from .reduction import normalize_axis


def _inverse_permutation(axes: tuple) -> tuple:
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


_reshape = primitive(
    "reshape", lambda xp, x, shape: x.reshape(shape),  # the method: faster than xp.reshape
    lambda xp, g, y, x, shape: xp.reshape(g, x.shape),
    saves=(), saves_output=False, saves_shapes=True)

_transpose = primitive(
    "transpose", lambda xp, x, axes: x.transpose(axes),  # the method: faster than xp's
    lambda xp, g, y, x, axes: xp.transpose(g, _inverse_permutation(axes)),
    saves=(), saves_output=False)

_broadcast_to = primitive(
    "broadcast_to", lambda xp, x, shape: xp.broadcast_to(x, shape),
    lambda xp, g, y, x, shape: g,  # the tape sums broadcast axes back (unbroadcast)
    saves=(), saves_output=False)


def _concatenate_grad(xp, g, y, *xs, axis, index):
    start = 0
    for x in xs[:index]:
        start += x.shape[axis]
    window = [slice(None)] * g.ndim
    window[axis] = slice(start, start + xs[index].shape[axis])
    return g[tuple(window)]


def _stack_grad(xp, g, y, *xs, axis, index):
    return g[(slice(None),) * axis + (index,)]


def _pad_grad(xp, g, y, x, pad_width, value):
    return g[tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))]


_concatenate = variadic_primitive(
    "concatenate", lambda xp, *xs, axis: xp.concatenate(xs, axis=axis), _concatenate_grad,
    saves=(), saves_output=False, saves_shapes=True)
_stack = variadic_primitive(
    "stack", lambda xp, *xs, axis: xp.stack(xs, axis=axis), _stack_grad,
    saves=(), saves_output=False)
_concatenate.promotes = _stack.promotes = ALL
_pad = primitive(
    "pad", lambda xp, x, pad_width, value: xp.pad(x, pad_width, constant_values=value),
    _pad_grad, saves=(), saves_output=False, saves_shapes=True)


def _shape_arg(shape: Any) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    if type(shape) is tuple:
        for s in shape:
            if type(s) is not int:
                break
        else:
            return shape  # a tuple of ints already, as callers mostly pass
    return tuple(int(s) for s in shape)


def reshape(x: Any, shape: Any) -> Any:
    shape = _shape_arg(shape)
    if x.shape == shape:
        return x
    try:
        return _reshape(x, shape=shape)
    except ValueError as exc:
        raise ValueError(f"cannot reshape a tensor of shape {tuple(x.shape)} "
                         f"({x._data.size} elements) into shape {shape}") from exc


def transpose(x: Any, axes: Any = None) -> Any:
    if axes is None:  # all axes reversed (x.T): a permutation by construction
        return _transpose(x, axes=tuple(range(x.ndim - 1, -1, -1)))
    axes = tuple(a % max(x.ndim, 1) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"axes {axes} are not a permutation of the {x.ndim} axes of a "
                         f"tensor of shape {tuple(x.shape)}")
    return _transpose(x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    axes = list(range(x.ndim))
    a, b = axis1 % x.ndim, axis2 % x.ndim
    axes[a], axes[b] = axes[b], axes[a]
    return _transpose(x, axes=tuple(axes))


def moveaxis(x: Any, source: int, destination: int) -> Any:
    axes = list(range(x.ndim))
    axes.insert(destination % x.ndim, axes.pop(source % x.ndim))
    return _transpose(x, axes=tuple(axes))


def broadcast_to(x: Any, shape: Any) -> Any:
    shape = _shape_arg(shape)
    if tuple(x.shape) == shape:
        return x
    try:
        return _broadcast_to(x, shape=shape)
    except ValueError as exc:
        raise ValueError(f"cannot broadcast a tensor of shape {tuple(x.shape)} "
                         f"to shape {shape}") from exc


def expand_dims(x: Any, axis: Any) -> Any:
    """Insert size-1 axes (a reshape, so its gradient is a reshape back)."""
    x = as_input("expand_dims", x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis) \
        if isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis) else None
    if axes is None:
        raise TypeError(f"expand_dims: axis must be an int or a tuple of ints, got {axis!r}")
    ndim = x.ndim + len(axes)
    axes = sorted(a % ndim for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x: Any, axis: Any = None) -> Any:
    """Drop size-1 axes (all of them, or the ones named)."""
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = normalize_axis(axis, x.ndim)
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"cannot squeeze axis {a} of size {x.shape[a]} "
                                 f"(shape {tuple(x.shape)})")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = start_dim % x.ndim, end_dim % x.ndim
    middle = 1
    for n in x.shape[start:end + 1]:
        middle *= n
    return reshape(x, tuple(x.shape[:start]) + (middle,) + tuple(x.shape[end + 1:]))


def _check_same_rank(name: str, xs: Sequence[Any], axis: int) -> None:
    shapes = [tuple(x.shape) for x in xs]
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(
                a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
            raise ValueError(f"{name}: tensors of shapes {shapes[0]} and {s} do not fit "
                             f"together along axis {axis}")


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Any:
    xs = [_tensor(x) for x in tensors]
    if not xs:
        raise ValueError("concatenate needs at least one tensor")
    if xs[0].ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    axis = axis % xs[0].ndim
    _check_same_rank("concatenate", xs, axis)
    return _concatenate(*xs, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Any:
    xs = [_tensor(x) for x in tensors]
    if not xs:
        raise ValueError("stack needs at least one tensor")
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    axis = axis % (xs[0].ndim + 1)
    return _stack(*xs, axis=axis)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """NumPy's split: a number of equal sections, or the indices to cut at."""
    axis = axis % x.ndim
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    before = (slice(None),) * axis
    return [x[before + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:])]


def pad(x: Any, pad_width: Any, constant_values: float = 0) -> Any:
    """Pad with a constant, NumPy-style: ``pad_width`` is an int, a pair, or a pair per axis."""
    x = as_input("pad", x)
    if isinstance(pad_width, int):
        widths = ((pad_width, pad_width),) * x.ndim
    else:
        try:
            widths = tuple(pad_width)
            if len(widths) == 2 and all(isinstance(w, int) for w in widths):
                widths = (tuple(widths),) * x.ndim
            widths = tuple((operator.index(a), operator.index(b)) for a, b in widths)
        except (TypeError, ValueError):
            raise TypeError(f"pad: pad_width must be an int, a (before, after) pair or one "
                            f"pair per axis, got {pad_width!r}") from None
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad: pad widths must be non-negative, got {pad_width!r}")
    if len(widths) != x.ndim:
        raise ValueError(f"pad: got {len(widths)} (before, after) pairs for a tensor of "
                         f"shape {tuple(x.shape)}")
    return _pad(x, pad_width=widths, value=constant_values)


def _tensor(x: Any) -> Any:
    return x if isinstance(x, Tensor) else tensor(x)


from ..tensor import Tensor, tensor  # noqa: E402  (defined before the ops load)
