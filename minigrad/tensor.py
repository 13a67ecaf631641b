"""The Tensor: a backend array plus what the tape needs to differentiate it."""
from __future__ import annotations

import weakref
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy

from . import dtypes, grad_mode
from .backends import ArrayBackend, current_backend, get_backend
from .size import Size


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
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> numpy.dtype:
        return self._data.dtype

    @property
    def device(self) -> "device":
        return self._backend.device

    @property
    def backend(self) -> ArrayBackend:
        return self._backend

    @property
    def is_cuda(self) -> bool:
        return self._backend.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The recorded operation that made this tensor (None for a leaf); the outputs of
        one multi-output Function share one."""
        return None if self._node is None else self._node._presented()[0]

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
        return self._backend.item(self._data.reshape(()))  # a host sync on a GPU

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
        if self.dtype != dtypes.get_default_dtype() and self.dtype.kind == "f":
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name()}>")
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

    def _to_device(self, device: Union[str, ArrayBackend]) -> "Tensor":
        """The same tensor on ``device`` (a device or backend name), differentiably."""
        backend = get_backend(device)
        if backend is self._backend:
            return self
        return ops.to_backend(self, target=backend, source=self._backend)

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
            extra = self._node.more()
            if extra.hooks is None:
                extra.hooks = []
            hooks = extra.hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep the gradient of a non-leaf tensor in ``.grad`` after backward."""
        if self._node is not None:
            self._node.more().retained = weakref.ref(self)

    # -- in-place updates: allowed where they cannot corrupt a recorded graph -----
    def _mark_modified(self) -> None:
        """Record an in-place write to this tensor's memory: backward refuses to use
        values that were saved before it (views of the same memory included)."""
        self._version = primitive.note_inplace_write(self._data)

    def _check_inplace(self) -> None:
        if grad_mode._mode.enabled and self._requires_grad and self._node is None:
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap the update in `with mg.no_grad():` or use an out-of-place operation")

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value``. Where a gradient is involved (``t`` is part of a graph or
        ``value`` requires grad) the assignment is recorded: ``t`` becomes the recorded
        result, and the gradient flows to ``value`` at ``index`` and to ``t`` elsewhere."""
        self._check_inplace()
        if grad_mode._mode.enabled and (self._requires_grad or (
                isinstance(value, Tensor) and value._requires_grad)):
            from .tensor_methods import _write_result  # index_put checks the index itself
            _write_result(self, ops.index_put(self, index, value), "__setitem__")
            return
        index = ops.as_index(index)
        check_masks(tuple(self._data.shape), index, "index_put")
        # host arrays and lists go to this tensor's device first, on every backend alike
        self._data[index] = value._data if isinstance(value, Tensor) else \
            self._backend.operand(value)
        self._mark_modified()

    # -- arithmetic -------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return ops.add.binary(self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return ops.add.binary(other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return ops.subtract.binary(self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return ops.subtract.binary(other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return ops.multiply.binary(self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return ops.multiply.binary(other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return ops.divide.binary(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return ops.divide.binary(other, self)

    def __pow__(self, other: Any) -> "Tensor":
        return ops.power(self, other)

    def __rpow__(self, other: Any) -> "Tensor":
        return ops.power(other, self)

    def __matmul__(self, other: Any) -> "Tensor":
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return ops.matmul(other, self)

    def __neg__(self) -> "Tensor":
        return ops.negative.unary(self)

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

    # &, |, ^, ~ are bitwise (logical on bools), as in PyTorch: bound in tensor_methods

    __hash__ = object.__hash__

    def __getitem__(self, index: Any) -> "Tensor":
        index = ops.as_index(index)
        check_masks(tuple(self._data.shape), index, "index")
        return ops.getitem(self, index=index)


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
        elif backend.device.type == "cuda" and hasattr(data, "__cuda_array_interface__"):
            # another library's GPU array (a torch CUDA tensor...): one copy, on the device
            array = backend.xp.array(data, dtype=None if dtype is None else as_dtype(dtype))
        else:
            if hasattr(data, "__cuda_array_interface__") or \
                    type(data).__module__.startswith("cupy"):
                data = get_backend("cupy").to_numpy(data)
            host = numpy.asarray(data)
            if dtype is not None:
                host = host.astype(as_dtype(dtype), copy=False)
            elif not isinstance(data, (numpy.ndarray, numpy.generic)) and host.dtype.kind == "f":
                host = host.astype(dtypes.get_default_dtype())
            elif host.dtype.kind == "O":
                raise TypeError(f"cannot make a tensor from {type(data).__name__} data")
            array = backend.from_numpy(host)
    out = Tensor._wrap(array, backend)
    if requires_grad:
        out.requires_grad = True
    return out


from . import autograd, ops, primitive  # noqa: E402  (all need Tensor defined first)
from .ops.indexing import check_masks  # noqa: E402
from . import pickling  # noqa: E402  (pickle / copy support, written against Tensor)

Tensor.__reduce_ex__ = pickling.reduce_tensor  # type: ignore[method-assign]
Tensor.__deepcopy__ = pickling.deepcopy_tensor  # type: ignore[attr-defined]
from . import numpy_interop  # noqa: E402  (np.sin(t) & co. stay on the tape or refuse)

Tensor.__array_ufunc__ = numpy_interop.array_ufunc  # type: ignore[attr-defined]
Tensor.__array_function__ = numpy_interop.array_function  # type: ignore[attr-defined]
from . import dlpack  # noqa: E402  (sharing memory with torch, NumPy, CuPy)

Tensor.__dlpack__ = dlpack.dlpack  # type: ignore[attr-defined]
Tensor.__dlpack_device__ = dlpack.dlpack_device  # type: ignore[attr-defined]
Tensor.__cuda_array_interface__ = property(dlpack.cuda_array_interface)  # type: ignore
