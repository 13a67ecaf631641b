"""Running sums and products along an axis, and the product reduction built on them.

The product rules never divide by the input: a zero (or several) in ``x`` gets its
exact gradient, and the rules are written in differentiable operations only, so
second derivatives are exact at zeros too.
"""
import math
from typing import Any, Optional

from ..primitive import primitive
from .reduction import kept_shape, normalize_axis
from .shape import reshape


def _shifted(xp: Any, a: Any, axis: int, by: int, fill: float) -> Any:
    """``a`` moved ``by`` places along ``axis`` (towards the end if positive), with
    ``fill`` coming in at the vacated end."""
    n = a.shape[axis]
    k = min(abs(by), n)
    keep = [slice(None)] * a.ndim
    widths = [(0, 0)] * a.ndim
    keep[axis] = slice(0, n - k) if by > 0 else slice(k, n)
    widths[axis] = (k, 0) if by > 0 else (0, k)
    return xp.pad(a[tuple(keep)], tuple(widths), constant_values=fill)


def _cumprod_grad(xp: Any, g: Any, y: Any, x: Any, axis: int) -> Any:
    """d/dx_k = (x_0 ... x_{k-1}) * u_k, where u_k = g_k + x_{k+1} u_{k+1} collects the
    later outputs. The recurrence is solved by a log-depth scan of affine maps
    (Hillis-Steele): exact with zeros, and no division anywhere."""
    u, a = g, _shifted(xp, x, axis, -1, 0)  # u_k = g_k + a_k u_{k+1}, a_k = x_{k+1}
    step = 1
    while step < x.shape[axis]:  # compose each map with the one `step` places later
        u = u + a * _shifted(xp, u, axis, -step, 0)
        a = a * _shifted(xp, a, axis, -step, 0)
        step *= 2
    return _shifted(xp, y, axis, 1, 1) * u


_cumsum = primitive(
    "cumsum", lambda xp, x, axis: xp.cumsum(x, axis=axis),
    lambda xp, g, y, x, axis: xp.flip(xp.cumsum(xp.flip(g, axis), axis), axis),
    saves=(), saves_output=False)

_cumprod = primitive(
    "cumprod", lambda xp, x, axis: xp.cumprod(x, axis=axis), _cumprod_grad)


def _prod_grad(xp: Any, g: Any, y: Any, x: Any, axis: Optional[tuple] = None,
               keepdims: bool = False) -> Any:
    """g times the product of the *other* elements of each reduced group: the product of
    those before times the product of those after, both running products."""
    axes = tuple(range(x.ndim)) if axis is None else axis
    rest = tuple(d for d in range(x.ndim) if d not in axes)
    order = rest + axes
    moved = xp.transpose(x, order)
    lead = moved.shape[:len(rest)]
    flat = xp.reshape(moved, lead + (math.prod(moved.shape[len(rest):]),))
    last = len(lead)
    before = xp.cumprod(_shifted(xp, flat, last, 1, 1), last)
    after = xp.flip(xp.cumprod(xp.flip(_shifted(xp, flat, last, -1, 1), last), last), last)
    others = xp.reshape(before * after, moved.shape)
    inverse = tuple(order.index(d) for d in range(x.ndim))
    return xp.reshape(g, kept_shape(x.shape, axis)) * xp.transpose(others, inverse)


_prod = primitive(
    "prod", lambda xp, x, axis=None, keepdims=False: xp.prod(x, axis=axis, keepdims=keepdims),
    _prod_grad, saves=(0,), saves_output=False)


def _running(prim: Any, x: Any, axis: Optional[int]) -> Any:
    if axis is None:  # NumPy: over the flattened tensor
        return prim(reshape(x, (-1,)), axis=0)
    (axis,) = normalize_axis(axis, x.ndim)
    if x.ndim == 0:  # PyTorch: a 0-d tensor stays 0-d
        return reshape(prim(reshape(x, (1,)), axis=0), ())
    return prim(x, axis=axis)


def cumsum(x: Any, axis: Optional[int] = None) -> Any:
    """Running sum along ``axis`` (None: over the flattened tensor)."""
    return _running(_cumsum, x, axis)


def cumprod(x: Any, axis: Optional[int] = None) -> Any:
    """Running product along ``axis``; its gradient is exact when ``x`` has zeros."""
    return _running(_cumprod, x, axis)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis`` (None, an int or a tuple); gradient exact with zeros."""
    axes = normalize_axis(axis, x.ndim)
    if x.ndim == 0 or axes is not None and len(axes) == x.ndim:
        axes = None if not keepdims else axes
    return _prod(x, axis=axes, keepdims=keepdims)
