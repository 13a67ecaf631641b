"""The Tensor: a backend array plus what the tape needs to differentiate it."""
from __future__ import annotations

import weakref
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy

from . import grad_mode
from .backends import ArrayBackend, current_backend, get_backend

DEFAULT_FLOAT = numpy.dtype(numpy.float32)

DeviceOrDtype = Union[str, ArrayBackend, numpy.dtype, type]


def as_dtype(dtype: Any) -> numpy.dtype:
    """Normalise ``"float32"``, ``np.float32`` or a NumPy dtype to a NumPy dtype."""
    try:
        return numpy.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"not a dtype: {dtype!r}") from exc


def _is_float(dtype: numpy.dtype) -> bool:
    return dtype.kind in "fc"


class RemovableHandle:
    """Returned when a hook is registered; ``remove()`` unregisters it."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    Every operation on tensors that require gradients is recorded on the tape;
    ``backward()`` replays the tape in reverse to fill ``.grad`` of the leaves.
    """

    __slots__ = ("_data", "_backend", "_requires_grad", "grad", "_node", "_version",
                 "_hooks", "__weakref__")
    __array_priority__ = 1000  # NumPy scalars/arrays on the left defer to Tensor's operators

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        source = tensor(data, dtype=dtype)
        self._data = source._data
        self._backend = source._backend
        self._init_state()
        self.requires_grad = requires_grad

    def _init_state(self) -> None:
        self._requires_grad = False
        self.grad = None
        self._node = None
        self._version = 0
        self._hooks = None

    @classmethod
    def _wrap(cls, array: Any, backend: ArrayBackend) -> "Tensor":
        """Wrap a backend array (no copy); NumPy scalars become 0-d arrays."""
        if type(array) is not backend.ndarray:
            array = backend.xp.asarray(array)
        t = object.__new__(cls)
        t._data = array
        t._backend = backend
        t._requires_grad = False
        t.grad = None
        t._node = None
        t._version = 0
        t._hooks = None
        return t

    # -- properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        """Number of elements, as NumPy's ``.size``."""
        return self._data.size

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> numpy.dtype:
        return self._data.dtype

    @property
    def device(self) -> str:
        return self._backend.device

    @property
    def backend(self) -> ArrayBackend:
        return self._backend

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not _is_float(self.dtype):
            raise RuntimeError(
                f"only floating point tensors can require gradients, got dtype {self.dtype}")
        if not value and self._node is not None:
            raise RuntimeError(
                "requires_grad can only be turned off on leaf tensors; use .detach()")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def data(self) -> "Tensor":
        """The same array, detached from the tape (changes to it are not tracked)."""
        return Tensor._wrap(self._data, self._backend)

    @data.setter
    def data(self, value: Any) -> None:
        value = value if isinstance(value, Tensor) else tensor(value, device=self._backend)
        # A new array, not a write into the old one: values saved for backward stay valid
        # (the gradient is the one of the forward that ran). `p.data = p.data.to(dev)`
        # moves p, as in PyTorch.
        self._data = value._data
        self._backend = value._backend
        self._version = next(primitive.clock)

    @property
    def T(self) -> "Tensor":
        return ops.transpose(self)

    @property
    def mT(self) -> "Tensor":
        return ops.swapaxes(self, -1, -2)

    # -- conversion -------------------------------------------------------------
    def numpy(self) -> numpy.ndarray:
        """A host NumPy array (a copy from the GPU; the same memory on the CPU)."""
        return self._backend.to_numpy(self._data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        array = self.numpy()
        return array.astype(dtype) if dtype is not None else array

    def item(self) -> Union[float, int, bool]:
        if self._data.size != 1:
            raise ValueError(
                f"item() needs a tensor with exactly one element, got shape {self.shape}")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous")
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = numpy.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype != DEFAULT_FLOAT and self.dtype.kind == "f":
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.prim.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def detach(self) -> "Tensor":
        """The same values, cut from the tape: gradients stop here."""
        return Tensor._wrap(self._data, self._backend)

    def clone(self) -> "Tensor":
        return ops.copy(self)

    def astype(self, dtype: Any) -> "Tensor":
        dtype = as_dtype(dtype)
        return self if dtype == self.dtype else ops.astype(self, dtype=dtype)

    def float(self) -> "Tensor":
        return self.astype(numpy.float32)

    def double(self) -> "Tensor":
        return self.astype(numpy.float64)

    def long(self) -> "Tensor":
        return self.astype(numpy.int64)

    def to(self, target: DeviceOrDtype) -> "Tensor":
        """Move to a device (``"cpu"``, ``"cuda"``, a backend name) or cast to a dtype."""
        if isinstance(target, (str, ArrayBackend)):
            try:
                backend = get_backend(target)
            except ValueError:
                return self.astype(target)
            if backend is self._backend:
                return self
            return ops.to_backend(self, target=backend, source=self._backend)
        return self.astype(target)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    # -- autograd ---------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False, inputs: Optional[Sequence["Tensor"]] = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        autograd.backward(self, gradient, retain_graph=retain_graph,
                          create_graph=create_graph, inputs=inputs)

    def register_hook(self, hook: Callable[["Tensor"], Optional["Tensor"]]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:  # a non-leaf's hooks live on its node, which outlives the tensor object
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep the gradient of a non-leaf tensor in ``.grad`` after backward."""
        if self._node is not None:
            self._node.retained = weakref.ref(self)

    def zero_(self) -> "Tensor":
        self._assign_inplace(self._backend.zeros_like(self._data))
        return self

    # -- in-place updates: allowed where they cannot corrupt a recorded graph -----
    def _mark_modified(self) -> None:
        """Record an in-place write to this tensor's memory: backward refuses to use
        values that were saved before it (views of the same memory included)."""
        self._version = primitive.note_inplace_write(self._data)

    def _check_inplace(self) -> None:
        if grad_mode._mode.enabled and self._requires_grad:
            kind = "leaf tensor" if self._node is None else "tensor that is part of a graph"
            raise RuntimeError(
                f"a {kind} that requires grad is being used in an in-place operation; "
                "wrap the update in `with mg.no_grad():` or use an out-of-place operation")

    def _assign_inplace(self, array: Any) -> None:
        self._check_inplace()
        self._data[...] = array
        self._mark_modified()

    def _inplace(self, op: Callable, other: Any) -> "Tensor":
        if grad_mode._mode.enabled and (self._requires_grad or
                                        (isinstance(other, Tensor) and other._requires_grad)):
            return op(self, other)  # rebinds the name, as `x = x + y` would
        result = op(self, other)
        if result.shape != self.shape:
            raise ValueError(f"in-place result of shape {result.shape} does not fit "
                             f"a tensor of shape {self.shape}")
        self._data[...] = result._data
        self._mark_modified()
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace(ops.add, other)

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace(ops.subtract, other)

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace(ops.multiply, other)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace(ops.divide, other)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace()
        value = value._data if isinstance(value, Tensor) else value
        self._data[ops.as_index(index)] = value
        self._mark_modified()

    # -- arithmetic -------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return ops.add(self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return ops.add(other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return ops.subtract(self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return ops.subtract(other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return ops.multiply(self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return ops.multiply(other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return ops.divide(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return ops.divide(other, self)

    def __pow__(self, other: Any) -> "Tensor":
        return ops.power(self, other)

    def __rpow__(self, other: Any) -> "Tensor":
        return ops.power(other, self)

    def __matmul__(self, other: Any) -> "Tensor":
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return ops.matmul(other, self)

    def __neg__(self) -> "Tensor":
        return ops.negative(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return ops.abs(self)

    # comparisons and logic: results carry no gradient
    def __lt__(self, other: Any) -> "Tensor":
        return ops.less(self, other)

    def __le__(self, other: Any) -> "Tensor":
        return ops.less_equal(self, other)

    def __gt__(self, other: Any) -> "Tensor":
        return ops.greater(self, other)

    def __ge__(self, other: Any) -> "Tensor":
        return ops.greater_equal(self, other)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return ops.equal(self, other)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return ops.not_equal(self, other)

    def __and__(self, other: Any) -> "Tensor":
        return ops.logical_and(self, other)

    def __or__(self, other: Any) -> "Tensor":
        return ops.logical_or(self, other)

    def __invert__(self) -> "Tensor":
        return ops.logical_not(self)

    __hash__ = object.__hash__

    def __getitem__(self, index: Any) -> "Tensor":
        return ops.getitem(self, index=ops.as_index(index))

    # -- methods mirroring the functions ------------------------------------------
    def exp(self) -> "Tensor":
        return ops.exp(self)

    def log(self) -> "Tensor":
        return ops.log(self)

    def sqrt(self) -> "Tensor":
        return ops.sqrt(self)

    def tanh(self) -> "Tensor":
        return ops.tanh(self)

    def sigmoid(self) -> "Tensor":
        return ops.sigmoid(self)

    def relu(self) -> "Tensor":
        return ops.relu(self)

    def abs(self) -> "Tensor":
        return ops.abs(self)

    def sign(self) -> "Tensor":
        return ops.sign(self)

    def clip(self, min: Any = None, max: Any = None) -> "Tensor":
        return ops.clip(self, min, max)

    clamp = clip

    def sum(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> "Tensor":
        return ops.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> "Tensor":
        return ops.std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return ops.min(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return ops.logsumexp(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return ops.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return ops.argmin(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> "Tensor":
        return ops.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int)
                           else shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        return ops.flatten(self, start_dim, end_dim)

    def transpose(self, *axes: Any) -> "Tensor":
        """NumPy's permutation ``transpose(*axes)``; two axes on a non-2-d tensor swap them."""
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        if len(axes) == 2 and self.ndim != 2:
            return ops.swapaxes(self, axes[0], axes[1])
        return ops.transpose(self, axes or None)

    def permute(self, *axes: Any) -> "Tensor":
        return self.transpose(*axes) if self.ndim != 2 or len(axes) != 2 else \
            ops.transpose(self, tuple(axes))

    def swapaxes(self, axis1: int, axis2: int) -> "Tensor":
        return ops.swapaxes(self, axis1, axis2)

    def squeeze(self, axis: Any = None) -> "Tensor":
        return ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> "Tensor":
        return ops.expand_dims(self, axis)

    def expand_dims(self, axis: Any) -> "Tensor":
        return ops.expand_dims(self, axis)

    def broadcast_to(self, *shape: Any) -> "Tensor":
        return ops.broadcast_to(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int)
                                else shape)

    expand = broadcast_to


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           device: Union[str, ArrayBackend, None] = None) -> Tensor:
    """Make a tensor from a Tensor, an array or (nested) Python numbers.

    Python floats become float32 and ints int64 (as in PyTorch); an array keeps its
    dtype. ``device`` defaults to the active backend (or the source tensor's).
    """
    if isinstance(data, Tensor):
        backend = get_backend(device) if device is not None else data._backend
        array = data._data if backend is data._backend else \
            backend.from_numpy(data._backend.to_numpy(data._data))
        array = array.astype(as_dtype(dtype)) if dtype is not None else array.copy()
    else:
        backend = get_backend(device) if device is not None else current_backend()
        if backend.is_array(data):
            array = data.astype(data.dtype if dtype is None else as_dtype(dtype), copy=True)
        else:
            if hasattr(data, "__cuda_array_interface__") or type(data).__module__.startswith("cupy"):
                data = get_backend("cupy").to_numpy(data)
            host = numpy.asarray(data)
            if dtype is not None:
                host = host.astype(as_dtype(dtype), copy=False)
            elif not isinstance(data, (numpy.ndarray, numpy.generic)) and host.dtype.kind == "f":
                host = host.astype(DEFAULT_FLOAT)
            elif host.dtype.kind == "O":
                raise TypeError(f"cannot make a tensor from {type(data).__name__} data")
            array = backend.from_numpy(host)
    out = Tensor._wrap(array, backend)
    if requires_grad:
        out.requires_grad = True
    return out


from . import autograd, ops, primitive  # noqa: E402  (all need Tensor defined first)
