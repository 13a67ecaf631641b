"""Pickling and copying tensors (bound onto ``Tensor`` at the end of ``tensor.py``).

A backend holds an array *module*, which cannot be pickled and would be wrong on another
machine anyway, so a tensor travels as its host NumPy array plus its backend's *name*,
looked up again with ``get_backend`` when it is rebuilt (a CuPy tensor pickles its host
copy and lands on the GPU again). The class travels by reference, so a ``Parameter``
comes back a ``Parameter``; attributes a subclass adds (its ``__dict__`` and any slots of
its own) travel with it. As in PyTorch, pickling keeps ``requires_grad`` but not ``.grad``
nor hooks, and rebuilds a leaf; ``copy.deepcopy`` copies ``.grad`` too and refuses a
non-leaf that requires grad, whose graph cannot be copied. ``copy.copy`` goes through
``__reduce_ex__`` and, as in PyTorch, shares the array on the CPU.

Identity is kept by the pickle and deepcopy memos: a Parameter used twice in a module (tied
weights) is one object in the copy too.
"""
from __future__ import annotations

import copy
from typing import Optional, Union

import numpy

from .backends import ArrayBackend, get_backend
from .tensor import Tensor

__all__ = ["reduce_tensor", "deepcopy_tensor", "rebuild_tensor"]

_TENSOR_SLOTS = frozenset(Tensor.__slots__) | {"__dict__", "__weakref__"}


def reduce_tensor(self: Tensor, protocol: int) -> tuple:
    """``Tensor.__reduce_ex__``: rebuild with :func:`rebuild_tensor` from plain data."""
    args = (type(self), self.numpy(), self._backend.name, self.requires_grad)
    state = _extra_state(self)
    return (rebuild_tensor, args, state) if state else (rebuild_tensor, args)


def rebuild_tensor(cls: type, array: numpy.ndarray, backend: str, requires_grad: bool,
                   device: Optional[Union[str, ArrayBackend]] = None) -> Tensor:
    """Inverse of :func:`reduce_tensor` (its name and arguments are part of the pickle
    format). ``device``, when given, overrides the recorded backend (``mg.load``'s
    ``map_location``)."""
    target = get_backend(device if device is not None else backend)
    out = cls._wrap(target.from_numpy(array), target)
    out.requires_grad = requires_grad
    return out


def deepcopy_tensor(self: Tensor, memo: dict) -> Tensor:
    """``Tensor.__deepcopy__``: a new leaf on the same device with its own copy of the
    data, the same class, ``requires_grad``, ``.grad`` and subclass attributes."""
    if not self.is_leaf and self.requires_grad:
        raise RuntimeError(
            "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
            "protocol: this tensor was computed by an operation that requires grad, and its "
            "graph cannot be copied; deepcopy t.detach() (or copy the leaves it came from)")
    new = type(self)._wrap(self._data.copy(), self._backend)
    memo[id(self)] = new  # before the attributes, so a cycle back to self finds the copy
    new.requires_grad = self.requires_grad
    if self.grad is not None:
        new.grad = copy.deepcopy(self.grad, memo)
    state = _extra_state(self)
    if state:
        _set_extra_state(new, copy.deepcopy(state, memo))
    return new


def _extra_state(t: Tensor) -> Optional[tuple]:
    """What a subclass added, as pickle's default ``BUILD`` reads it:
    ``(__dict__ or None, {slot: value})``; None when nothing was added."""
    attributes = getattr(t, "__dict__", None) or None
    slots = {name: getattr(t, name) for name in _own_slots(type(t)) if hasattr(t, name)}
    return (attributes, slots) if attributes is not None or slots else None


def _set_extra_state(t: Tensor, state: tuple) -> None:
    attributes, slots = state
    if attributes:
        t.__dict__.update(attributes)
    for name, value in slots.items():
        object.__setattr__(t, name, value)


def _own_slots(cls: type) -> list:
    """Slots declared by subclasses of Tensor (Tensor's own are the tensor itself)."""
    names = []
    for klass in cls.__mro__:
        if klass is Tensor:
            break
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else [s for s in slots
                                                          if s not in _TENSOR_SLOTS]
    return names
