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

from itertools import count
from typing import Any, Callable, Optional, Sequence

from . import grad_mode
from .backends import current_backend

Rule = Callable[..., Any]

REGISTRY: dict[str, "Primitive"] = {}
_tape_position = count()


class Node:
    """One recorded application of a primitive: what backward needs to revisit it."""

    __slots__ = ("prim", "parents", "args", "params", "seq", "versions", "out_version")

    def __init__(self, prim: "Primitive", parents: tuple, args: tuple, params: dict,
                 versions: tuple, out_version: int) -> None:
        self.prim = prim
        self.parents = parents      # input Tensors (None where the input was a constant)
        self.args = args            # the raw arrays/constants the forward saw
        self.params = params
        self.seq = next(_tape_position)
        self.versions = versions
        self.out_version = out_version

    def release(self) -> None:
        """Free the saved inputs (what backward without retain_graph does)."""
        self.parents = None
        self.args = None


class Primitive:
    """A differentiable operation. Calling it applies it to Tensors and records it."""

    moves_device = False  # True only for the transfer primitive: output on params["target"]

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

    def rule_for(self, index: int) -> Optional[Rule]:
        if self.vjp_all is not None:
            rule = self.vjp_all
            return lambda xp, g, out, *args, **params: rule(xp, g, out, *args, index=index, **params)
        if index < len(self.vjps):
            return self.vjps[index]
        return None

    def __call__(self, *inputs: Any, **params: Any) -> "Tensor":
        backend = None
        args = []
        needs_grad = False
        for value in inputs:
            if isinstance(value, Tensor):
                if backend is None:
                    backend = value._backend
                elif value._backend is not backend:
                    raise RuntimeError(
                        "Expected all tensors to be on the same device, but found at least "
                        f"two devices, {backend.device} and {value._backend.device}! "
                        f"(when checking arguments for {self.name})")
                args.append(value._data)
                needs_grad = needs_grad or value._requires_grad
            elif isinstance(value, (list, tuple)):
                args.append(tensor(value)._data)
            else:
                args.append(value)
        if backend is None:
            backend = current_backend()
        out = Tensor._wrap(self.forward(backend, *args, **params),
                           params["target"] if self.moves_device else backend)
        if needs_grad and grad_mode._mode.enabled:
            parents = tuple(v if isinstance(v, Tensor) and v._requires_grad else None
                            for v in inputs)
            versions = tuple(p._version if p is not None else 0 for p in parents)
            out._requires_grad = True
            out._node = Node(self, parents, tuple(args), params, versions, 0)
        return out


def primitive(name: str, forward: Callable[..., Any], *vjps: Optional[Rule]) -> Primitive:
    """Declare a primitive with one gradient rule per input (None: not differentiable)."""
    return Primitive(name, forward, vjps=vjps)


def variadic_primitive(name: str, forward: Callable[..., Any], vjp: Rule) -> Primitive:
    """Declare a primitive over any number of inputs; ``vjp`` receives ``index=``."""
    return Primitive(name, forward, vjp_all=vjp)


from .tensor import Tensor, tensor  # noqa: E402  (Tensor methods call primitives)
