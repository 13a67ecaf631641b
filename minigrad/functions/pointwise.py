"""Elementwise maths under PyTorch's names and keywords (``add(x, y, alpha=)``,
``div(rounding_mode=)``, ``clamp`` with tensor bounds, ``lerp``, ``softmax(dim)``)."""
from __future__ import annotations

import math
from typing import Any, Optional

from .. import ops
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from .arguments import check_dim, pick
from .common import as_tensor, on_host


def _promoting(op: Any) -> Any:
    """``op`` on floats; an integer or bool tensor becomes the default float dtype first
    (PyTorch's rule: ``exp`` of an int64 tensor is float32; NumPy's integer reciprocal
    would even truncate 1/2 to 0)."""
    def apply(input: Any) -> Tensor:
        if type(input) is not Tensor or input._data.dtype.kind not in "fc":
            input = as_tensor(input)
            if input.dtype.kind not in "fc":
                input = input.to(get_default_dtype())
        return op(input)
    apply.__name__ = apply.__qualname__ = op.name
    apply.__doc__ = f"Elementwise ``{op.name}`` (integer input is computed in floats)."
    return apply


(arccos, arcsin, arctan, cos, cosh, erf, exp, expm1, log, log1p, reciprocal, sigmoid, sin, sinh,
 sqrt, tan, tanh) = map(_promoting, (
    ops.arccos, ops.arcsin, ops.arctan, ops.cos, ops.cosh, ops.erf, ops.exp, ops.expm1, ops.log,
    ops.log1p, ops.reciprocal, ops.sigmoid, ops.sin, ops.sinh, ops.sqrt, ops.tan, ops.tanh))


def _scaled(other: Any, alpha: Any) -> Any:
    return other if alpha == 1 else other * alpha


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other``."""
    return ops.add(input, _scaled(other, alpha))


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other``."""
    return ops.subtract(input, _scaled(other, alpha))


subtract = sub


def mul(input: Any, other: Any) -> Tensor:
    return ops.multiply(input, other)


multiply = mul


def div(input: Any, other: Any, *, rounding_mode: Optional[str] = None) -> Tensor:
    """True division, or rounded toward zero ('trunc') / down ('floor'): the rounded forms
    carry no gradient, as in PyTorch."""
    if rounding_mode is None:
        return ops.divide(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    x = as_tensor(input)
    other = other._data if isinstance(other, Tensor) else other
    xp = x._backend.xp
    if rounding_mode == "floor":
        return Tensor._wrap(xp.floor_divide(x._data, other), x._backend)
    quotient = x._data / other
    result = xp.trunc(quotient)
    if x.dtype.kind in "iu" and (not hasattr(other, "dtype") or other.dtype.kind in "iu"):
        result = result.astype(x.dtype)
    return Tensor._wrap(result, x._backend)


divide = true_divide = div


def floor_divide(input: Any, other: Any) -> Tensor:
    return div(input, other, rounding_mode="floor")


def remainder(input: Any, other: Any) -> Tensor:
    """Python's ``%`` (the sign of ``other``); the gradient is 1 to ``input`` and
    ``-floor(input / other)`` to ``other``, as in PyTorch."""
    x = as_tensor(input, other if isinstance(other, Tensor) else None)
    return x - floor_divide(x, other) * other


def pow(input: Any, exponent: Any) -> Tensor:
    return ops.power(input, exponent)


def neg(input: Any) -> Tensor:
    return ops.negative(as_tensor(input))


negative = neg


def square(input: Any) -> Tensor:
    x = as_tensor(input)
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
    return on_host("round", as_tensor(input), decimals)


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:
    """Limit to [min, max]; bounds may be numbers or tensors (then elementwise)."""
    x = as_tensor(input)
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        if x.dtype.kind not in "fc" and (isinstance(min, float) or isinstance(max, float)):
            x = x.to(get_default_dtype())  # PyTorch: an int tensor clamped to 0.5 is float
        return ops.clip(x, min, max)
    if min is not None:
        x = ops.maximum(x, min)
    if max is not None:
        x = ops.minimum(x, max)
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


def softmax(input: Any, dim: Any = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
    x = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    d = check_dim("softmax", pick("dim", dim, "axis", axis, -1 if dim is None else dim), x.ndim)
    shifted = x - ops.max(x, axis=(d,), keepdims=True).detach()
    e = ops.exp(shifted)
    return e / ops.sum(e, axis=(d,), keepdims=True)


def log_softmax(input: Any, dim: Any = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
    x = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    d = check_dim("log_softmax", pick("dim", dim, "axis", axis, -1 if dim is None else dim),
                  x.ndim)
    return x - ops.logsumexp(x, axis=(d,), keepdims=True)


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    x = as_tensor(input)
    other = as_tensor(other, x)
    return on_host("isclose", x, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input: Any, other: Any) -> bool:
    """True when both have the same shape and the same elements (PyTorch's ``equal``; the
    elementwise test is ``eq``)."""
    x, y = as_tensor(input), as_tensor(other)
    return tuple(x.shape) == tuple(y.shape) and bool(ops.equal(x, y).all().item())


def sgn(input: Any) -> Tensor:
    return ops.sign(as_tensor(input))


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


inner = dot


def mv(input: Any, vec: Any) -> Tensor:
    return ops.matmul(*_checked("mv", input, vec, (2, 1), "a matrix and a vector"))


def outer(input: Any, vec2: Any) -> Tensor:
    a, b = _checked("outer", input, vec2, (1, 1), "two 1-d tensors")
    return ops.reshape(a, (-1, 1)) * ops.reshape(b, (1, -1))


ger = outer


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * mat1 @ mat2`` (one node when beta = alpha = 1)."""
    if beta == 1 and alpha == 1:
        return ops.addmm(input, mat1, mat2)
    return input * beta + ops.matmul(mat1, mat2) * alpha


def einsum(equation: str, *operands: Any) -> Tensor:
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return ops.einsum(equation, *[as_tensor(o) for o in operands])


# comparisons and logic under PyTorch's short names (no gradient)
eq, ne, lt, le, gt, ge = (ops.equal, ops.not_equal, ops.less, ops.less_equal, ops.greater,
                          ops.greater_equal)
greater, greater_equal, less, less_equal, not_equal = (
    ops.greater, ops.greater_equal, ops.less, ops.less_equal, ops.not_equal)


def logical_xor(input: Any, other: Any) -> Tensor:
    return ops.not_equal(as_tensor(input) != 0, as_tensor(other) != 0)


__all__ = [
    "arccos", "arcsin", "arctan", "cos", "cosh", "erf", "exp", "expm1", "log", "log1p",
    "sigmoid", "sin", "sinh", "sqrt", "tan", "tanh", "add", "sub", "subtract", "mul",
    "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "reciprocal",
    "pow", "neg", "negative", "square", "rsqrt", "log2", "log10", "exp2", "trunc", "fix",
    "round", "clamp", "clip", "clamp_min", "clamp_max", "lerp", "softmax", "log_softmax",
    "isclose", "allclose", "equal", "sgn", "mm", "bmm", "dot", "inner", "mv", "outer",
    "ger", "addmm", "einsum", "eq", "ne", "lt", "le", "gt", "ge", "greater",
    "greater_equal", "less", "less_equal", "not_equal", "logical_xor",
]
