"""Parametrizations: a module's tensor computed from unconstrained ones on every access,
as ``torch.nn.utils.parametrize`` does it.

After ``register_parametrization(module, "weight", P())``, ``module.weight`` is a
property that returns ``P()(original)``; the learned tensor lives at
``module.parametrizations.weight.original`` (or ``original0``, ``original1``, ... when
``P.right_inverse`` splits it in several, as weight normalization does), so the
state_dict keys are PyTorch's and checkpoints move both ways. Gradients flow through
``P`` into the originals: nothing here differentiates by hand.

A property lives on a class, so the first registration swaps the module's class for a
one-off subclass ``Parametrized<Class>``; removing the last parametrization restores it.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

import minigrad as mg

from ..containers import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations"]

_cache_depth = 0
_cache: dict = {}


@contextmanager
def cached() -> Iterator[None]:
    """Compute each parametrized tensor once inside the block, not once per access:
    a recurrent loop reading a parametrized weight at every step then pays for the
    parametrization once, and backward runs through it once."""
    global _cache_depth, _cache
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if not _cache_depth:
            _cache = {}


def _register(module: Module, name: str, value: mg.Tensor) -> None:
    """A Parameter stays a parameter, any other tensor becomes a buffer."""
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _check_dtype(value: Any, expected: Any, what: str) -> None:
    if not isinstance(value, mg.Tensor):
        raise ValueError(f"{what} must be a Tensor, got {type(value).__name__}")
    if value.dtype != expected:
        raise ValueError(f"{what} has dtype {value.dtype}, but the original has dtype "
                         f"{expected}; a parametrization may not change the dtype")


class ParametrizationList(ModuleList):
    """``module.parametrizations[name]``: the parametrizations of one tensor, applied in
    order, and the original tensor(s) they start from. Made by
    :func:`register_parametrization`, not by users."""

    def __init__(self, modules: Sequence[Module], original: mg.Tensor,
                 unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        with mg.no_grad():
            new: Any = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        self.is_tensor = isinstance(new, mg.Tensor)
        if self.is_tensor:
            _check_dtype(new, original.dtype, "right_inverse(original)")
            if new is not original:
                original.data = new  # the same Parameter object: optimizers keep seeing it
            _register(self, "original", original)
        elif isinstance(new, (tuple, list)):
            self.ntensors = len(new)
            for i, part in enumerate(new):
                if not isinstance(part, mg.Tensor):
                    raise ValueError(f"right_inverse must return a Tensor or a sequence of "
                                     f"Tensors; element {i} is a {type(part).__name__}")
                if isinstance(original, Parameter):
                    part = Parameter(part, requires_grad=original.requires_grad)
                else:
                    part = part.detach().requires_grad_(original.requires_grad)
                _register(self, f"original{i}", part)
        else:
            raise ValueError(f"right_inverse must return a Tensor or a sequence of Tensors, "
                             f"got {type(new).__name__}")
        if not unsafe:
            _check_consistent(self(), original, "the parametrized tensor")

    def originals(self) -> tuple:
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def forward(self) -> mg.Tensor:
        first, *rest = list(self)
        x = first(*self.originals())
        for module in rest:
            x = module(x)
        return x

    def right_inverse(self, value: mg.Tensor) -> None:
        """Assigning ``module.weight = value``: run the ``right_inverse`` of every
        parametrization, last first, and store the result in the original(s)."""
        with mg.no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       "implement right_inverse, so the parametrized tensor "
                                       "cannot be assigned to")
                value = module.right_inverse(value)
            originals = self.originals()
            parts = (value,) if self.is_tensor else value
            if not self.is_tensor and (not isinstance(value, (tuple, list))
                                       or len(value) != len(originals)):
                raise ValueError(f"right_inverse must return a sequence of {len(originals)} "
                                 f"tensors, got {type(value).__name__}")
            for i, (original, part) in enumerate(zip(originals, parts)):
                _check_dtype(part, original.dtype, f"tensor {i} returned by right_inverse")
                original.data = part


def _check_consistent(value: Any, original: mg.Tensor, what: str) -> None:
    """Without ``unsafe=True`` a parametrization keeps the tensor's shape and dtype."""
    _check_dtype(value, original.dtype, what)
    if tuple(value.shape) != tuple(original.shape):
        raise ValueError(f"{what} has shape {tuple(value.shape)}, but the original has shape "
                         f"{tuple(original.shape)}; pass unsafe=True to allow a parametrization "
                         "that changes the shape")


def _parametrized_class(cls: type) -> type:
    """The one-off subclass that can carry properties for one module."""

    def __setattr__(self: Module, name: str, value: Any) -> None:
        if is_parametrized(self, name):  # assigning to the property, never registering
            object.__setattr__(self, name, value)
        else:
            cls.__setattr__(self, name, value)

    def __getstate__(self: Module) -> None:
        raise RuntimeError("a parametrized module cannot be pickled: save its state_dict() "
                           "(keys parametrizations.<name>.original...) and load it into a "
                           "module parametrized the same way")

    def __deepcopy__(self: Module, memo: dict) -> Module:
        replica = cls.__new__(type(self))
        memo[id(self)] = replica
        object.__setattr__(replica, "__dict__", copy.deepcopy(self.__dict__, memo))
        return replica

    return type(f"Parametrized{cls.__name__}", (cls,),
                {"__setattr__": __setattr__, "__getstate__": __getstate__,
                 "__deepcopy__": __deepcopy__})


def _property(tensor_name: str) -> property:
    def get(self: Module) -> mg.Tensor:
        parametrization = self.parametrizations[tensor_name]
        if not _cache_depth:
            return parametrization()
        key = (id(self), tensor_name)
        if key not in _cache:
            _cache[key] = parametrization()
        return _cache[key]

    def set(self: Module, value: mg.Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    return property(get, set, doc=f"{tensor_name}, computed by its parametrizations")


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the
    original tensor (a parameter or buffer). Registering again on the same name chains
    parametrizations (the new one applied last). ``unsafe=True`` allows a
    parametrization that changes the shape or dtype and skips the checks."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"a parametrization is a Module, got {type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            current = getattr(module, tensor_name)
            _check_consistent(parametrization(current), current,
                              f"parametrization(module.{tensor_name})")
            if hasattr(parametrization, "right_inverse"):
                _check_consistent(parametrization.right_inverse(current), current,
                                  f"parametrization.right_inverse(module.{tensor_name})")
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"{type(module).__name__} has no parameter, buffer or parametrized "
                         f"tensor named {tensor_name!r}")
    original = getattr(module, tensor_name)
    if original is None:
        raise ValueError(f"{type(module).__name__}.{tensor_name} is None: there is no tensor "
                         "to parametrize")
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        module.__class__ = _parametrized_class(type(module))
        module.parametrizations = ModuleDict()
    setattr(type(module), tensor_name, _property(tensor_name))
    module.parametrizations[tensor_name] = plist
    return module


def is_parametrized(module: Module, tensor_name: Optional[str] = None) -> bool:
    """Whether ``module`` has a parametrization on ``tensor_name`` (on any tensor if
    None)."""
    plists = module.__dict__.get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def remove_parametrizations(module: Module, tensor_name: str,
                            leave_parametrized: bool = True) -> Module:
    """Undo :func:`register_parametrization` on ``tensor_name``: the tensor becomes a
    plain parameter (or buffer) again, holding its current parametrized value
    (``leave_parametrized=True``) or the original (only when there is one original)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"{type(module).__name__} has no parametrization on {tensor_name!r}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with mg.no_grad():
                value = getattr(module, tensor_name)
            if value.dtype != original.dtype:
                raise ValueError(f"cannot leave {tensor_name!r} parametrized: the "
                                 f"parametrization changed its dtype from {original.dtype} to "
                                 f"{value.dtype}")
            original.data = value
    elif leave_parametrized:
        requires_grad = any(t.requires_grad for t in plist.originals())
        with mg.no_grad():
            value = getattr(module, tensor_name)
        original = Parameter(value, requires_grad=True) if requires_grad else value
    else:
        raise ValueError(f"cannot remove the parametrization of {tensor_name!r} with "
                         "leave_parametrized=False: it is computed from several tensors "
                         f"(original0..original{plist.ntensors - 1}), so there is no single "
                         "original to put back")
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    _register(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module).__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class as it was before parametrizations swapped it."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)

