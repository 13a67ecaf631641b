"""Factories: new tensors, with PyTorch's signatures (``dtype=``, ``device=``, ``requires_grad=``).

A shape is given as PyTorch and NumPy both allow: varargs ``zeros(2, 3)``, one sequence
``zeros((2, 3))`` / ``zeros([2, 3])`` / ``zeros(x.size())``, or ``size=(2, 3)``. Floats come
in the default dtype (``mg.set_default_dtype``). Random numbers are drawn from the backend's
own seeded generator (``mg.manual_seed``).
"""
from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Optional, Union

import numpy

from . import ops
from .backends import ArrayBackend, current_backend, get_backend, seed_all
from .dtypes import default_complex_dtype, get_default_dtype
from .functions.arguments import reported
from .tensor import Tensor, as_dtype, tensor

__all__ = [
    "zeros", "ones", "empty", "full", "eye", "arange", "linspace", "logspace", "from_numpy",
    "as_tensor", "is_tensor", "numel", "zeros_like", "ones_like", "empty_like", "full_like",
    "rand_like", "randn_like", "randint_like", "manual_seed", "get_rng_state", "set_rng_state",
    "rand", "randn", "uniform", "randint", "randperm", "normal", "bernoulli", "multinomial",
]

Device = Union[str, ArrayBackend, None]
INT64 = numpy.dtype(numpy.int64)


# -- arguments ---------------------------------------------------------------------

def _is_integer(value: Any) -> bool:
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _dimension(n: Any, shape: tuple) -> int:
    try:
        if isinstance(n, (bool, numpy.bool_)):
            raise TypeError
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"sizes must be integers, got {n!r} ({type(n).__name__}) "
                        f"in size {shape}") from None
    if n < 0:
        raise ValueError(f"negative dimension {n} in size {shape}")
    return n


def _size(args: tuple, size: Any = None) -> tuple:
    """The shape from varargs, one sequence, or the ``size=`` keyword."""
    if size is not None:
        if args:
            raise TypeError(f"size given twice: as {args} and as size={size!r}")
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (list, tuple, Tensor)):
        args = tuple(args[0])
    return tuple(_dimension(n, args) for n in args)


def _backend(device: Device) -> ArrayBackend:
    return current_backend() if device is None else get_backend(device)


def _make(array: Any, backend: ArrayBackend, requires_grad: bool) -> Tensor:
    out = Tensor._wrap(array, backend)
    if requires_grad:
        out.requires_grad = True
    return out


def _numeric(dtype: Any) -> numpy.dtype:
    """A dtype of numbers (NumPy would also take text, objects and records)."""
    out = as_dtype(dtype)
    if out.kind not in "biufc":
        raise TypeError(f"dtype must be a number type (as mg.float32), got {dtype!r}")
    return out


def _float_dtype(dtype: Any) -> numpy.dtype:
    return get_default_dtype() if dtype is None else _numeric(dtype)


def _random_dtype(dtype: Any, name: str) -> numpy.dtype:
    dtype = _float_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name}() draws floating-point numbers, got dtype {dtype} "
                        "(randint draws integers)")
    return dtype


def _scalar(value: Any, name: str) -> Any:
    """A Python/NumPy number, or the value of a one-element tensor."""
    if isinstance(value, Tensor):
        return value.item()
    if not isinstance(value, (numbers.Number, numpy.bool_)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    return value


def _fill_dtype(value: Any) -> numpy.dtype:
    """PyTorch's dtype for a fill value: bool, int64, the default float or complex."""
    if isinstance(value, (bool, numpy.bool_)):
        return numpy.dtype(bool)
    if isinstance(value, numbers.Integral):
        return INT64
    if isinstance(value, numbers.Real):
        return get_default_dtype()
    if isinstance(value, numbers.Complex):
        return default_complex_dtype()
    raise TypeError(f"fill_value must be a number, got {value!r} ({type(value).__name__})")


def _count(n: Any, name: str) -> int:
    if isinstance(n, bool) or not _is_integer(n) or operator.index(n) < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return operator.index(n)


# -- filled tensors --------------------------------------------------------------------

def zeros(*shape: Any, size: Any = None, dtype: Any = None, device: Device = None,
          requires_grad: bool = False) -> Tensor:
    b = _backend(device)
    return _make(b.zeros(_size(shape, size), dtype=_float_dtype(dtype)), b, requires_grad)


def ones(*shape: Any, size: Any = None, dtype: Any = None, device: Device = None,
         requires_grad: bool = False) -> Tensor:
    b = _backend(device)
    return _make(b.ones(_size(shape, size), dtype=_float_dtype(dtype)), b, requires_grad)


def empty(*shape: Any, size: Any = None, dtype: Any = None, device: Device = None,
          requires_grad: bool = False) -> Tensor:
    """Uninitialised memory: every element must be written before it is read."""
    b = _backend(device)
    return _make(b.empty(_size(shape, size), dtype=_float_dtype(dtype)), b, requires_grad)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Device = None,
         requires_grad: bool = False) -> Tensor:
    """Every element ``fill_value``; its dtype as PyTorch's (bool, int64, default float)."""
    b = _backend(device)
    value = _scalar(fill_value, "fill_value")
    dtype = _fill_dtype(value) if dtype is None else _numeric(dtype)
    return _make(b.full(_size((size,)), value, dtype=dtype), b, requires_grad)


def eye(n: int, m: Optional[int] = None, *, dtype: Any = None, device: Device = None,
        requires_grad: bool = False) -> Tensor:
    """An n×m matrix (n×n without m) with ones on the diagonal."""
    b = _backend(device)
    rows, cols = _size((n, n if m is None else m))
    return _make(b.eye(rows, cols, dtype=_float_dtype(dtype)), b, requires_grad)


# -- ranges ----------------------------------------------------------------------------

def _cast_like_torch(array: Any, dtype: numpy.dtype) -> Any:
    """Values computed in float64, then cast (integers truncate toward zero, as PyTorch's)."""
    return array if dtype == array.dtype else array.astype(dtype)


def arange(start: Any = 0, end: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Device = None, requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` short of ``end``; int64 for integer arguments,
    the default float otherwise. ``arange(n)`` is ``arange(0, n)``."""
    if end is None:
        start, end = 0, start
    start, end, step = (_scalar(v, name) for v, name in
                        ((start, "start"), (end, "end"), (step, "step")))
    for value, name in ((start, "start"), (end, "end"), (step, "step")):
        if not isinstance(value, (numbers.Real, numpy.bool_)):
            raise TypeError(f"arange() {name} must be a real number, got {value!r}")
    if dtype is None:
        integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = INT64 if integral else get_default_dtype()
    dtype = _numeric(dtype)
    if (end - start) * step < 0:  # as PyTorch: the given values, before any truncation
        raise ValueError(f"arange() bounds and step disagree in sign: start={start}, "
                         f"end={end}, step={step}")
    if dtype.kind in "iu":  # as PyTorch: bounds and step truncated to integers first
        start, end, step = (int(v) for v in (start, end, step))
    if step == 0:
        raise ValueError("arange() step must be nonzero")
    count = math.ceil((end - start) / step) if math.isfinite((end - start) / step) else math.inf
    if count > 2 ** 48:  # NumPy's own length arithmetic overflows near int64's limits
        raise ValueError(f"arange() would make {count} elements: start={start}, end={end}, "
                         f"step={step}")
    b = _backend(device)
    if dtype.kind in "iu":
        array = b.arange(start, end, step, dtype=dtype)
    else:  # NumPy would step in the target dtype, accumulating float32 rounding; and its
        # length for an infinite step is 1, PyTorch's ceil((end - start) / step) is 0
        array = _cast_like_torch(b.arange(start, end, step, dtype=numpy.float64)[:count], dtype)
    return _make(array, b, requires_grad)


def _spaced_dtype(op: str, start: Any, end: Any, dtype: Any) -> numpy.dtype:
    """The default float dtype, or the default complex one for a complex bound; a complex
    bound into a real ``dtype`` is refused, as PyTorch refuses that unsafe cast."""
    bounds_complex = any(isinstance(v, complex) or isinstance(v, numpy.complexfloating)
                         for v in (start, end))
    if dtype is None:
        return default_complex_dtype() if bounds_complex else get_default_dtype()
    dtype = _numeric(dtype)
    if bounds_complex and dtype.kind != "c":
        raise RuntimeError(f"{op}(): a complex start or end can't be cast to dtype {dtype}, "
                           f"got start={start!r}, end={end!r}")
    return dtype


def _spaced(b: Any, name: str, dtype: numpy.dtype, *args: Any, **kwargs: Any) -> Any:
    """NumPy's ``linspace``/``logspace`` on ``b``, in float64 or complex128; a complex
    range is made on the host and copied over, as CuPy's take no complex bounds."""
    if dtype.kind != "c":
        return getattr(b.xp, name)(*args, dtype=numpy.float64, **kwargs)
    return b.from_numpy(getattr(numpy, name)(*args, dtype=numpy.complex128, **kwargs))


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, device: Device = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    b = _backend(device)
    start, end = _scalar(start, "start"), _scalar(end, "end")
    dtype = _spaced_dtype("linspace", start, end, dtype)
    values = _spaced(b, "linspace", dtype, start, end, _count(steps, "steps"))
    return _make(_cast_like_torch(values, dtype), b, requires_grad)


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Device = None, requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``; the base is a real number, as in PyTorch."""
    b = _backend(device)
    start, end, base = _scalar(start, "start"), _scalar(end, "end"), _scalar(base, "base")
    if not isinstance(base, (numbers.Real, numpy.bool_)):
        raise TypeError(f"logspace() base must be a real number, got {base!r}")
    dtype = _spaced_dtype("logspace", start, end, dtype)
    values = _spaced(b, "logspace", dtype, start, end, _count(steps, "steps"), base=base)
    return _make(_cast_like_torch(values, dtype), b, requires_grad)


# -- from existing data ------------------------------------------------------------------

def from_numpy(array: numpy.ndarray) -> Tensor:
    """A CPU tensor over the array's own memory: writes to either are seen by both."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy() expects a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy() cannot take an array of dtype {array.dtype}: "
                        "only booleans and numbers")
    return Tensor._wrap(array, get_backend("cpu"))


def as_tensor(data: Any, dtype: Any = None, device: Device = None) -> Tensor:
    """``data`` as a tensor, copying only when the dtype or the device requires it
    (a tensor already right is returned as is; an array on the right device is shared)."""
    dtype = None if dtype is None else _numeric(dtype)
    if isinstance(data, Tensor):
        out = data
        if device is not None and get_backend(device) is not data._backend:
            out = ops.to_backend(out, target=get_backend(device), source=data._backend)
        return out if dtype is None or dtype == out.dtype else ops.astype(out, dtype=dtype)
    b = _backend(device)
    if b.is_array(data):
        return Tensor._wrap(data if dtype is None else data.astype(dtype, copy=False), b)
    if numpy.asarray(data).dtype.kind not in "biufc":  # None, text, objects: not numbers
        raise TypeError(f"cannot make a tensor from {type(data).__name__} data {data!r}")
    return tensor(data, dtype=dtype, device=b)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    if not isinstance(input, Tensor):
        raise TypeError(f"numel() expects a Tensor, got {type(input).__name__}")
    return input.numel()


# -- shaped like another tensor -------------------------------------------------------------

def _like(input: Tensor, dtype: Any, device: Device) -> tuple:
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor as input, got {type(input).__name__}")
    backend = input._backend if device is None else get_backend(device)
    return backend, (input.dtype if dtype is None else _numeric(dtype))


def zeros_like(input: Tensor, *, dtype: Any = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    b, dtype = _like(input, dtype, device)
    return _make(b.zeros(input.shape, dtype=dtype), b, requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    b, dtype = _like(input, dtype, device)
    return _make(b.ones(input.shape, dtype=dtype), b, requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    b, dtype = _like(input, dtype, device)
    return _make(b.empty(input.shape, dtype=dtype), b, requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    b, dtype = _like(input, dtype, device)
    value = _scalar(fill_value, "fill_value")
    return _make(b.full(input.shape, value, dtype=dtype), b, requires_grad)


def rand_like(input: Tensor, *, dtype: Any = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    b, dtype = _like(input, dtype, device)
    return _make(b.random(input.shape, _random_dtype(dtype, "rand_like")), b, requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    b, dtype = _like(input, dtype, device)
    return _make(b.randn(input.shape, _random_dtype(dtype, "randn_like")), b, requires_grad)


def randint_like(input: Tensor, low: int = 0, high: Optional[int] = None, *, dtype: Any = None,
                 device: Device = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high) (``randint_like(x, high)``: in [0, high)), in x's dtype."""
    b, dtype = _like(input, dtype, device)
    if high is None:
        low, high = 0, low
    return _make(_randint(b, low, high, input.shape, dtype), b, requires_grad)


# -- random numbers ------------------------------------------------------------------------

def manual_seed(seed: int) -> None:
    """Seed every backend's generator, those first used later included (as
    ``torch.manual_seed`` seeds the CPU and every GPU); negative seeds wrap around."""
    value = int(seed)
    if not -2 ** 63 <= value < 2 ** 64:
        raise ValueError(f"a seed is an integer in [-2**63, 2**64), got {seed!r}")
    seed_all(value % 2 ** 64)


def get_rng_state() -> dict:
    """The active backend's generator state (JSON-able), for checkpoints."""
    return current_backend().get_rng_state()


def set_rng_state(state: dict) -> None:
    """Restore a state from :func:`get_rng_state`: the next draws repeat exactly."""
    current_backend().set_rng_state(state)


def rand(*shape: Any, size: Any = None, dtype: Any = None, device: Device = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    b = _backend(device)
    array = b.random(_size(shape, size), _random_dtype(dtype, "rand"))
    return _make(array, b, requires_grad)


def randn(*shape: Any, size: Any = None, dtype: Any = None, device: Device = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    b = _backend(device)
    array = b.randn(_size(shape, size), _random_dtype(dtype, "randn"))
    return _make(array, b, requires_grad)


def uniform(low: float, high: float, size: Any, *, dtype: Any = None, device: Device = None,
            requires_grad: bool = False) -> Tensor:
    """Uniform samples in [low, high)."""
    b = _backend(device)
    low, high = _scalar(low, "low"), _scalar(high, "high")
    dtype = _random_dtype(dtype, "uniform")
    array = (b.random(_size((size,)), dtype) * (high - low) + low).astype(dtype, copy=False)
    return _make(array, b, requires_grad)


def _randint(b: ArrayBackend, low: Any, high: Any, shape: tuple, dtype: numpy.dtype) -> Any:
    low, high = (_scalar(v, name) for v, name in ((low, "low"), (high, "high")))
    if not (_is_integer(low) and _is_integer(high)) or isinstance(low, bool) or \
            isinstance(high, bool):
        raise TypeError(f"randint() bounds must be integers, got low={low!r}, high={high!r}")
    if low >= high:
        raise ValueError(f"randint() needs low < high, got low={low}, high={high}")
    if dtype.kind in "iub":
        info = numpy.iinfo(dtype) if dtype.kind != "b" else numpy.iinfo(numpy.uint8)
        if low < info.min or high - 1 > (info.max if dtype.kind != "b" else 1):
            raise ValueError(f"randint() bounds [{low}, {high}) do not fit dtype {dtype}")
    return b.randint(low, high, shape, dtype)


def randint(low: Any, high: Any = None, size: Any = None, *, dtype: Any = None,
            device: Device = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high): ``randint(low, high, size)`` or ``randint(high, size)``
    as PyTorch; int64 unless ``dtype`` says otherwise. Without a size: one number."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # randint(high, size)
    if high is None:
        low, high = 0, low
    b = _backend(device)
    dtype = INT64 if dtype is None else _numeric(dtype)
    shape = () if size is None else _size((size,))
    return _make(_randint(b, low, high, shape, dtype), b, requires_grad)


def randperm(n: int, *, dtype: Any = None, device: Device = None,
             requires_grad: bool = False) -> Tensor:
    """A random order of 0 .. n-1 (int64 unless ``dtype`` says otherwise)."""
    b = _backend(device)
    dtype = INT64 if dtype is None else _numeric(dtype)
    return _make(b.permutation(_count(n, "n"), dtype), b, requires_grad)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, dtype: Any = None,
           device: Device = None, requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std²), as ``torch.normal``'s overloads: ``mean`` and/or ``std``
    a tensor (one sample per element, broadcast, in that tensor's dtype and device), or
    both numbers and a ``size``. The samples carry no gradient to mean or std (PyTorch's
    gradient through them is zero too)."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        mean, std = _scalar(mean, "mean"), _scalar(std, "std")
        if isinstance(std, complex) or isinstance(mean, complex):
            raise TypeError(f"normal() needs real mean and std, got mean={mean!r}, std={std!r}")
        if not std >= 0:
            raise ValueError(f"normal() needs std >= 0, got {std}")
        b = _backend(device)
        dtype = _random_dtype(dtype, "normal")
        shape = () if size is None else _size((size,))
        array = (b.randn(shape, dtype) * std + mean).astype(dtype, copy=False)
        return _make(array, b, requires_grad)
    if size is not None or device is not None:
        raise TypeError("normal() takes size and device only when mean and std are both "
                        "numbers; with a tensor, the samples take its shape and device")
    b = tensors[0]._backend
    if any(t._backend is not b for t in tensors):
        raise RuntimeError(f"normal(): mean and std are on different devices, "
                           f"{mean.device} and {std.device}")
    if dtype is None:
        dtype = b.result_type(*(t.dtype for t in tensors))
    dtype = _random_dtype(dtype, "normal")
    shape = numpy.broadcast_shapes(*(t.shape for t in tensors))
    m, s = (v._data if isinstance(v, Tensor) else v for v in (mean, std))
    return _make((b.randn(shape, dtype) * s + m).astype(dtype, copy=False), b, requires_grad)


def bernoulli(input: Tensor, p: Optional[float] = None) -> Tensor:
    """0/1 samples, 1 with probability ``input`` elementwise (or ``p`` everywhere),
    in ``input``'s dtype. Probabilities outside [0, 1] act as 0 or 1 (not checked:
    on a GPU the check would wait for the device)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli() expects a Tensor of probabilities, got "
                        f"{type(input).__name__}")
    b = input._backend
    if p is None:
        if input.dtype.kind != "f":
            raise TypeError(f"bernoulli() needs floating-point probabilities, got dtype "
                            f"{input.dtype}")
        probs = input._data
    else:
        probs = _scalar(p, "p")
        if not isinstance(probs, numbers.Real):
            raise TypeError(f"bernoulli() needs a real probability p, got {p!r}")
        if not 0 <= probs <= 1:
            raise ValueError(f"bernoulli() needs 0 <= p <= 1, got p={probs}")
    draw = input.dtype if input.dtype in (numpy.float32, numpy.float64) else numpy.float32
    return _make((b.random(input.shape, draw) < probs).astype(input.dtype), b, False)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False) -> Tensor:
    """Indices of categories drawn with probabilities proportional to each row of
    ``input`` (1-d: one distribution; 2-d: one per row); int64. Without replacement
    no index repeats within a row, so ``num_samples`` may not exceed the nonzero entries."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial() expects a Tensor of weights, got {type(input).__name__}")
    if input.ndim not in (1, 2):
        raise ValueError(f"multinomial() takes 1-d or 2-d weights, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"multinomial() needs floating-point weights, got dtype {input.dtype}")
    if not _is_integer(num_samples) or num_samples <= 0:
        raise ValueError(f"multinomial() needs a positive integer num_samples, "
                         f"got {num_samples!r}")
    weights = numpy.array(input.numpy(), dtype=numpy.float64, ndmin=2)
    if not numpy.all(numpy.isfinite(weights) & (weights >= 0)):
        raise ValueError("multinomial() weights must be finite and non-negative")
    fewest = int(numpy.count_nonzero(weights, axis=1).min(initial=weights.shape[1]))
    if fewest == 0:
        raise ValueError("multinomial() got a row of weights that sums to zero")
    if not replacement and num_samples > fewest:
        raise ValueError(f"multinomial() cannot draw {num_samples} samples without "
                         f"replacement from a row with {fewest} nonzero weights")
    b = input._backend
    picks = b.multinomial(weights, operator.index(num_samples), bool(replacement))
    return _make(picks if input.ndim == 2 else picks[0], b, False)



def _name_errors() -> None:
    """Every factory names itself in the errors it raises (see ``reported``)."""
    space = globals()
    for name in __all__:
        space[name] = reported(space[name])


_name_errors()
