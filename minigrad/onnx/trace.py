"""Recording a forward pass for export: every primitive application, with all its operands.

The tape keeps only what gradient rules read: the constant in ``x + 1``, a buffer that
needs no gradient or the index array of ``table[ids]`` are not on it (``next_functions``
shows None there). An exporter needs the whole data flow, so while a forward pass runs
inside :class:`Recorder`, each application of a primitive is logged with its operands as
passed (Tensors or constants), its parameters and its result.

This file is the small adapter between the engine and the exporter, and the only part of
:mod:`minigrad.onnx` that reads engine internals:

- ``Primitive.__call__`` is wrapped while recording (calls from other threads pass through
  unlogged, and one export records at a time), and the short paths that bypass it for
  operators and elementwise methods (``Primitive.unary``, ``float_unary``, ``binary``)
  go through it instead;
- a value is identified by its array (:func:`key`), so ``detach()`` and an in-place result
  that the tape recorded (the tensor takes the new array) stay the same value, and the
  index arrays inside a primitive's parameters are found as well;
- each operand's in-place write stamp (the engine's own record, :func:`write_stamp`) is
  kept, so a constant written in place after it was used is caught, not exported with
  its later values.

Comparisons, logic and arg-reductions (``x > 0``, ``~mask``, ``argmax``) are not
primitives: they carry no gradient and never reach the tape; nor do the arrays that
factories make (``mg.zeros_like(x)``, ``mg.arange(n)``). They are logged too, at the array
backend (its ``less``, ``zeros``... are swapped for logging twins while recording), but
only when called outside a primitive's own forward.

A module the exporter lowers as a whole (``claims(module)`` true: an LSTM becomes ONNX's
``LSTM``) is logged as one :class:`ModuleCall`; the primitives it runs are not.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

import minigrad as mg
from minigrad import primitive
from minigrad.primitive import Primitive

__all__ = ["PrimitiveCall", "ModuleCall", "Recorder", "key", "host", "is_array",
           "write_stamp"]

_ONE_AT_A_TIME = threading.Lock()

# Primitive's calls that bypass __call__ for speed: routed through it while recording
SHORT_PATHS = ("unary", "float_unary", "binary")

# minigrad.ops.nondifferentiable applies the backend's function of the same name; the
# factories of minigrad.creation call the last four
UNRECORDED = ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
              "logical_and", "logical_or", "logical_not", "bitwise_and", "bitwise_or",
              "bitwise_xor", "invert", "isfinite", "isnan", "isinf",
              "sign", "floor", "ceil", "round", "argmax", "argmin", "argsort",
              "zeros", "ones", "full", "arange")


@dataclass
class PrimitiveCall:
    """One primitive application: ``output = name(*inputs, **params)`` inside ``scope``
    (the module path of the innermost module running, '' for the top). For an operation
    without gradient (UNRECORDED) the inputs and output are arrays."""
    name: str
    inputs: tuple
    params: dict
    output: Any
    scope: str
    stamps: tuple   # write_stamp of each input when it was used


@dataclass
class ModuleCall:
    """One call of a module that is exported as a whole."""
    module: Any
    scope: str
    args: tuple
    kwargs: dict
    output: Any


def key(value: Any) -> int:
    """The identity of a value: its array's (a Tensor's array, or an array itself)."""
    return id(value._data) if isinstance(value, mg.Tensor) else id(value)


def write_stamp(value: Any) -> Optional[int]:
    """When the memory behind a Tensor or array was last written in place (None: never)."""
    array = value._data if isinstance(value, mg.Tensor) else value
    if not is_array(array):
        return None
    return primitive.writes.get(id(primitive.memory_owner(array)))


def is_array(value: Any) -> bool:
    """An array as found in a primitive's parameters (NumPy or the active backend's)."""
    return hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value)


def host(value: Any) -> np.ndarray:
    """The values of a Tensor or an array as a NumPy array."""
    if isinstance(value, mg.Tensor):
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "get"):  # a CuPy array
        return value.get()
    return np.asarray(value)


class Recorder:
    """``with Recorder(model, claims) as r: model(*args)`` leaves the forward's events in
    ``r.events``, in the order they ran."""

    def __init__(self, model: Any, claims: Callable[[Any], bool], backends: Sequence[Any]
                 ) -> None:
        self.model = model
        self.claims = claims
        self.backends = list(backends)    # the array backends the forward runs on
        self.events: list = []
        self._scope: list = [""]
        self._claimed = 0
        self._inside = 0                  # depth of primitive forwards running
        self._handles: list = []
        self._original: Any = None
        self._swapped: list = []          # (backend, name, its own function)
        self._thread = threading.get_ident()

    def __enter__(self) -> "Recorder":
        _ONE_AT_A_TIME.acquire()
        try:
            for name, module in self.model.named_modules():
                self._handles.append(module.register_forward_pre_hook(
                    self._entering(name), with_kwargs=True))
                self._handles.append(module.register_forward_hook(
                    self._leaving, prepend=True, with_kwargs=True, always_call=True))
            self._patch()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._original is not None:
            Primitive.__call__ = self._original  # type: ignore[method-assign]
            for name, method in zip(SHORT_PATHS, self._short_paths):
                setattr(Primitive, name, method)
            self._original = None
            for backend, name, fn in self._swapped:
                setattr(backend, name, fn)
            self._swapped.clear()
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        _ONE_AT_A_TIME.release()

    def _logging(self) -> bool:
        return self._claimed == 0 and self._inside == 0 and \
            threading.get_ident() == self._thread

    def _patch(self) -> None:
        original = self._original = Primitive.__call__

        def recording_call(prim: Primitive, *inputs: Any, **params: Any) -> Any:
            logging = self._logging()
            self._inside += 1
            try:
                out = original(prim, *inputs, **params)
            finally:
                self._inside -= 1
            if logging:
                self.events.append(PrimitiveCall(prim.name, inputs, params, out,
                                                 self._scope[-1], _stamps(inputs)))
            return out

        Primitive.__call__ = recording_call  # type: ignore[method-assign]
        self._short_paths = [getattr(Primitive, name) for name in SHORT_PATHS]
        for name in SHORT_PATHS:
            setattr(Primitive, name, Primitive.__call__)
        for backend in self.backends:
            for name in UNRECORDED:
                fn = getattr(backend, name)
                self._swapped.append((backend, name, fn))
                setattr(backend, name, self._unrecorded(name, fn))

    def _unrecorded(self, name: str, fn: Callable) -> Callable:
        def logged(*inputs: Any, **params: Any) -> Any:
            out = fn(*inputs, **params)
            if self._logging():
                self.events.append(PrimitiveCall(name, inputs, params, out, self._scope[-1],
                                                 _stamps(inputs)))
            return out
        return logged

    def _entering(self, name: str) -> Callable:
        def hook(module: Any, args: tuple, kwargs: dict) -> None:
            self._scope.append(name)
            if self._claimed or self.claims(module):
                self._claimed += 1
        return hook

    def _leaving(self, module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        scope = self._scope.pop()
        if self._claimed:
            self._claimed -= 1
            if self._claimed == 0:
                self.events.append(ModuleCall(module, scope, args, dict(kwargs), output))


def _stamps(inputs: tuple) -> tuple:
    return tuple(write_stamp(v) for v in inputs)
