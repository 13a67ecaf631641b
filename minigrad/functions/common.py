"""Small helpers every public function module shares."""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor, tensor


def as_tensor(x: Any, like: Any = None) -> Tensor:
    """``x`` itself if it is a Tensor, else a new tensor (on ``like``'s device if given)."""
    if isinstance(x, Tensor):
        return x
    out = tensor(x) if like is None else tensor(x, device=like._backend)
    if out.dtype.kind not in "biufc":  # strings and bytes: NumPy would keep them as text
        raise TypeError(f"cannot make a tensor from {type(x).__name__} data {x!r}")
    return out


def on_host(name: str, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """Apply the array module's ``name`` to ``x``'s array: for results with no gradient
    (boolean tests, indices, counts), which are never recorded."""
    backend = x._backend
    return Tensor._wrap(getattr(backend.xp, name)(x._data, *args, **kwargs), backend)


def integer_index(op: str, index: Any, like: Tensor) -> Tensor:
    """An integer index tensor; floats and bools are refused with the op's name."""
    index = as_tensor(index, like)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {index.dtype}")
    if index._backend is not like._backend:
        raise RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            f"{like.device} and {index.device}! (when checking arguments for {op})")
    return index
