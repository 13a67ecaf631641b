"""Tensor methods, bound from one table to the public functions (``x.f(...)`` is
``mg.f(x, ...)``), plus their in-place ``f_`` forms.

In-place methods follow PyTorch's rules: on a leaf that requires grad they are refused
while recording (wrap optimizer updates in ``mg.no_grad()``); where nothing needs a
gradient they write into the tensor's memory and stamp the write, so a value saved for
backward and changed afterwards is reported; on a tensor that is part of a graph the
tensor takes the recorded result as its new value (views taken from it earlier keep the
old values: the one deliberate difference from PyTorch here, see the README).
"""
from __future__ import annotations

import inspect
import math
from numbers import Number, Real
from typing import Any, Callable

import numpy

from . import creation, functions, grad_mode, primitive
from .functions.arguments import check_cut_dim, check_dim, reported, shape_args
from .functions.common import as_tensor
from .size import Size
from .tensor import Tensor, as_dtype

# x.name(*args) -> functions.name(x, *args): the functions take the tensor first.
SAME_AS_FUNCTION = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "remainder", "pow", "neg", "negative", "matmul", "mm", "bmm", "dot", "mv",
    "outer",
    "abs", "absolute", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt",
    "rsqrt", "reciprocal", "square", "sin", "cos", "tan", "atan", "arctan", "asin", "arcsin",
    "acos", "arccos", "sinh", "cosh", "tanh", "sigmoid", "relu", "erf", "sign", "sgn",
    "floor", "ceil", "round", "trunc", "fix", "clamp", "clip", "clamp_min", "clamp_max",
    "lerp", "maximum", "minimum", "atan2", "arctan2", "hypot", "logaddexp", "softmax",
    "log_softmax", "isnan", "isinf", "isfinite",
    "isclose", "allclose", "equal", "eq", "ne", "lt", "le", "gt", "ge", "greater",
    "greater_equal", "less", "less_equal", "not_equal", "logical_and", "logical_or",
    "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "sum", "mean", "prod", "amax", "amin", "max", "min", "var", "std", "logsumexp", "norm",
    "argmax", "argmin", "all", "any", "count_nonzero", "cumsum", "cumprod",
    "transpose", "swapaxes", "swapdims", "t", "flatten", "unflatten", "squeeze", "unsqueeze",
    "movedim", "moveaxis", "narrow", "select", "split", "tensor_split", "chunk", "unbind",
    "broadcast_to", "repeat_interleave", "roll", "tril", "triu", "diagonal", "view_as",
    "reshape_as", "expand_as", "contiguous", "take_along_dim", "expand_dims",
    "gather", "scatter", "scatter_add", "index_select", "index_add", "index_fill",
    "masked_fill", "masked_select", "nonzero", "argwhere", "sort", "argsort", "topk",
    "kthvalue", "median", "nanmedian", "quantile", "nanquantile", "msort", "isin", "addmm",
    "diag", "dist",
)

# Methods whose sizes/dims may come as varargs: x.view(2, 3) or x.view((2, 3)).
VARARG_SHAPES = ("reshape", "view", "permute", "expand", "repeat", "flip")

# In-place forms: x.f_(...) writes functions.f(x, ...) into x.
IN_PLACE = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
    "remainder", "neg", "negative", "abs", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt",
    "reciprocal",
    "square", "sin", "cos", "tanh", "sigmoid", "relu", "sign", "floor", "ceil", "round",
    "trunc", "clamp", "clip", "clamp_min", "clamp_max", "lerp", "masked_fill", "scatter",
    "scatter_add", "index_fill", "index_add", "tril", "triu", "atan2", "arctan2", "hypot",
)


def _bind(name: str, fn: Callable) -> Callable:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = fn.__doc__
    return method


def _bind_varargs(name: str, fn: Callable) -> Callable:
    def method(self: Tensor, *sizes: Any, **keyword: Any) -> Any:  # keyword: shape=, dims=
        return fn(self, shape_args(name, sizes), **keyword) if sizes else fn(self, **keyword)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = fn.__doc__
    return method


def _write_result(self: Tensor, result: Tensor, name: str) -> Tensor:
    """Put ``result`` into ``self``: in memory when no gradient is involved, else as
    ``self``'s new recorded value."""
    if tuple(result.shape) != tuple(self.shape):
        raise ValueError(f"{name}: the result has shape {tuple(result.shape)}, which does not "
                         f"fit the in-place target of shape {tuple(self.shape)}")
    if result.dtype != self.dtype:
        if not numpy.can_cast(result.dtype, self.dtype, "same_kind"):
            raise TypeError(f"{name}: result dtype {result.dtype} can't be cast to the in-place "
                            f"target's dtype {self.dtype}")
        result = result.astype(self.dtype)
    if result._node is None and self._node is not None and grad_mode._mode.enabled:
        # New values that do not depend on the old ones (a fill, a rounding, a copy of a
        # constant): the tensor stays in the graph, its past receiving a zero gradient.
        everywhere = Tensor._wrap(self._backend.xp.ones(self.shape, dtype=bool), self._backend)
        result = functions.where(everywhere, result, self)
    if result._node is not None:
        self._data, self._node = result._data, result._node
        self._requires_grad = True
        self._version = next(primitive.clock)
        return self
    self._data[...] = result._data
    self._mark_modified()
    return self


def in_place(name: str, compute: Callable) -> Callable:
    """The in-place method ``name`` that writes ``compute(self, ...)`` into ``self``."""
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if grad_mode._mode.enabled and self._requires_grad and self._node is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is being used in an in-place "
                "operation; wrap the update in `with mg.no_grad():` (or update .data)")
        return _write_result(self, compute(self, *args, **kwargs), name)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place :func:`{name.rstrip('_')}`."
    return reported(method, name.rstrip("_"))  # errors name it (or its function)


# -- methods whose arguments differ from a function's -----------------------------------

def size(self: Tensor, dim: Any = None) -> Any:
    """The shape as ``mg.Size``, or the size of one dim."""
    if dim is None:
        return Size(self._data.shape)
    return self._data.shape[check_cut_dim("size", dim, self.ndim)]


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``, or keywords
    ``device=`` / ``dtype=`` (``non_blocking`` and ``copy`` are accepted). A number as
    ``other`` is a 0-d tensor, as PyTorch wraps it: ``to(1.5)`` is ``to(float64)``."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg._backend, arg.dtype
        elif _is_device(arg):
            device = arg
        elif isinstance(arg, (bool, float, complex)):  # PyTorch: a number is a 0-d other
            dtype = "bool" if isinstance(arg, bool) else \
                "float64" if isinstance(arg, float) else "complex128"
        elif arg is not None:
            dtype = arg
    if dtype is not None and as_dtype(dtype).kind not in "biufc":
        raise TypeError(f"to: expected a device or a number dtype, got {dtype!r}")
    out = self
    if device is not None:
        out = out._to_device(device)
    if dtype is not None:
        out = _astype(out, dtype)
    return out.clone() if copy and out is self else out


def _is_device(arg: Any) -> bool:
    from .backends import ArrayBackend, get_backend
    if isinstance(arg, ArrayBackend):
        return True
    if not isinstance(arg, str):
        return False
    try:
        get_backend(arg)
        return True
    except ValueError:
        return False


def type_(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """With no argument, the type's name (as 'minigrad.FloatTensor', on a GPU
    'minigrad.cuda.FloatTensor', as PyTorch names them); else a cast."""
    if dtype is None:
        where = "minigrad.cuda" if self.is_cuda else "minigrad"
        return f"{where}.{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        names = {v: k for k, v in _TYPE_NAMES.items()}
        dtype = names[dtype.rsplit(".", 1)[-1]]
    return _astype(self, dtype)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def type_as(self: Tensor, other: Tensor) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as: other must be a Tensor, got {type(other).__name__}")
    return _astype(self, other.dtype)


def _astype(x: Tensor, dtype: Any) -> Tensor:
    """A cast; its result carries no gradient unless it is floating point (PyTorch's rule)."""
    out = x.astype(dtype)
    return out if out._node is None or out.dtype.kind in "fc" else out.detach()


def where(self: Tensor, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, y)`` is ``mg.where(condition, x, y)``."""
    return functions.where(condition, self, other)


def _new_factory(fill: Callable) -> Callable:
    def method(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, **kwargs: Any) -> Tensor:
        return fill(shape_args("new", size), dtype=self.dtype if dtype is None else dtype,
                    device=self._backend if device is None else device,
                    requires_grad=requires_grad, **kwargs)
    method.__name__ = method.__qualname__ = "new_" + fill.__name__
    return method


def new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    return creation.full(shape_args("new_full", (size,)), fill_value,
                         dtype=self.dtype if dtype is None else dtype,
                         device=self._backend if device is None else device,
                         requires_grad=requires_grad)


def new_tensor(self: Tensor, data: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    from .tensor import tensor
    source = data.detach() if isinstance(data, Tensor) else data
    return tensor(source, dtype=self.dtype if dtype is None else dtype,
                  device=self._backend if device is None else device,
                  requires_grad=requires_grad)


def _filled(x: Tensor, value: Any) -> Tensor:
    """A tensor of ``x``'s shape holding ``value``: a number is cast to ``x``'s dtype (as
    PyTorch's fill_), a 0-d tensor value stays differentiable."""
    xp = x._backend.xp
    if not isinstance(value, Tensor):
        if not isinstance(value, Number):
            raise TypeError(f"fill_: value must be a number or a 0-d tensor, got {value!r}")
        return Tensor._wrap(xp.full(x.shape, value, dtype=x.dtype), x._backend)
    return functions.where(Tensor._wrap(xp.ones(x.shape, dtype=bool), x._backend), value, x)


def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to ``value`` (a number or a 0-d tensor)."""
    return in_place("fill_", _filled)(self, value)


def zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to this shape, cast to this dtype, moved to this device)."""
    def compute(x: Tensor, s: Any) -> Tensor:
        s = as_tensor(s)
        s = s._to_device(x._backend).astype(x.dtype)
        return functions.broadcast_to(s, tuple(x.shape)) if tuple(s.shape) != tuple(x.shape) \
            else (s if s._node is not None else s.clone())
    return in_place("copy_", compute)(self, src)


def _random_fill(name: str, draw: Callable) -> Callable:
    """A method filling the tensor with samples (never recorded: drawn under no_grad)."""
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if grad_mode._mode.enabled and self._requires_grad and self._node is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is being used in an in-place "
                "operation; wrap the update in `with mg.no_grad():` (or update .data)")
        if self.dtype.kind not in "fc" and name != "bernoulli_":
            raise TypeError(f"{name} needs a floating point tensor, got dtype {self.dtype}")
        b = self._backend
        with grad_mode.no_grad():
            sample = draw(b, tuple(self.shape), self.dtype if self.dtype.kind == "f"
                          else numpy.dtype("float64"), *args, **kwargs)
        return _write_result(self, Tensor._wrap(sample.astype(self.dtype, copy=False), b), name)
    method.__name__ = method.__qualname__ = name
    return method


def _number(name: str, what: str, value: Any) -> Any:
    if not isinstance(value, Real):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}")
    return value


def _uniform(b: Any, shape: tuple, dtype: Any, a: float = 0.0, b_: float = 1.0,
             **kw: Any) -> Any:
    low, high = kw.pop("from", a), kw.pop("to", b_)
    low, high = _number("uniform_", "from", low), _number("uniform_", "to", high)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"uniform_: needs finite from <= to, got from={low}, to={high}")
    largest = float(numpy.finfo(dtype).max)  # PyTorch's bounds: the draws must fit dtype
    if max(abs(low), abs(high)) > largest or high - low > largest:
        raise ValueError(f"uniform_: from={low} and to={high} (and to - from) must be within "
                         f"{dtype}'s range, up to {largest:g}")
    return b.random(shape, dtype) * (high - low) + low


def _normal(b: Any, shape: tuple, dtype: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    if not _number("normal_", "std", std) >= 0:
        raise ValueError(f"normal_: needs std >= 0, got {std}")
    return b.randn(shape, dtype) * std + _number("normal_", "mean", mean)


def _bernoulli(b: Any, shape: tuple, dtype: Any, p: Any = 0.5) -> Any:
    if isinstance(p, Tensor):
        p = p._data
    elif not 0 <= _number("bernoulli_", "p", p) <= 1:
        raise ValueError(f"bernoulli_: p must be in [0, 1], got {p}")
    return (b.random(shape, dtype) < p).astype(dtype)


def _exponential(b: Any, shape: tuple, dtype: Any, lambd: float = 1.0) -> Any:
    if not _number("exponential_", "lambd", lambd) > 0:
        raise ValueError(f"exponential_: lambd must be > 0, got {lambd}")
    return -b.xp.log1p(-b.random(shape, dtype)) / lambd


def requires_grad_(self: Tensor, requires_grad: bool = True) -> Tensor:
    self.requires_grad = requires_grad
    return self


def _cast(dtype: str) -> Callable:
    def method(self: Tensor, memory_format: Any = None) -> Tensor:
        return _astype(self, as_dtype(dtype))
    method.__name__ = method.__qualname__ = {"float32": "float", "float64": "double",
                                            "float16": "half", "int64": "long",
                                            "int32": "int", "bool": "bool"}[dtype]
    return method


def element_size(self: Tensor) -> int:
    return self.dtype.itemsize


def _compare_with_objects(compare: Callable) -> Callable:
    """``x == None`` (or a dict, a string...) is Python's identity test, as in PyTorch:
    False for ``==``, True for ``!=`` (so ``None in [x]`` works)."""
    def method(self: Tensor, other: Any) -> Any:
        if isinstance(other, (Tensor, Number, list, tuple)) or hasattr(other, "dtype"):
            return compare(self, other)
        return NotImplemented
    method.__name__ = method.__qualname__ = compare.__name__
    return method


def _swapped(fn: Callable) -> Callable:
    """``other OP self`` for a reflected operator."""
    def method(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)
    method.__name__ = method.__qualname__ = fn.__name__
    return method


def bind_methods() -> None:
    """Attach every method above to Tensor (called once, when minigrad is imported)."""
    for name in SAME_AS_FUNCTION:
        fn = getattr(functions, name)  # a plain function binds as a method by itself
        setattr(Tensor, name, fn if inspect.isfunction(fn) else _bind(name, fn))
    for name in VARARG_SHAPES:
        setattr(Tensor, name, _bind_varargs(name, getattr(functions, name if name != "view"
                                                          else "reshape")))
    for name in IN_PLACE:
        if hasattr(functions, name):
            setattr(Tensor, name + "_", in_place(name + "_", getattr(functions, name)))
    for dtype in ("float32", "float64", "float16", "int64", "int32", "bool"):
        method = _cast(dtype)
        setattr(Tensor, method.__name__, method)
    extras = {
        "size": size, "to": to, "type": type_, "where": where, "type_as": type_as,
        "new_full": new_full,
        "new_tensor": new_tensor, "fill_": fill_, "zero_": zero_, "copy_": copy_,
        "requires_grad_": requires_grad_, "element_size": element_size,
        "new_zeros": _new_factory(creation.zeros), "new_ones": _new_factory(creation.ones),
        "new_empty": _new_factory(creation.empty),
        "uniform_": _random_fill("uniform_", _uniform),
        "normal_": _random_fill("normal_", _normal),
        "bernoulli_": _random_fill("bernoulli_", _bernoulli),
        "exponential_": _random_fill("exponential_", _exponential),
        "nelement": Tensor.numel, "ndimension": Tensor.dim,
    }
    for name, method in extras.items():
        setattr(Tensor, name, reported(method) if inspect.isfunction(method) else method)
    # errors of the core methods name them too (NumPy's, from indexing, included)
    Tensor.__setitem__ = reported(Tensor.__setitem__, "index")
    Tensor.__int__ = reported(Tensor.__int__, "item")
    Tensor.__eq__ = _compare_with_objects(functions.eq)
    Tensor.__ne__ = _compare_with_objects(functions.ne)
    Tensor.__lt__, Tensor.__le__ = functions.lt, functions.le
    Tensor.__gt__, Tensor.__ge__ = functions.gt, functions.ge
    Tensor.__pow__ = functions.pow
    Tensor.__rpow__ = _swapped(functions.pow)
    Tensor.astype = reported(Tensor.astype, "dtype")
    Tensor.__iadd__ = Tensor.add_
    Tensor.__isub__ = Tensor.sub_
    Tensor.__imul__ = Tensor.mul_
    Tensor.__itruediv__ = Tensor.div_
    Tensor.__floordiv__ = Tensor.floor_divide
    for op, fn in (("and", functions.bitwise_and), ("or", functions.bitwise_or),
                   ("xor", functions.bitwise_xor)):
        setattr(Tensor, f"__{op}__", fn)
        setattr(Tensor, f"__r{op}__", _swapped(fn))
        setattr(Tensor, f"__i{op}__", in_place(f"__i{op}__", fn))
    Tensor.__invert__ = functions.bitwise_not
    Tensor.__rfloordiv__ = _swapped(functions.floor_divide)
    Tensor.__mod__ = Tensor.remainder
    Tensor.__rmod__ = _swapped(functions.remainder)


__all__ = ["bind_methods", "in_place"]
