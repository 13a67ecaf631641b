"""Elementwise primitives: value and gradient rule side by side.

Read each declaration as ``name: forward; d/d(input 0); d/d(input 1)`` where
``g`` is the incoming gradient and ``y`` the forward's result. The common activations'
rules avoid Python numbers (``g - g * y * y``, not ``g * (1 - y * y)``): on small
arrays a NumPy op with a number costs twice one between arrays.
"""
import math
from numbers import Number
from typing import Any

from ..primitive import primitive, unchanged

add = primitive(
    "add", lambda xp, a, b: a + b,
    unchanged,
    unchanged,
    saves=(), saves_output=False)

subtract = primitive(
    "subtract", lambda xp, a, b: a - b,
    unchanged,
    lambda xp, g, y, a, b: -g,
    saves=(), saves_output=False)

multiply = primitive(
    "multiply", lambda xp, a, b: a * b,
    lambda xp, g, y, a, b: g * b,
    lambda xp, g, y, a, b: g * a,
    saves=(0, 1), saves_output=False)

divide = primitive(
    "divide", lambda xp, a, b: a / b,
    lambda xp, g, y, a, b: g / b,
    lambda xp, g, y, a, b: -g * y / b,
    saves=(1,))

negative = primitive(
    "negative", lambda xp, a: -a,
    lambda xp, g, y, a: -g,
    saves=(), saves_output=False)

def _pow_grad_base(xp: Any, g: Any, a: Any, b: Any) -> Any:
    """b * a^(b-1), and 0 where b == 0 (PyTorch's rule: x^0 is constant 1, so 0^0 does not
    give 0 * inf; elsewhere the product is 0 already and stays differentiable in b)."""
    if isinstance(b, (int, float)):  # a Python number: decide here, no pass over the data
        return g * b * a ** (b - 1) if b != 0 else g * 0
    return xp.where((b == 0) & (a == 0), 0, g * b * a ** (b - 1))


def _pow_grad_exponent(xp: Any, g: Any, y: Any, a: Any, b: Any) -> Any:
    """a^b log a, and 0 where a == 0 and b >= 0 (PyTorch's: 0 * log 0 is taken as 0)."""
    return xp.where((a == 0) & (b >= 0), 0, g * y * xp.log(a))


power = primitive(
    "power", lambda xp, a, b: a ** b,
    lambda xp, g, y, a, b: _pow_grad_base(xp, g, a, b),
    lambda xp, g, y, a, b: _pow_grad_exponent(xp, g, y, a, b))

exp = primitive(
    "exp", lambda xp, x: xp.exp(x),
    lambda xp, g, y, x: g * y,
    saves=())

log = primitive(
    "log", lambda xp, x: xp.log(x),
    lambda xp, g, y, x: g / x,
    saves=(0,), saves_output=False)

sqrt = primitive(
    "sqrt", lambda xp, x: xp.sqrt(x),
    lambda xp, g, y, x: g / (y + y),
    saves=())

tanh = primitive(
    "tanh", lambda xp, x: xp.tanh(x),
    lambda xp, g, y, x: g - g * y * y,  # g (1 - y²)
    saves=())


def _sigmoid_grad(xp: Any, g: Any, y: Any, x: Any) -> Any:
    """g y (1 - y), as gy - gy y."""
    gy = g * y
    return gy - gy * y


sigmoid = primitive(
    "sigmoid", lambda xp, x: xp.sigmoid(x),
    _sigmoid_grad,
    saves=())

erf = primitive(
    "erf", lambda xp, x: xp.erf(x),
    lambda xp, g, y, x: g * (2 / math.sqrt(math.pi)) * xp.exp(-(x * x)),
    saves=(0,), saves_output=False)

relu = primitive(
    "relu", lambda xp, x: xp.relu(x),
    lambda xp, g, y, x: g * (x > 0),
    saves=(0,), saves_output=False)

abs = primitive(
    "abs", lambda xp, x: xp.abs(x),
    lambda xp, g, y, x: g * xp.sign(x),
    saves=(0,), saves_output=False)

maximum = primitive(
    "maximum", lambda xp, a, b: xp.maximum(a, b),
    lambda xp, g, y, a, b: xp.where(a > b, g, xp.where(a == b, g / 2, 0)),
    lambda xp, g, y, a, b: xp.where(b > a, g, xp.where(a == b, g / 2, 0)),
    saves=(0, 1), saves_output=False)

minimum = primitive(
    "minimum", lambda xp, a, b: xp.minimum(a, b),
    lambda xp, g, y, a, b: xp.where(a < b, g, xp.where(a == b, g / 2, 0)),
    lambda xp, g, y, a, b: xp.where(b < a, g, xp.where(a == b, g / 2, 0)),
    saves=(0, 1), saves_output=False)


def _atan2_grad(xp: Any, g: Any, a: Any, b: Any, side: Any) -> Any:
    """g * side / (a² + b²), and 0 at the origin, where the angle has no derivative
    (PyTorch's choice; hypot's is NaN there)."""
    squares = a * a + b * b
    return xp.where(squares == 0, 0, g * side / squares)


arctan2 = primitive(  # the angle of the point (b, a)
    "arctan2", lambda xp, a, b: xp.arctan2(a, b),
    lambda xp, g, y, a, b: _atan2_grad(xp, g, a, b, b),
    lambda xp, g, y, a, b: _atan2_grad(xp, g, a, b, -a),
    saves=(0, 1), saves_output=False)

hypot = primitive(
    "hypot", lambda xp, a, b: xp.hypot(a, b),
    lambda xp, g, y, a, b: g * a / y,
    lambda xp, g, y, a, b: g * b / y,
    saves=(0, 1))

# log(e^a + e^b) without overflow. Each side's share is 1 / (1 + e^(other - side)), as in
# PyTorch, rather than e^(side - y): exact where y rounds (a = b = 1e30 in float32: 1/2 each).
logaddexp = primitive(
    "logaddexp", lambda xp, a, b: xp.logaddexp(a, b),
    lambda xp, g, y, a, b: g / (1 + xp.exp(b - a)),
    lambda xp, g, y, a, b: g / (1 + xp.exp(a - b)),
    saves=(0, 1), saves_output=False)


# Operands of different dtypes meet at PyTorch's result type (minigrad/promotion.py).
for _binary in (add, subtract, multiply, divide, power, maximum, minimum, arctan2, hypot,
                logaddexp):
    _binary.promotes = (0, 1)
divide.true_divide = True


def _clip_grad(xp, g, y, x, lo=None, hi=None):
    if lo is not None:
        g = xp.where(x >= lo, g, 0)
    if hi is not None:
        g = xp.where(x <= hi, g, 0)
    return g


_clip = primitive("clip", lambda xp, x, lo=None, hi=None: xp.clip(x, lo, hi), _clip_grad,
                  saves=(0,), saves_output=False)

where = primitive(
    "where", lambda xp, c, a, b: xp.where(c, a, b),
    None,
    lambda xp, g, y, c, a, b: xp.where(c, g, 0),
    lambda xp, g, y, c, a, b: xp.where(c, 0, g),
    saves=(0,), saves_output=False)

where.promotes = (1, 2)

astype = primitive(
    "astype", lambda xp, x, dtype: x.astype(dtype),
    lambda xp, g, y, x, dtype: g.astype(x.dtype),
    saves=(), saves_output=False, saves_shapes=True)

copy = primitive(
    "copy", lambda xp, x: x.copy(),
    unchanged,
    saves=(), saves_output=False)


def clip(x, min=None, max=None):
    """Limit values to [min, max]; the gradient passes where the input was inside.
    Tensor or array bounds are elementwise (PyTorch's clamp), never kernel scalars."""
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    if any(hasattr(b, "shape") and not isinstance(b, Number) for b in (min, max)):
        from ..functions.pointwise import clamp
        from ..tensor import Tensor, tensor
        device = x.device if isinstance(x, Tensor) else None
        return clamp(x, *(b if b is None or isinstance(b, Tensor) else tensor(b, device=device)
                          for b in (min, max)))
    return _clip(x, lo=min, hi=max)


# -- trigonometric, hyperbolic and near-zero-accurate functions -------------------------

sin = primitive(
    "sin", lambda xp, x: xp.sin(x),
    lambda xp, g, y, x: g * xp.cos(x),
    saves=(0,), saves_output=False)

cos = primitive(
    "cos", lambda xp, x: xp.cos(x),
    lambda xp, g, y, x: -(g * xp.sin(x)),
    saves=(0,), saves_output=False)

tan = primitive(
    "tan", lambda xp, x: xp.tan(x),
    lambda xp, g, y, x: g * (1 + y * y),
    saves=())

arctan = primitive(
    "arctan", lambda xp, x: xp.arctan(x),
    lambda xp, g, y, x: g / (1 + x * x),
    saves=(0,), saves_output=False)

arcsin = primitive(
    "arcsin", lambda xp, x: xp.arcsin(x),
    lambda xp, g, y, x: g / xp.sqrt(1 - x * x),
    saves=(0,), saves_output=False)

arccos = primitive(
    "arccos", lambda xp, x: xp.arccos(x),
    lambda xp, g, y, x: -g / xp.sqrt(1 - x * x),
    saves=(0,), saves_output=False)

sinh = primitive(
    "sinh", lambda xp, x: xp.sinh(x),
    lambda xp, g, y, x: g * xp.cosh(x),
    saves=(0,), saves_output=False)

cosh = primitive(
    "cosh", lambda xp, x: xp.cosh(x),
    lambda xp, g, y, x: g * xp.sinh(x),
    saves=(0,), saves_output=False)

log1p = primitive(
    "log1p", lambda xp, x: xp.log1p(x),
    lambda xp, g, y, x: g / (1 + x),
    saves=(0,), saves_output=False)

expm1 = primitive(
    "expm1", lambda xp, x: xp.expm1(x),
    lambda xp, g, y, x: g * (y + 1),
    saves=())

reciprocal = primitive(
    "reciprocal", lambda xp, x: xp.reciprocal(x),
    lambda xp, g, y, x: -g * (y * y),
    saves=())
