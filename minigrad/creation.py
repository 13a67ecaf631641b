"""Factories: new tensors on the active backend (shapes as a tuple or as varargs)."""
from __future__ import annotations

from typing import Any, Optional, Union

from .backends import ArrayBackend, current_backend, get_backend
from .tensor import DEFAULT_FLOAT, Tensor, as_dtype

Device = Union[str, ArrayBackend, None]


def _shape(shape: tuple) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _backend(device: Device) -> ArrayBackend:
    return current_backend() if device is None else get_backend(device)


def _make(array: Any, backend: ArrayBackend, requires_grad: bool) -> Tensor:
    out = Tensor._wrap(array, backend)
    if requires_grad:
        out.requires_grad = True
    return out


def _float_dtype(dtype: Any) -> Any:
    return DEFAULT_FLOAT if dtype is None else as_dtype(dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          device: Device = None) -> Tensor:
    b = _backend(device)
    return _make(b.zeros(_shape(shape), dtype=_float_dtype(dtype)), b, requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         device: Device = None) -> Tensor:
    b = _backend(device)
    return _make(b.ones(_shape(shape), dtype=_float_dtype(dtype)), b, requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
         device: Device = None) -> Tensor:
    b = _backend(device)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = DEFAULT_FLOAT if isinstance(fill_value, float) else None
    return _make(b.full(shape, fill_value, dtype=dtype), b, requires_grad)


def empty(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          device: Device = None) -> Tensor:
    b = _backend(device)
    return _make(b.empty(_shape(shape), dtype=_float_dtype(dtype)), b, requires_grad)


def _like(x: Tensor, dtype: Any) -> tuple:
    return x._backend, (x.dtype if dtype is None else as_dtype(dtype))


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    b, dtype = _like(x, dtype)
    return _make(b.zeros(x.shape, dtype=dtype), b, requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    b, dtype = _like(x, dtype)
    return _make(b.ones(x.shape, dtype=dtype), b, requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    b, dtype = _like(x, dtype)
    return _make(b.full(x.shape, fill_value, dtype=dtype), b, requires_grad)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: bool = False, device: Device = None) -> Tensor:
    """NumPy's arange; all-integer arguments give int64, otherwise float32."""
    b = _backend(device)
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, stop, step))
        dtype = as_dtype("int64") if ints else DEFAULT_FLOAT
    return _make(b.arange(start, stop, step, dtype=as_dtype(dtype)), b, requires_grad)


def linspace(start: float, stop: float, num: int = 50, dtype: Any = None,
             requires_grad: bool = False, device: Device = None) -> Tensor:
    b = _backend(device)
    return _make(b.linspace(start, stop, num, dtype=_float_dtype(dtype)), b, requires_grad)


def eye(n: int, m: Optional[int] = None, dtype: Any = None, requires_grad: bool = False,
        device: Device = None) -> Tensor:
    b = _backend(device)
    return _make(b.eye(n, m, dtype=_float_dtype(dtype)), b, requires_grad)


# -- random numbers: drawn from the backend's own seeded generator --------------------

def manual_seed(seed: int) -> None:
    """Seed the active backend's generator (runs are reproducible per backend)."""
    current_backend().manual_seed(int(seed))


def get_rng_state() -> dict:
    """The active backend's generator state (JSON-able), for checkpoints."""
    return current_backend().get_rng_state()


def set_rng_state(state: dict) -> None:
    """Restore a state from :func:`get_rng_state`: the next draws repeat exactly."""
    current_backend().set_rng_state(state)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          device: Device = None) -> Tensor:
    """Standard normal samples."""
    b = _backend(device)
    return _make(b.randn(_shape(shape), _float_dtype(dtype)), b, requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         device: Device = None) -> Tensor:
    """Uniform samples in [0, 1)."""
    b = _backend(device)
    return _make(b.random(_shape(shape), _float_dtype(dtype)), b, requires_grad)


def uniform(low: float, high: float, shape: Any, dtype: Any = None,
            requires_grad: bool = False, device: Device = None) -> Tensor:
    """Uniform samples in [low, high)."""
    b = _backend(device)
    array = b.random(_shape((shape,)), _float_dtype(dtype)) * (high - low) + low
    return _make(array, b, requires_grad)


def normal(mean: float, std: float, shape: Any, dtype: Any = None,
           requires_grad: bool = False, device: Device = None) -> Tensor:
    b = _backend(device)
    array = b.randn(_shape((shape,)), _float_dtype(dtype)) * std + mean
    return _make(array, b, requires_grad)


def randint(low: int, high: Optional[int] = None, size: Any = (), dtype: Any = "int64",
            device: Device = None) -> Tensor:
    """Integers in [low, high) (or [0, low) when high is omitted)."""
    b = _backend(device)
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    return _make(b.randint(low, high, size, as_dtype(dtype)), b, False)


def randperm(n: int, device: Device = None) -> Tensor:
    b = _backend(device)
    return _make(b.argsort(b.random((n,), DEFAULT_FLOAT)), b, False)


def randn_like(x: Tensor, dtype: Any = None) -> Tensor:
    b, dtype = _like(x, dtype)
    return _make(b.randn(x.shape, dtype), b, False)


def rand_like(x: Tensor, dtype: Any = None) -> Tensor:
    b, dtype = _like(x, dtype)
    return _make(b.random(x.shape, dtype), b, False)
