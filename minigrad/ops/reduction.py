"""Reductions over axes (NumPy's ``axis=`` / ``keepdims=``)."""
import builtins
from typing import Any, Optional

from ..primitive import primitive

Axis = Optional[Any]


def normalize_axis(axis: Axis, ndim: int) -> Optional[tuple]:
    """None, an int or a tuple (negative allowed) -> a sorted tuple of axes, or None."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def kept_shape(shape: tuple, axes: Optional[tuple]) -> tuple:
    """The shape of a reduction over ``axes`` with keepdims=True."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _sum_grad(xp, g, y, x, axis=None, keepdims=False):
    return xp.broadcast_to(xp.reshape(g, kept_shape(x.shape, axis)), x.shape)


def _extremum_grad(xp, g, y, x, axis=None, keepdims=False):
    """Ties share the gradient equally (the subgradient PyTorch's amax uses)."""
    shape = kept_shape(x.shape, axis)
    mask = x == xp.reshape(y, shape)
    count = mask.sum(axis=axis, keepdims=True).astype(g.dtype)
    return xp.where(mask, xp.reshape(g, shape) / count, 0)


def _logsumexp_grad(xp, g, y, x, axis=None, keepdims=False):
    shape = kept_shape(x.shape, axis)
    return xp.reshape(g, shape) * xp.exp(x - xp.reshape(y, shape))


# The forwards call the arrays' methods: NumPy's module functions wrap the same reduction
# in argument handling that costs more than summing a small array.
_sum = primitive("sum", lambda xp, x, axis=None, keepdims=False:
                 x.sum(axis=axis, keepdims=keepdims), _sum_grad,
                 saves=(), saves_output=False, saves_shapes=True)
_max = primitive("max", lambda xp, x, axis=None, keepdims=False:
                 x.max(axis=axis, keepdims=keepdims), _extremum_grad)
_min = primitive("min", lambda xp, x, axis=None, keepdims=False:
                 x.min(axis=axis, keepdims=keepdims), _extremum_grad)
_logsumexp = primitive("logsumexp", lambda xp, x, axis=None, keepdims=False:
                       xp.logsumexp(x, axis=axis, keepdims=keepdims), _logsumexp_grad)


def _log_softmax_forward(xp, x, axis=-1):
    """x - logsumexp(x) on arrays, one node: composed from the two primitives it was two
    nodes, with a shift by the maximum on top (eight passes forward instead of four)."""
    return x - xp.logsumexp(x, axis=axis, keepdims=True)


def _log_softmax_grad(xp, g, y, x, axis=-1):
    """g - softmax(x) * sum(g): the softmax is exp of the saved output."""
    return g - xp.exp(y) * xp.sum(g, axis=axis, keepdims=True)


_log_softmax = primitive("log_softmax", _log_softmax_forward, _log_softmax_grad, saves=())


def _reduction(prim: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    x = _as_tensor(x)
    axes = normalize_axis(axis, x.ndim)
    if x.ndim == 0 or axes is not None and len(axes) == x.ndim:
        axes = None if not keepdims else axes
    return prim(x, axis=axes, keepdims=keepdims)


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    return _reduction(_sum, x, axis, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    return _reduction(_max, x, axis, keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    return _reduction(_min, x, axis, keepdims)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """log(sum(exp(x))) without overflow."""
    return _reduction(_logsumexp, x, axis, keepdims)


def log_softmax(x: Any, axis: Optional[int] = -1) -> Any:
    """log(softmax(x)) along ``axis`` (None: over all of a 0-d ``x``), as one node."""
    x = _as_tensor(x)
    if axis is not None:
        (axis,) = normalize_axis(axis, x.ndim)
    return _log_softmax(x, axis=axis)


def _count(shape: tuple, axis: Axis) -> int:
    axes = normalize_axis(axis, len(shape))
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    x = _as_tensor(x)
    return sum(x, axis, keepdims) / _count(x.shape, axis)


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Any:
    x = _as_tensor(x)
    centred = x - mean(x, axis, keepdims=True)
    return sum(centred * centred, axis, keepdims) / (_count(x.shape, axis) - ddof)


def std(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Any:
    return var(x, axis, keepdims, ddof) ** 0.5


def _as_tensor(x: Any) -> Any:
    return x if isinstance(x, Tensor) else tensor(x)


from ..tensor import Tensor, tensor  # noqa: E402  (defined before the ops load)
