"""Elementwise maths under PyTorch's names and keywords (``add(x, y, alpha=)``,
``div(rounding_mode=)``, ``clamp`` with tensor bounds, ``lerp``, ``softmax(dim)``)."""
from __future__ import annotations

import math
from numbers import Number, Real
from typing import Any, Optional

from .. import ops
from ..dtypes import get_default_dtype
from ..promotion import ALL, promote, result_type
from ..tensor import Tensor, as_dtype
from .arguments import as_int, check_dim, pick, reported
from .common import as_tensor, on_host


def _promoting(op: Any) -> Any:
    """``op`` on floats; an integer or bool tensor becomes the default float dtype first
    (PyTorch's rule: ``exp`` of an int64 tensor is float32; NumPy's integer reciprocal
    would even truncate 1/2 to 0). A float tensor goes straight to the primitive, whose
    errors name it already: one call, as cheap as ``x.tanh()`` can be."""
    def convert(input: Any) -> Tensor:
        input = as_tensor(input)
        if input.dtype.kind not in "fc":
            input = input.to(get_default_dtype())
        return op(input)
    convert.__name__ = op.name
    convert = reported(convert)  # a conversion's errors name the function too

    def apply(input: Any) -> Tensor:
        if type(input) is Tensor and input._data.dtype.kind in "fc":
            return op.float_unary(input)
        return convert(input)
    apply.__name__ = apply.__qualname__ = op.name
    apply.__doc__ = f"Elementwise ``{op.name}`` (integer input is computed in floats)."
    apply.names_its_errors = True
    return apply


(arccos, arcsin, arctan, cos, cosh, erf, exp, expm1, log, log1p, reciprocal, sigmoid, sin, sinh,
 sqrt, tan, tanh) = map(_promoting, (
    ops.arccos, ops.arcsin, ops.arctan, ops.cos, ops.cosh, ops.erf, ops.exp, ops.expm1, ops.log,
    ops.log1p, ops.reciprocal, ops.sigmoid, ops.sin, ops.sinh, ops.sqrt, ops.tan, ops.tanh))


def _scaled(op: str, other: Any, alpha: Any) -> Any:
    """``alpha * other``; two numbers multiply exactly in Python, so the tensor's dtype
    decides the precision (``sub(float64, 1e30, alpha=1e30)``, not a float32 product)."""
    if not isinstance(alpha, (Number, Tensor)):
        raise TypeError(f"{op}: alpha must be a number, got {alpha!r}")
    if not isinstance(alpha, Tensor) and alpha == 1:
        return other
    return other * alpha if isinstance(other, Number) else ops.multiply(other, alpha)


def _in_dtype_of(out: Tensor, input: Any, other: Any) -> Tensor:
    """``out`` in the dtype of ``input`` with ``other`` (alpha takes no part, as in PyTorch)."""
    target = result_type([getattr(v, "_data", v) for v in (input, other)])
    return out if target is None or out.dtype == target else out.astype(target)


def _complex(*values: Any) -> bool:
    return any(isinstance(v, complex) or isinstance(v, Tensor) and v.dtype.kind == "c"
               for v in values)


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other``."""
    if isinstance(alpha, complex) and not _complex(input, other):
        raise TypeError("add: alpha must not be complex for operands that are not")
    scaled = _scaled("add", other, alpha)
    out = ops.add.binary(input, scaled)
    return out if scaled is other else _in_dtype_of(out, input, other)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other``."""
    if isinstance(alpha, complex) and not _complex(input, other):
        raise TypeError("sub: alpha must not be complex for operands that are not")
    scaled = _scaled("sub", other, alpha)
    out = ops.subtract.binary(input, scaled)
    return out if scaled is other else _in_dtype_of(out, input, other)


subtract = sub


def mul(input: Any, other: Any) -> Tensor:
    return ops.multiply.binary(input, other)


multiply = mul


def div(input: Any, other: Any, *, rounding_mode: Optional[str] = None) -> Tensor:
    """True division, or rounded toward zero ('trunc') / down ('floor'): the rounded forms
    carry no gradient, as in PyTorch."""
    if rounding_mode is None:
        return ops.divide.binary(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    x = next((v for v in (input, other) if isinstance(v, Tensor)), None)
    x = as_tensor(input) if x is None else x
    values = []
    for v in (input, other):  # numbers stay numbers: they do not decide the dtype
        if not isinstance(v, Number):
            v = as_tensor(v, x)
            if v._backend is not x._backend:
                raise RuntimeError(
                    "Expected all tensors to be on the same device, but found at least two "
                    f"devices, {x.device} and {v.device}! (when checking arguments for div)")
            v = v._data
        values.append(v)
    xp = x._backend.xp
    a, b = promote(values, ALL, x._backend, False)  # PyTorch's result dtype
    if not x._backend.is_array(a):
        a = xp.asarray(a)
    if a.dtype.kind in "iub" and a.size and bool(xp.any(b == 0)):
        raise RuntimeError(f"div: integer division by zero (rounding_mode={rounding_mode!r})")
    if rounding_mode == "floor":
        return Tensor._wrap(xp.floor_divide(a, b), x._backend)
    result = xp.trunc(a / b)
    return Tensor._wrap(result.astype(a.dtype) if a.dtype.kind in "iub" else result, x._backend)


divide = true_divide = div


def floor_divide(input: Any, other: Any) -> Tensor:
    return div(input, other, rounding_mode="floor")


def remainder(input: Any, other: Any) -> Tensor:
    """Python's ``%`` (the sign of ``other``); the gradient is 1 to ``input`` and
    ``-floor(input / other)`` to ``other``, as in PyTorch."""
    if isinstance(input, Number) and isinstance(other, Tensor):  # a number stays a number
        return input - floor_divide(input, other) * other
    x = as_tensor(input, other if isinstance(other, Tensor) else None)
    return x - floor_divide(x, other) * other


def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent`` in PyTorch's dtypes, where NumPy would give int8 for bools: a
    bool tensor to a bool power stays bool (``x ** True`` is ``x``, ``x ** False`` all
    True), to an int power it is int64."""
    if isinstance(input, Tensor) and input.dtype == bool and isinstance(exponent, Number):
        if isinstance(exponent, bool):
            return ops.logical_or(input, not exponent)
        input = input.to(result_type([input._data, exponent]))
    return ops.power(input, exponent)


def neg(input: Any) -> Tensor:
    return ops.negative(as_tensor(input))


negative = neg


def _floats(name: str, input: Any, other: Any, integers_too: bool) -> tuple:
    """The two operands of a floating-point binary function, both tensors (a number is
    taken as ``tensor(number)``: PyTorch's functions take tensors only). Where their
    result type is not a float, integers become the default float dtype (``integers_too``,
    as PyTorch's ``atan2``) or are refused (as its ``hypot`` and ``logaddexp``)."""
    input = as_tensor(input)
    other = as_tensor(other, input)
    target = result_type([input._data, other._data])
    if target.kind in "fc":
        return input, other
    if not integers_too:
        raise TypeError(f"{name}: needs floating-point tensors, got {target}; convert with "
                        ".float() first")
    return input.to(get_default_dtype()), other.to(get_default_dtype())


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of the point (``other``, ``input``) in radians, in the right quadrant:
    ``atan(input / other)`` where ``other > 0``."""
    return ops.arctan2.binary(*_floats("atan2", input, other, True))


arctan2 = atan2


def hypot(input: Any, other: Any) -> Tensor:
    """``sqrt(input² + other²)`` without overflow in the squares."""
    return ops.hypot.binary(*_floats("hypot", input, other, False))


def logaddexp(input: Any, other: Any) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow in the exponentials."""
    return ops.logaddexp.binary(*_floats("logaddexp", input, other, False))


def square(input: Any) -> Tensor:
    x = as_tensor(input)
    if x.dtype == bool:  # PyTorch: the square of a bool tensor is int64
        x = x.to("int64")
    return x * x




def rsqrt(input: Any) -> Tensor:
    return ops.reciprocal(sqrt(input))


def log2(input: Any) -> Tensor:
    return log(input) * (1 / math.log(2))


def log10(input: Any) -> Tensor:
    return log(input) * (1 / math.log(10))


def exp2(input: Any) -> Tensor:
    return ops.exp(as_tensor(input) * math.log(2))


def trunc(input: Any) -> Tensor:
    return on_host("trunc", as_tensor(input))


fix = trunc


def round(input: Any, *, decimals: int = 0) -> Tensor:
    return on_host("round", as_tensor(input), as_int(decimals, "round: decimals"))


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:
    """Limit to [min, max]; bounds may be numbers or tensors (then elementwise: a bound
    takes the gradient where it wins, the input where it is inside, ties included, and a
    NaN bound gives NaN, as in PyTorch)."""
    x = as_tensor(input)
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, (Number, Tensor)):
            raise TypeError(f"clamp: min and max must be numbers or tensors, got {bound!r}")
    if x.dtype.kind == "c" or any(isinstance(b, complex) or isinstance(b, Tensor) and
                                  b.dtype.kind == "c" for b in (min, max)):
        raise TypeError("clamp: complex numbers have no order to clamp by")
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        if x.dtype.kind not in "fc" and (isinstance(min, float) or isinstance(max, float)):
            x = x.to(get_default_dtype())  # PyTorch: an int tensor clamped to 0.5 is float
        return ops.clip(x, min, max)
    if min is not None:
        x = ops.where(ops.logical_or(ops.less(x, min), ops.isnan(min)), min, x)
    if max is not None:
        x = ops.where(ops.logical_or(ops.greater(x, max), ops.isnan(max)), max, x)
    return x


clip = clamp


def clamp_min(input: Any, min: Any) -> Tensor:
    return clamp(input, min=min)


def clamp_max(input: Any, max: Any) -> Tensor:
    return clamp(input, max=max)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """``input + weight * (end - input)``."""
    x = as_tensor(input)
    return x + weight * (end - x)


def _floating(input: Any, dtype: Any) -> Tensor:
    """The input in ``dtype``, or in the default float dtype if it holds integers."""
    x = as_tensor(input) if dtype is None else as_tensor(input).to(as_dtype(dtype))
    return x if x.dtype.kind in "fc" else x.to(get_default_dtype())


def softmax(input: Any, dim: Any = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
    """Along ``dim`` (the last by default); integer input is computed in floats."""
    x = _floating(input, dtype)
    d = check_dim("softmax", pick("dim", dim, "axis", axis, -1 if dim is None else dim), x.ndim)
    if x.numel() == 0:
        return x
    axes = (d,) if x.ndim else None
    shifted = x - ops.max(x, axis=axes, keepdims=True).detach()
    e = ops.exp(shifted)
    return e / ops.sum(e, axis=axes, keepdims=True)


def log_softmax(input: Any, dim: Any = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
    x = _floating(input, dtype)
    d = check_dim("log_softmax", pick("dim", dim, "axis", axis, -1 if dim is None else dim),
                  x.ndim)
    if x.numel() == 0:
        return x
    return ops.log_softmax(x, axis=d if x.ndim else None)


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    x = as_tensor(input)
    other = as_tensor(other, x)
    if not (isinstance(rtol, Real) and isinstance(atol, Real) and rtol >= 0 and atol >= 0):
        raise ValueError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    return on_host("isclose", x, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input: Any, other: Any) -> bool:
    """True when both have the same shape and the same elements (PyTorch's ``equal``; the
    elementwise test is ``eq``)."""
    x, y = as_tensor(input), as_tensor(other)
    return tuple(x.shape) == tuple(y.shape) and bool(ops.equal(x, y).all().item())


def sign(input: Any) -> Tensor:
    """-1, 0 or 1 by the sign (0 for NaN, as PyTorch); a bool tensor is its own sign."""
    x = as_tensor(input)
    xp = x._backend.xp
    if x.dtype == bool:
        return Tensor._wrap(x._data.copy(), x._backend)
    if x.dtype.kind == "c":
        raise TypeError("sign: not defined for complex numbers; sgn gives z / |z|")
    signs = xp.sign(x._data)
    if x.dtype.kind == "f":
        signs = xp.where(xp.isnan(x._data), 0, signs).astype(x.dtype)
    return Tensor._wrap(signs, x._backend)


def sgn(input: Any) -> Tensor:
    """sign, extended to complex numbers as z / |z| (0 at 0)."""
    x = as_tensor(input)
    if x.dtype.kind != "c":
        return sign(x)
    xp = x._backend.xp
    size = xp.abs(x._data)
    return Tensor._wrap(xp.where(size == 0, 0, x._data / xp.where(size == 0, 1, size))
                        .astype(x.dtype), x._backend)


def _checked(op: str, a: Any, b: Any, ndims: tuple, what: str) -> tuple:
    """Both operands as tensors, after checking their numbers of dims (``what`` says the
    expectation in words)."""
    a, b = as_tensor(a), as_tensor(b)
    if (a.ndim, b.ndim) != ndims:
        raise ValueError(f"{op}: needs {what}, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return a, b


def mm(input: Any, mat2: Any) -> Tensor:
    return ops.matmul(*_checked("mm", input, mat2, (2, 2), "two matrices"))


def bmm(input: Any, mat2: Any) -> Tensor:
    a, b = _checked("bmm", input, mat2, (3, 3), "two 3-d tensors with the same batch size")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: needs two 3-d tensors with the same batch size, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return ops.matmul(a, b)


def dot(input: Any, other: Any) -> Tensor:
    return ops.matmul(*_checked("dot", input, other, (1, 1), "two 1-d tensors"))


def inner(input: Any, other: Any) -> Tensor:
    """Products summed over the last dim of both (a 0-d operand scales the other): the
    result has shape ``input.shape[:-1] + other.shape[:-1]``."""
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: the last dims must match, got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    n = a.shape[-1]
    rows, cols = math.prod(a.shape[:-1]), math.prod(b.shape[:-1])
    flat = ops.matmul(ops.reshape(a, (rows, n)), ops.transpose(ops.reshape(b, (cols, n))))
    return ops.reshape(flat, tuple(a.shape[:-1]) + tuple(b.shape[:-1]))


def mv(input: Any, vec: Any) -> Tensor:
    return ops.matmul(*_checked("mv", input, vec, (2, 1), "a matrix and a vector"))


def outer(input: Any, vec2: Any) -> Tensor:
    a, b = _checked("outer", input, vec2, (1, 1), "two 1-d tensors")
    return ops.reshape(a, (-1, 1)) * ops.reshape(b, (1, -1))


ger = outer


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * mat1 @ mat2`` (one node when beta = alpha = 1)."""
    for name, value in (("beta", beta), ("alpha", alpha)):
        if not isinstance(value, (Number, Tensor)):
            raise TypeError(f"addmm: {name} must be a number, got {value!r}")
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if isinstance(m, Tensor) and m.ndim != 2:  # matmul below would take vectors too
            raise ValueError(f"addmm: {name} must be a matrix, got a {m.ndim}-d tensor of "
                             f"shape {tuple(m.shape)}")
    if beta == 1 and alpha == 1:
        return ops.addmm(input, mat1, mat2)
    return ops.add(ops.multiply(input, beta), ops.multiply(ops.matmul(mat1, mat2), alpha))


def einsum(equation: str, *operands: Any) -> Tensor:
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return ops.einsum(equation, *[as_tensor(o) for o in operands])


def _comparison(op: Any) -> Any:
    """``op`` on two tensors in their promoted dtype, as PyTorch compares: a float32 tensor
    against a 0-d float64 one compares float32 values (NumPy would widen both to float64)."""
    def apply(input: Any, other: Any) -> Tensor:
        if isinstance(input, Tensor) and isinstance(other, Tensor) and \
                input.dtype != other.dtype:
            target = result_type([input._data, other._data])
            input, other = input.to(target), other.to(target)
        return op(input, other)
    apply.__name__ = apply.__qualname__ = op.__name__
    apply.__doc__ = f"Elementwise ``{op.__name__}`` in the operands' promoted dtype (no gradient)."
    return apply


# comparisons under PyTorch's short names (no gradient)
eq, ne, lt, le, gt, ge = map(_comparison, (ops.equal, ops.not_equal, ops.less, ops.less_equal,
                                           ops.greater, ops.greater_equal))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_xor(input: Any, other: Any) -> Tensor:
    return ops.not_equal(as_tensor(input) != 0, as_tensor(other) != 0)


def _bitwise(name: str, op: Any) -> Any:
    """PyTorch's bitwise ``name`` on bool and integer tensors, in their promoted dtype (so
    ``bool | -1`` is int64 -1); logical for bools, as ``&``, ``|``, ``^`` are in PyTorch.
    A Python number stays a number, so it never raises a tensor's dtype (``int32 ^ -1`` is
    int32, also as ``-1 ^ int32``)."""
    def apply(input: Any, other: Any) -> Tensor:
        numbers = (bool, int, float, complex)
        x, y = (v if isinstance(v, numbers) else as_tensor(v) for v in (input, other))
        if not isinstance(x, Tensor) and not isinstance(y, Tensor):
            x = as_tensor(x)
        like = x if isinstance(x, Tensor) else y
        target = result_type([getattr(v, "_data", v) for v in (x, y)])
        for value in (x, y):
            kind = value.dtype.kind if isinstance(value, Tensor) else \
                "b" if isinstance(value, bool) else "i" if isinstance(value, int) else \
                "f" if isinstance(value, Real) else "c"
            if kind not in "biu":
                what = value.dtype if isinstance(value, Tensor) else type(value).__name__
                raise TypeError(f"{name}: defined for bool and integer tensors only, got {what}")
        return op(*(v.to(target) if isinstance(v, Tensor) else _wrapped_int(v, target, like)
                    for v in (x, y)))
    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"Elementwise ``{name}`` of bool or integer tensors (no gradient)."
    return apply


def _wrapped_int(value: Any, dtype: Any, like: Tensor) -> Tensor:
    """A Python int (or bool) in ``dtype``, wrapped into its range as PyTorch does
    (``uint8 & -1`` takes 255); one beyond int64 is refused."""
    array = like._backend.asarray(value, dtype="int64" if type(value) is int else dtype)
    return Tensor._wrap(array, like._backend).to(dtype)


bitwise_and = _bitwise("bitwise_and", ops.bitwise_and)
bitwise_or = _bitwise("bitwise_or", ops.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", ops.bitwise_xor)


def bitwise_not(input: Any) -> Tensor:
    """``~x``: logical not of a bool tensor, two's-complement not of an integer one."""
    x = as_tensor(input)
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: defined for bool and integer tensors only, got {x.dtype}")
    return ops.invert(x)


__all__ = [
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "arccos", "arcsin", "arctan", "cos",
    "cosh", "erf", "exp", "expm1", "log", "log1p", "sigmoid", "sin", "sinh", "sqrt", "tan", "tanh",
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "reciprocal", "pow", "neg", "negative", "atan2", "arctan2", "hypot", "logaddexp",
    "square", "rsqrt", "log2", "log10", "exp2", "trunc", "fix", "round", "clamp", "clip",
    "clamp_min", "clamp_max", "lerp", "softmax", "log_softmax", "isclose", "allclose", "equal",
    "sign", "sgn", "mm", "bmm", "dot", "inner", "mv", "outer", "ger", "addmm", "einsum", "eq",
    "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "logical_xor",
]
