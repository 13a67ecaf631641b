"""Module: the container that owns parameters and sub-modules, as in PyTorch."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Optional

import numpy as np

import minigrad as mg

from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not match: keys the model has that the checkpoint
    lacks, and keys the checkpoint has that the model lacks."""

    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of every layer: assign Parameters and Modules as attributes and
    they are registered, named with PyTorch's dotted names."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -----------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() was called")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in buffers:
            buffers[name] = value
        elif name in params or name in modules:
            if value is not None:
                kind = "parameter" if name in params else "module"
                raise TypeError(f"cannot assign a {type(value).__name__} to {kind} {name!r}: "
                                f"use a {'Parameter' if kind == 'parameter' else 'Module'} or None")
            (params if name in params else modules)[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Optional[mg.Tensor]) -> None:
        """A tensor that is part of the state (saved, moved) but not learned."""
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # -- traversal --------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        seen: set = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m)
                        for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        seen: set = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, mg.Tensor]]:
        for mod_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self) -> Iterator[mg.Tensor]:
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    # -- modes and gradients ------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = mg.zeros_like(p.grad)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # -- state ----------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, mg.Tensor]":
        """Parameters and buffers by dotted name (detached: saving records nothing)."""
        state: "OrderedDict[str, mg.Tensor]" = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p.detach()
        for name, b in self.named_buffers():
            state[name] = b.detach()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> "IncompatibleKeys":
        """Copy values in by name; NumPy arrays or tensors. Strict: the keys must match.
        Every shape is checked before anything is copied, so a failed load changes nothing.
        Returns the missing and unexpected keys (as PyTorch does)."""
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        updates = []
        for key, value in state_dict.items():
            if key not in own:
                continue
            target = own[key]
            shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
            if shape != tuple(target.shape):
                raise ValueError(f"load_state_dict: size mismatch for {key!r}: the checkpoint "
                                 f"has shape {shape}, this model has shape {tuple(target.shape)}")
            updates.append((target, value))
        for target, value in updates:
            host = value.numpy() if isinstance(value, mg.Tensor) else np.asarray(value)
            target.data = mg.tensor(host.astype(target.dtype), device=target.device)
        return IncompatibleKeys(missing, unexpected)

    # -- devices and dtypes -------------------------------------------------------------
    def to(self, target: Any) -> "Module":
        """Move every parameter and buffer to a device, or cast the float ones to a dtype."""
        casting = not isinstance(target, str) or _is_dtype_name(target)
        for t in list(self.parameters()) + list(self.buffers()):
            if casting and t.dtype.kind != "f":
                continue
            t.data = t.detach().to(target)
            if t.grad is not None:
                t.grad = t.grad.to(target)
        return self

    def float(self) -> "Module":
        return self.to(mg.float32)

    def double(self) -> "Module":
        return self.to(mg.float64)

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self) -> "Module":
        return self.to("cuda")

    # -- calling and printing ------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What calling the module computes; every layer defines its own."""
        raise TypeError(f"{type(self).__name__} is a Module without a forward() method: "
                        "define forward() in the subclass to make it callable")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _is_dtype_name(name: str) -> bool:
    try:
        np.dtype(name)
        return True
    except TypeError:
        return False

