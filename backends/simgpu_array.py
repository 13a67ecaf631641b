"""A stand-in for CuPy's array module that runs on the CPU, with CuPy's rules.

NumPy does the arithmetic; what is simulated is what makes GPU code differ from CPU
code, so that code written against NumPy habits fails here as it would on a GPU:

- an array refuses implicit conversion to NumPy (``np.asarray(a)``, ``__array__``);
  ``.get()`` / ``asnumpy`` are the explicit ways, and they count as host syncs;
- NumPy arrays (even 0-d) and lists are refused as operands of operators and ufuncs,
  and a non-scalar host value is refused by ``a[i] = value`` (CuPy's messages);
- reductions and integer indexing give 0-d arrays (integer indexing a 0-d view);
- out-of-range integer-array indices wrap around instead of raising; a negative count
  given once to ``repeat`` is refused even for an empty array;
- a 0-d host value of -0.0 arrives on the device as +0.0 (CuPy fills it with a memset);
- only names CuPy's namespace has exist here, and ``linspace`` refuses complex bounds as
  CuPy's does; no floating-point warnings;
- a process forked after this module was loaded cannot use the device (CUDA's
  initialization error), as a child forked from a process that used CUDA cannot;
- every host synchronisation (``.item()``, ``float/int/bool``, ``.get()``, ``repr``,
  ``.tolist()``, boolean-mask indexing, ``nonzero`` and other data-sized results) is
  recorded by :mod:`host_sync` with its call site, and raises in strict mode
  (``MINIGRAD_SIMGPU_STRICT=1``).

``module`` is the fake ``cupy``; ``cupyx`` the few ``cupyx`` functions CuPy code uses.
"""
from __future__ import annotations

import functools
import math
import os
import types
from typing import Any, Callable

import numpy

from . import float_errors, host_sync

# -- floating-point warnings off, cheaply (a GPU sets no error flags) -------------------
_quiet = functools.partial(float_errors.ignoring, "all")


def _strict() -> bool:
    return os.environ.get("MINIGRAD_SIMGPU_STRICT", "") not in ("", "0")


_forked = False  # in a child forked after this module was loaded: no device here


def _lose_the_device() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_lose_the_device)


def _no_device_after_fork() -> None:
    if _forked:
        raise RuntimeError(
            "cudaErrorInitializationError: initialization error (simulated: a process forked "
            "from one that used the GPU cannot use it; keep a forked worker on the CPU)")


def sync(kind: str) -> None:
    """A host synchronisation of ``kind`` is about to happen: record it."""
    _no_device_after_fork()
    host_sync.record(kind, strict=_strict())


def _unsupported(obj: Any) -> TypeError:
    return TypeError(f"Unsupported type {type(obj)}")


_SCALARS = (bool, int, float, complex, numpy.generic)
_PRIORITY = 100  # CuPy's __array_priority__: a Tensor (1000) on the other side wins


# -- the array -----------------------------------------------------------------------
class ndarray:
    """A simulated device array: a NumPy array that behaves like ``cupy.ndarray``
    (NumPy's methods and operators are added below the class)."""

    __slots__ = ("_a", "_base", "__weakref__")
    __array_priority__ = _PRIORITY

    def __init__(self, shape: Any, dtype: Any = float) -> None:  # cupy.ndarray(shape)
        self._a = numpy.empty(shape, dtype)
        self._base = None

    # attributes
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    base = property(lambda self: self._base)
    device = property(lambda self: cuda.Device(0))
    T = property(lambda self: _view(self._a.T, self))
    mT = property(lambda self: _view(numpy.swapaxes(self._a, -1, -2), self))
    real = property(lambda self: _view(self._a.real, self))
    imag = property(lambda self: _view(self._a.imag, self))

    # explicit transfers and the host syncs
    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> numpy.ndarray:
        sync("get")
        if out is not None:
            out[...] = self._a
            return out
        return numpy.array(self._a, order=order, copy=True)

    def set(self, arr: numpy.ndarray, stream: Any = None) -> None:
        self._a[...] = arr  # host -> device copy: no sync

    def item(self, *args: Any) -> Any:
        sync("item")
        return self._a.item(*args)

    def tolist(self) -> Any:
        sync("tolist")
        return self._a.tolist()

    def tobytes(self, order: str = "C") -> bytes:
        sync("tobytes")
        return self._a.tobytes(order)

    def _scalar(self, kind: str, convert: Callable) -> Any:
        if self._a.size != 1:
            return convert(self._a)  # NumPy's own error for a non-scalar
        sync(kind)
        return convert(self._a)

    def __float__(self) -> float:
        return self._scalar("float()", float)

    def __int__(self) -> int:
        return self._scalar("int()", int)

    def __complex__(self) -> complex:
        return self._scalar("complex()", complex)

    def __bool__(self) -> bool:
        if self._a.size > 1:
            raise ValueError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        return self._scalar("bool()", bool)

    def __repr__(self) -> str:
        sync("repr")
        return repr(self._a)

    def __str__(self) -> str:
        sync("str")
        return str(self._a)

    def __format__(self, spec: str) -> str:
        sync("format")
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __reduce__(self) -> tuple:
        return (_from_host, (self.get(),))

    def __copy__(self) -> "ndarray":
        return _new(self._a.copy())

    def __deepcopy__(self, memo: dict) -> "ndarray":
        return _new(self._a.copy())

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        # The simulated memory is host memory, and says so: a consumer must not mistake it
        # for CUDA memory. Sharing it reads nothing back, so it is no sync.
        return self._a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple:
        return self._a.__dlpack_device__()

    # NumPy protocols: NumPy functions and ufuncs on these arrays run the simulated ones
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        fn = getattr(module, ufunc.__name__, None)
        if not isinstance(fn, _Ufunc):
            return NotImplemented
        if "out" in kwargs:
            kwargs["out"] = kwargs["out"][0]
        return fn(*inputs, **kwargs) if method == "__call__" else \
            getattr(fn, method)(*inputs, **kwargs)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        where = linalg if func.__module__.endswith("linalg") else module
        fn = getattr(where, func.__name__, None)
        return NotImplemented if fn is None else fn(*args, **kwargs)

    # container
    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __getitem__(self, key: Any) -> "ndarray":
        key, mask = _device_index(key, self._a.shape)
        if mask:
            sync("boolean-mask indexing")
        out = self._a[key]
        return _view(out, self) if out.base is not None and _is_basic(key) else _new(out)

    def __setitem__(self, key: Any, value: Any) -> None:
        key, _ = _device_index(key, self._a.shape)  # a mask write needs no sync
        self._a[key] = _fill_value(value)

    # shape and copies
    def reshape(self, *shape: Any, order: str = "C") -> "ndarray":
        return _view(self._a.reshape(*shape, order=order), self)

    def transpose(self, *axes: Any) -> "ndarray":
        return _view(self._a.transpose(*axes), self)

    def swapaxes(self, a: int, b: int) -> "ndarray":
        return _view(self._a.swapaxes(a, b), self)

    def squeeze(self, axis: Any = None) -> "ndarray":
        return _view(self._a.squeeze(axis), self)

    def ravel(self, order: str = "C") -> "ndarray":
        return _view(self._a.ravel(order), self)

    def view(self, *args: Any) -> "ndarray":
        return _view(self._a.view(*args), self)

    def diagonal(self, *args: Any, **kwargs: Any) -> "ndarray":
        return _view(self._a.diagonal(*args, **kwargs), self)

    def flatten(self, order: str = "C") -> "ndarray":
        return _new(self._a.flatten(order))

    def copy(self, order: str = "C") -> "ndarray":
        return _new(self._a.copy(order))

    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> "ndarray":
        out = self._a.astype(dtype, order=order, copy=copy)
        return self if out is self._a else _new(out)

    def fill(self, value: Any) -> None:
        self._a.fill(_fill_value(value))

    def nonzero(self) -> tuple:
        sync("nonzero")
        return tuple(_new(i) for i in self._a.nonzero())

    def sort(self, axis: int = -1, kind: Any = None) -> None:
        self._a.sort(axis=axis, kind=kind)

    # arithmetic, comparisons and NumPy's other methods: added below the class
    __hash__ = None  # type: ignore[assignment]

    def __divmod__(self, other: Any) -> tuple:
        return (self // other, self % other)

    def __neg__(self) -> "ndarray":
        return _new(_quiet(numpy.negative, self._a))

    def __pos__(self) -> "ndarray":
        return _new(self._a.copy())

    def __abs__(self) -> "ndarray":
        return _new(_quiet(numpy.absolute, self._a))

    def __invert__(self) -> "ndarray":
        return _new(numpy.invert(self._a))


def _method(name: str) -> Callable:
    """NumPy's method ``name``, its array results kept on the device."""
    def method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        return _wrap(_quiet(getattr(self._a, name), *_unwrap_all(args),
                            **_unwrap_kwargs(kwargs)), (self,))
    method.__name__ = name
    return method


def _operator(ufunc: Any, reflected: bool = False, inplace: bool = False) -> Callable:
    """``a + b`` and friends: the other operand must be a device array or a scalar."""
    def op(self: ndarray, other: Any) -> Any:
        o = _operand(other)
        if o is NotImplemented:
            return NotImplemented
        if inplace:
            _quiet(ufunc, self._a, o, out=self._a)
            return self
        return _new(_quiet(ufunc, o, self._a) if reflected else _quiet(ufunc, self._a, o))
    return op


for _name in ("sum", "mean", "var", "std", "prod", "max", "min", "argmax", "argmin", "all",
              "any", "cumsum", "cumprod", "ptp", "clip", "dot", "round", "conj", "conjugate",
              "take", "argsort", "searchsorted", "trace", "partition",
              "argpartition", "choose", "compress", "put"):
    setattr(ndarray, _name, _method(_name))
for _name, _ufunc in (("add", numpy.add), ("sub", numpy.subtract), ("mul", numpy.multiply),
                      ("truediv", numpy.true_divide), ("floordiv", numpy.floor_divide),
                      ("mod", numpy.remainder), ("pow", numpy.power), ("matmul", numpy.matmul),
                      ("and", numpy.bitwise_and), ("or", numpy.bitwise_or),
                      ("xor", numpy.bitwise_xor), ("lshift", numpy.left_shift),
                      ("rshift", numpy.right_shift)):
    setattr(ndarray, f"__{_name}__", _operator(_ufunc))
    setattr(ndarray, f"__r{_name}__", _operator(_ufunc, reflected=True))
    setattr(ndarray, f"__i{_name}__", _operator(_ufunc, inplace=True))
for _name, _ufunc in (("lt", numpy.less), ("le", numpy.less_equal), ("gt", numpy.greater),
                      ("ge", numpy.greater_equal), ("eq", numpy.equal),
                      ("ne", numpy.not_equal)):
    setattr(ndarray, f"__{_name}__", _operator(_ufunc))
del _name, _ufunc


# -- wrapping and unwrapping -------------------------------------------------------------
def _new(array: Any, base: Any = None) -> ndarray:
    """Wrap a NumPy result (a NumPy scalar becomes a 0-d array, as on CuPy)."""
    _no_device_after_fork()
    out = object.__new__(ndarray)
    out._a = array if type(array) is numpy.ndarray else numpy.asarray(array)
    out._base = base
    return out


def _view(array: numpy.ndarray, of: ndarray) -> ndarray:
    """Wrap a view of ``of``'s memory: its ``base`` is the array that owns the memory."""
    if array.base is None and array is not of._a:
        return _new(array)  # NumPy had to copy
    return _new(array, of._base if of._base is not None else of)


def _from_host(array: numpy.ndarray) -> ndarray:
    return _new(numpy.array(array, copy=True))


def _wrap(result: Any, sources: Any = ()) -> Any:
    """Wrap NumPy results (also inside tuples and lists); a result that views the memory
    of one of the device arrays in ``sources`` gets that memory's owner as its base."""
    if isinstance(result, numpy.ndarray):
        owner = result.base
        if owner is not None:
            for s in sources:
                if type(s) is ndarray and (s._a is owner or s._a.base is owner):
                    return _new(result, s._base if s._base is not None else s)
        return _new(result)
    if isinstance(result, numpy.generic):
        return _new(result)
    if isinstance(result, tuple):
        return tuple(_wrap(r, sources) for r in result)
    if isinstance(result, list):
        return [_wrap(r, sources) for r in result]
    return result


def _operand(x: Any) -> Any:
    """An operand of an operator or ufunc: a device array or a scalar, as CuPy allows."""
    if type(x) is ndarray:
        return x._a
    if isinstance(x, _SCALARS):
        return x
    if getattr(x, "__array_priority__", 0) > _PRIORITY and not isinstance(x, numpy.ndarray):
        return NotImplemented  # e.g. a minigrad Tensor: its reflected operator takes over
    if x is None:
        return NotImplemented
    raise _unsupported(x)


def _unwrap(x: Any) -> Any:
    """An argument of a (non-ufunc) function: device arrays unwrapped, host arrays refused."""
    t = type(x)
    if t is ndarray:
        return x._a
    if t is list or t is tuple:
        return t(_unwrap(i) for i in x)
    if isinstance(x, numpy.ndarray):
        raise _unsupported(x)
    return x


def _unwrap_all(args: tuple) -> list:
    return [_unwrap(a) for a in args]


def _unwrap_kwargs(kwargs: dict) -> dict:
    return {k: _unwrap(v) for k, v in kwargs.items()}


def _fill_value(value: Any) -> Any:
    """The right-hand side of ``a[i] = value``: a device array or a host scalar."""
    if type(value) is ndarray:
        return value._a
    if isinstance(value, _SCALARS):
        return value
    host = numpy.asarray(value)
    if host.shape != ():
        raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
    return host[()]


def _is_basic(key: tuple) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice, numpy.integer))
               for k in key)


def _device_index(key: Any, shape: tuple) -> tuple:
    """(NumPy index, has a boolean mask) for ``key``. Integer arrays wrap around the axis
    they index (CuPy's rule: no bounds check on the device); a pure-integer index gets a
    trailing ``...`` so that it selects a 0-d view, not a copied scalar."""
    items = key if type(key) is tuple else (key,)
    items = tuple(_index_item(k) for k in items)
    if all(isinstance(k, (int, numpy.integer)) and not isinstance(k, bool) for k in items):
        return items + (Ellipsis,), False
    consumed = sum(k.ndim if _is_mask(k) else 1 for k in items
                   if k is not None and k is not Ellipsis)
    out, axis, mask = [], 0, False
    for k in items:
        if k is Ellipsis:
            axis += len(shape) - consumed
        elif k is None:
            pass
        elif isinstance(k, numpy.ndarray) and k.dtype.kind == "b":
            mask = mask or k.ndim > 0
            axis += k.ndim
        elif isinstance(k, numpy.ndarray):
            if axis < len(shape) and shape[axis] > 0 and k.dtype.kind in "iu":
                k = numpy.mod(k, shape[axis])
            axis += 1
        else:
            axis += 1
        out.append(k)
    return tuple(out), mask


def _is_mask(k: Any) -> bool:
    return isinstance(k, numpy.ndarray) and k.dtype.kind == "b"


def _index_item(k: Any) -> Any:
    """One item of an index: device arrays unwrapped; host lists and arrays are uploaded
    (CuPy accepts them in an index); bools stay Python bools."""
    if type(k) is ndarray:
        return k._a
    if isinstance(k, (list, numpy.ndarray)):
        return numpy.asarray(k)
    return k


# -- ufuncs --------------------------------------------------------------------------------
class _Ufunc:
    """A ufunc whose operands must be device arrays or scalars."""

    def __init__(self, ufunc: Any) -> None:
        self._u = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout, self.nargs = ufunc.nin, ufunc.nout, ufunc.nargs

    def __repr__(self) -> str:
        return f"<simulated cupy ufunc {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ops = []
        for a in args:
            o = _operand(a)
            if o is NotImplemented:
                raise _unsupported(a)
            ops.append(o)
        out = kwargs.get("out")
        if out is not None:
            if isinstance(out, tuple):
                out = out[0]
            if type(out) is not ndarray:
                raise TypeError("out must be a cupy.ndarray")
            kwargs["out"] = out._a
            _quiet(self._u, *ops, **kwargs)
            return out
        return _wrap(_quiet(self._u, *ops, **kwargs))

    def at(self, a: ndarray, indices: Any, b: Any = None) -> None:
        key, _ = _device_index(indices, a._a.shape)
        _quiet(self._u.at, a._a, key, *(() if b is None else (_operand(b),)))

    def _method(self, name: str, array: Any, *args: Any, **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        result = _wrap(_quiet(getattr(self._u, name), _operand(array),
                              *_unwrap_all(args), **_unwrap_kwargs(kwargs)))
        if out is None:
            return result
        out._a[...] = result._a
        return out

    def reduce(self, array: Any, *args: Any, **kwargs: Any) -> Any:
        return self._method("reduce", array, *args, **kwargs)

    def accumulate(self, array: Any, *args: Any, **kwargs: Any) -> Any:
        return self._method("accumulate", array, *args, **kwargs)

    def reduceat(self, array: Any, *args: Any, **kwargs: Any) -> Any:
        return self._method("reduceat", array, *args, **kwargs)

    def outer(self, a: Any, b: Any, **kwargs: Any) -> Any:
        return _wrap(_quiet(self._u.outer, _operand(a), _operand(b), **kwargs))


# -- module functions ----------------------------------------------------------------------
def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    """A device array from device or host data (host data is copied to the device)."""
    if type(a) is ndarray:
        return a if dtype is None or numpy.dtype(dtype) == a.dtype else a.astype(dtype)
    return _upload(numpy.array(_unwrap_host(a), dtype=dtype, order=order or "K", copy=True))


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K",
          subok: bool = False, ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    if type(obj) is ndarray:
        out = obj._a.astype(dtype if dtype is not None else obj.dtype, copy=copy)
        out = out.reshape((1,) * (ndmin - out.ndim) + out.shape) if out.ndim < ndmin else out
        return obj if out is obj._a else _new(out)
    return _upload(numpy.array(_unwrap_host(obj), dtype=dtype, order=order, copy=True,
                               ndmin=ndmin))


def _upload(host: numpy.ndarray) -> ndarray:
    """A host array copied to the device. CuPy fills a 0-d one instead, with a memset when
    its value is 0: a negative zero arrives as +0."""
    if host.ndim == 0 and host.dtype.kind in "fc" and host == 0:
        host[()] = 0
    return _new(host)


def _unwrap_host(obj: Any) -> Any:
    """Host data for a transfer: nested lists may hold device arrays (CuPy allows it)."""
    if type(obj) is ndarray:
        return obj._a
    if type(obj) in (list, tuple):
        return type(obj)(_unwrap_host(i) for i in obj)
    return obj


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None,
            *, blocking: bool = True) -> numpy.ndarray:
    """Copy to the host: a synchronisation (unless it already is a host array)."""
    if type(a) is ndarray:
        return a.get(order=order, out=out)
    return numpy.asarray(a, order=order)


def get_array_module(*args: Any) -> Any:
    return module if any(type(a) is ndarray for a in args) else numpy


def _function(name: str, fn: Callable) -> Callable:
    """A NumPy function under CuPy's rules: host arrays refused, results on the device."""
    syncs = name in _DATA_SIZED
    to_array = name in _ARRAY_RESULTS

    def simulated(*args: Any, **kwargs: Any) -> Any:
        if syncs and not (name == "where" and len(args) + len(kwargs) > 1):
            sync(name)
        out = _quiet(fn, *_unwrap_all(args), **_unwrap_kwargs(kwargs))
        if to_array:
            return _new(numpy.asarray(out))
        return _wrap(out, args[0] if args and type(args[0]) is list else args)

    simulated.__name__ = simulated.__qualname__ = name
    simulated.__doc__ = f"Simulated ``cupy.{name}`` (NumPy's, under CuPy's rules)."
    return simulated


def _plain(fn: Callable) -> Callable:
    """A NumPy helper about dtypes and shapes (``result_type``...): device arrays unwrapped."""
    def helper(*args: Any, **kwargs: Any) -> Any:
        return fn(*_unwrap_all(args), **_unwrap_kwargs(kwargs))
    helper.__name__ = helper.__qualname__ = fn.__name__
    return helper


# Functions whose result's size depends on the data: the host has to wait to learn it.
_DATA_SIZED = frozenset(
    "nonzero argwhere flatnonzero unique unique_all unique_counts unique_inverse "
    "unique_values extract bincount trim_zeros where array2string array_repr array_str "
    "save savez savez_compressed savetxt".split())
# Functions for which NumPy returns a Python bool or int and CuPy a 0-d array.
_ARRAY_RESULTS = frozenset("array_equal array_equiv allclose count_nonzero".split())
# Names of the CuPy namespace that are no array function (types, constants, helpers):
# taken from NumPy as CuPy takes them.
_PLAIN = frozenset(
    "e euler_gamma inf nan newaxis pi dtype finfo iinfo can_cast common_type result_type "
    "promote_types min_scalar_type issubdtype isdtype isscalar ndim shape size "
    "broadcast_shapes iscomplexobj isrealobj binary_repr base_repr format_float_positional "
    "format_float_scientific ndindex index_exp s_ c_ r_ ix_ mgrid ogrid printoptions "
    "get_printoptions set_printoptions may_share_memory shares_memory".split())
_SCALAR_TYPES = frozenset(
    "generic number integer signedinteger unsignedinteger inexact floating complexfloating "
    "bool_ bool byte short intc int_ long longlong intp int8 int16 int32 int64 ubyte "
    "ushort uintc uint ulong ulonglong uintp uint8 uint16 uint32 uint64 half single double "
    "float_ float16 float32 float64 csingle cdouble complex_ complex64 complex128 "
    "singlecomplex cfloat".split())
# The array functions of CuPy's top-level namespace (CuPy 14's ``cupy/__init__.py``).
_CUPY_FUNCTIONS = frozenset("""
abs absolute acos acosh add all allclose alltrue amax amin angle any append apply_along_axis
apply_over_axes arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin
argpartition argsort argwhere around array2string array_equal array_equiv array_repr
array_split array_str asanyarray ascontiguousarray asfortranarray asin asinh astype atan atan2
atanh atleast_1d atleast_2d atleast_3d average bartlett bincount bitwise_and bitwise_count
bitwise_invert bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor blackman
broadcast_arrays broadcast_to cbrt ceil choose clip column_stack compress concat concatenate conj
conjugate convolve copy copysign copyto corrcoef correlate cos cosh count_nonzero cov cross cumprod
cumsum cumulative_prod cumulative_sum deg2rad degrees delete diag diag_indices diag_indices_from
diagflat diagonal diff digitize divide divmod dot dsplit dstack ediff1d einsum empty empty_like
equal exp exp2 expand_dims expm1 extract eye fabs fill_diagonal fix flatnonzero flip fliplr
flipud float_power floor floor_divide fmax fmin fmod frexp full full_like gcd gradient greater
greater_equal hamming hanning heaviside histogram histogram2d histogramdd hsplit hstack hypot i0
identity imag in1d indices inner interp intersect1d invert isclose iscomplex isfinite isin isinf
isnan isneginf isposinf isreal kaiser kron lcm ldexp left_shift less less_equal lexsort linspace
log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or logical_xor logspace
mask_indices matmul matrix_transpose max maximum mean median meshgrid min minimum mod modf
moveaxis multiply nan_to_num nanargmax nanargmin nancumprod nancumsum nanmax nanmean nanmedian
nanmin nanprod nanstd nansum nanvar negative nextafter nonzero not_equal ones ones_like outer
packbits pad partition percentile permute_dims piecewise place poly polyadd polyfit polymul
polysub polyval positive pow power prod product ptp put put_along_axis putmask quantile rad2deg
radians ravel ravel_multi_index real real_if_close reciprocal remainder repeat require reshape
resize right_shift rint roll rollaxis roots rot90 round round_ row_stack searchsorted select
setdiff1d setxor1d sign signbit sin sinc sinh sort sort_complex split sqrt square squeeze stack
std subtract sum swapaxes take take_along_axis tan tanh tensordot tile trace transpose trapezoid
trapz tri tril tril_indices tril_indices_from trim_zeros triu triu_indices triu_indices_from
true_divide trunc union1d unique unique_all unique_counts unique_inverse unique_values unpackbits
unravel_index unwrap vander var vdot vsplit vstack where zeros zeros_like
""".split())
_LINALG = frozenset("cholesky cond cross det eig eigh eigvals eigvalsh inv lstsq matmul "
                    "matrix_power matrix_rank matrix_transpose norm pinv qr slogdet solve svd "
                    "tensorinv tensorsolve".split())


class _Namespace(types.ModuleType):
    """A module whose attributes are made on first use from an allow-list of CuPy names."""

    def __init__(self, name: str, source: Any, functions: frozenset,
                 plain: frozenset = frozenset()) -> None:
        super().__init__(name)
        self._source, self._functions, self._plain = source, functions, plain

    def __getattr__(self, name: str) -> Any:
        src = getattr(self._source, name, None)
        if src is None or name.startswith("_") or \
                name not in self._functions and name not in self._plain:
            raise AttributeError(f"module {self.__name__!r} (simulated) has no attribute "
                                 f"{name!r}: CuPy has no such function")
        if name in self._plain:  # functions among them see dtypes and host values
            value = src if isinstance(src, type) or not callable(src) else _plain(src)
        elif isinstance(src, numpy.ufunc):
            value = _Ufunc(src)
        else:
            value = _function(name, src)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | {n for n in self._functions | self._plain
                                                if hasattr(self._source, n)})


class _Device:
    """``cupy.cuda.Device``: the one simulated GPU."""

    def __init__(self, device: Any = None) -> None:
        index = 0 if device is None else int(device)
        if index != 0:
            raise ValueError(f"the simulated GPU has one device (0), not {index}")
        self.id = 0

    def __enter__(self) -> "_Device":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def use(self) -> None:
        pass

    def synchronize(self) -> None:
        sync("device synchronize")

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Device)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "<CUDA Device 0 (simulated)>"


def _device_synchronize() -> None:
    sync("device synchronize")


cuda = types.SimpleNamespace(
    Device=_Device, is_available=lambda: True,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1,
                                  deviceSynchronize=_device_synchronize),
)


# -- functions whose CuPy rules differ from NumPy's ------------------------------------
_numpy_repeat = _function("repeat", numpy.repeat)
_numpy_linspace = _function("linspace", numpy.linspace)
_numpy_logspace = _function("logspace", numpy.logspace)


def repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    """CuPy's refuses a negative count given once (a number or one element) before it
    looks at the array, even an empty one that NumPy would repeat."""
    counts = repeats._a if type(repeats) is ndarray else numpy.asarray(repeats)
    if counts.size == 1 and counts.item() < 0:
        raise ValueError(f"'repeats' should not be negative: {counts.item()}")
    return _numpy_repeat(a, repeats, axis)


ndarray.repeat = repeat  # type: ignore[attr-defined]


def _scalar_bounds(start: Any, stop: Any, num: int, endpoint: bool) -> None:
    """CuPy's linspace takes the step of scalar bounds as ``float(stop - start)``: complex
    ones fail (with its error), unless there is no step to take."""
    if numpy.isscalar(start) and numpy.isscalar(stop) and (num - 1 if endpoint else num) > 0:
        float(stop - start)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             **kwargs: Any) -> Any:
    """CuPy's: no complex scalar bounds."""
    _scalar_bounds(start, stop, num, endpoint)
    return _numpy_linspace(start, stop, num, endpoint, **kwargs)


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             **kwargs: Any) -> Any:
    """CuPy's: a power of its linspace, so no complex scalar bounds either."""
    _scalar_bounds(start, stop, num, endpoint)
    return _numpy_logspace(start, stop, num, endpoint, **kwargs)


module = _Namespace("cupy", numpy, _CUPY_FUNCTIONS, _PLAIN | _SCALAR_TYPES)
module.__doc__ = __doc__
linalg = _Namespace("cupy.linalg", numpy.linalg, _LINALG)
for _name, _value in {"ndarray": ndarray, "ufunc": _Ufunc, "asarray": asarray, "array": array,
                      "asnumpy": asnumpy, "get_array_module": get_array_module,
                      "linspace": linspace, "logspace": logspace, "repeat": repeat,
                      "linalg": linalg, "cuda": cuda, "simulated": True}.items():
    setattr(module, _name, _value)
del _name, _value


# -- cupyx: what CuPy code takes from it ----------------------------------------------
def scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    """``cupyx.scatter_add``: numpy.add.at on the device (repeated indices accumulate)."""
    module.add.at(a, slices, value)


def _erf(x: Any) -> ndarray:
    a = _operand(x)
    a = numpy.asarray(a)
    return _new(numpy.asarray(numpy.frompyfunc(math.erf, 1, 1)(a), dtype=a.dtype))


cupyx = types.SimpleNamespace(
    scatter_add=scatter_add,
    scipy=types.SimpleNamespace(special=types.SimpleNamespace(erf=_erf)),
)
