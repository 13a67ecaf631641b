"""Sharing memory with other array libraries: DLPack both ways, and the CUDA array interface.

``torch.from_dlpack(t)``, ``np.from_dlpack(t)`` and ``cupy.from_dlpack(t)`` see a tensor's
memory without a copy, and ``mg.from_dlpack(x)`` makes a tensor over the memory of a torch
tensor, a NumPy or CuPy array (anything with ``__dlpack__``), on the device that memory is
on. Writes through either side are seen by both; minigrad's in-place checks see only its
own writes. The simulated GPU's memory is host memory and says so (``kDLCPU``), so no
consumer mistakes it for CUDA memory.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from .backends import get_backend

if TYPE_CHECKING:
    from .tensor import Tensor

# DLPack's device types (dlpack.h): the CPU, CUDA memory, pinned host memory, managed memory.
_CPU, _CUDA, _CUDA_HOST, _CUDA_MANAGED = 1, 2, 3, 13


def from_dlpack(ext: Any) -> "Tensor":
    """A tensor sharing ``ext``'s memory (no copy), on ``ext``'s device: the CPU for host
    memory, CuPy's GPU for CUDA memory. ``ext`` is any object with ``__dlpack__`` and
    ``__dlpack_device__`` (a torch tensor, a NumPy, CuPy or JAX array, a minigrad tensor)."""
    from .tensor import Tensor
    if not hasattr(ext, "__dlpack_device__") or not hasattr(ext, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and "
                        f"__dlpack_device__ (a tensor or array), got {type(ext).__name__}")
    kind, index = ext.__dlpack_device__()
    if kind in (_CPU, _CUDA_HOST):
        backend = get_backend("cpu")
        array = numpy.from_dlpack(ext)
    elif kind in (_CUDA, _CUDA_MANAGED):
        backend = get_backend(f"cuda:{index}")
        array = backend.xp.from_dlpack(ext)
    else:
        raise TypeError(f"from_dlpack: memory on DLPack device type {int(kind)} (index "
                        f"{index}) is not supported; minigrad takes CPU and CUDA memory")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"from_dlpack: cannot take an array of dtype {array.dtype}")
    return Tensor._wrap(array, backend)


def dlpack(self: "Tensor", *, stream: Any = None, max_version: Any = None,
           dl_device: Any = None, copy: Any = None) -> Any:
    """``Tensor.__dlpack__``: the tensor's memory as a DLPack capsule (the array library's
    own export, so the consumer's stream and version negotiation are honoured)."""
    if self._requires_grad:
        raise RuntimeError("can't export a tensor that requires grad through DLPack: "
                           "use tensor.detach()")
    options = {"stream": stream, "max_version": max_version, "dl_device": dl_device,
               "copy": copy}
    return self._data.__dlpack__(**{k: v for k, v in options.items() if v is not None})


def dlpack_device(self: "Tensor") -> tuple:
    """``Tensor.__dlpack_device__``: (DLPack device type, device index)."""
    return self._data.__dlpack_device__()


def cuda_array_interface(self: "Tensor") -> dict:
    """``Tensor.__cuda_array_interface__``, for CUDA tensors only (Numba, CuPy, PyTorch
    read it); other tensors have no such attribute, so ``hasattr`` says False."""
    interface = getattr(self._data, "__cuda_array_interface__", None)
    if interface is None:
        raise AttributeError(f"a tensor on {self.device} has no __cuda_array_interface__: "
                             "only CUDA tensors have one (use __dlpack__)")
    if self._requires_grad:
        raise RuntimeError("can't export a tensor that requires grad through "
                           "__cuda_array_interface__: use tensor.detach()")
    return interface
