"""Primitives: each declared once, forward beside its vector-Jacobian products.

A primitive is a forward function ``forward(xp, *inputs, **params)`` and one
gradient rule per differentiable input, ``rule(xp, g, out, *inputs, **params)``
returning that input's share of the gradient. ``xp`` is NumPy-like: the backend's
array module when backward records nothing (fast, no Tensor objects), or
``minigrad.ops`` when ``create_graph=True``, so the very same rule is recorded
on the tape and can be differentiated again. Broadcasting is undone centrally
by the tape (:func:`minigrad.autograd.unbroadcast`), never in a rule.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import count
from typing import Any, Callable, Optional, Sequence

from . import grad_mode
from .backends import current_backend

Rule = Callable[..., Any]

REGISTRY: dict[str, "Primitive"] = {}

# One clock orders the tape and stamps in-place changes: a node records the time it
# was made, an in-place change sets the tensor's ``_version`` to the time it happened,
# so "changed after it was saved" is a single comparison (see autograd._check_saved).
clock = count(1)


class Node:
    """One recorded application of a primitive: what backward needs to revisit it."""

    __slots__ = ("prim", "parents", "args", "params", "seq")

    def __init__(self, prim: "Primitive", parents: tuple, args: list, params: dict) -> None:
        self.prim = prim
        self.parents = parents      # input Tensors that need a gradient (None elsewhere)
        self.args = args            # the raw arrays/constants the forward saw
        self.params = params
        self.seq = next(clock)      # position on the tape

    def release(self) -> None:
        """Free the saved inputs (what backward without retain_graph does)."""
        self.parents = None
        self.args = None


@lru_cache(maxsize=4096)
def _constant(value: float, dtype: Any, backend: Any) -> Any:
    """A Python float as a 0-d array of the tensor's dtype: float32 stays float32 under
    any NumPy promotion rules, and NumPy multiplies by a 0-d array twice as fast."""
    return backend.asarray(value, dtype=dtype)


class Primitive:
    """A differentiable operation. Calling it applies it to Tensors and records it."""

    moves_device = False  # True only for the transfer primitive: output on params["target"]
    # Optional fast paths for plain backward: {input index: fn(gradient_sum, g, out, *args,
    # **params) -> bool} adding the contribution straight into a GradientSum (see there).
    accumulators: Optional[dict] = None

    def __init__(self, name: str, forward: Callable[..., Any],
                 vjps: Optional[Sequence[Optional[Rule]]] = None,
                 vjp_all: Optional[Rule] = None) -> None:
        if name in REGISTRY:
            raise ValueError(f"primitive {name!r} is already registered")
        self.name = name
        self.forward = forward
        self.vjps = tuple(vjps) if vjps is not None else None
        self.vjp_all = vjp_all      # variadic primitives: one rule, told which input
        REGISTRY[name] = self

    def __repr__(self) -> str:
        return f"<minigrad primitive {self.name}>"

    def _device_error(self, first: Any, second: Any) -> RuntimeError:
        return RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            f"{first.device} and {second.device}! (when checking arguments for {self.name})")

    def __call__(self, *inputs: Any, **params: Any) -> "Tensor":
        backend = None
        dtype = None
        args = []
        parents = []
        needs_grad = False
        floats = False
        for value in inputs:
            if type(value) is Tensor or isinstance(value, Tensor):
                if backend is None:
                    backend = value._backend
                    dtype = value._data.dtype
                elif value._backend is not backend:
                    raise self._device_error(backend, value._backend)
                args.append(value._data)
                if value._requires_grad:
                    needs_grad = True
                    parents.append(value)
                else:
                    parents.append(None)
            else:
                if type(value) is float:
                    floats = True
                elif isinstance(value, (list, tuple)):
                    value = tensor(value)._data
                args.append(value)
                parents.append(None)
        if backend is None:
            backend = current_backend()
        elif floats and dtype.kind == "f":
            args = [_constant(a, dtype, backend) if type(a) is float else a for a in args]
        out = self.forward(backend, *args, **params)
        t = Tensor._wrap(out, params["target"] if self.moves_device else backend)
        if needs_grad and grad_mode._mode.enabled:
            t._requires_grad = True
            t._node = Node(self, tuple(parents), args, params)
        return t


def primitive(name: str, forward: Callable[..., Any], *vjps: Optional[Rule]) -> Primitive:
    """Declare a primitive with one gradient rule per input (None: not differentiable)."""
    return Primitive(name, forward, vjps=vjps)


def variadic_primitive(name: str, forward: Callable[..., Any], vjp: Rule) -> Primitive:
    """Declare a primitive over any number of inputs; ``vjp`` receives ``index=``."""
    return Primitive(name, forward, vjp_all=vjp)


from .tensor import Tensor, tensor  # noqa: E402  (Tensor methods call primitives)
