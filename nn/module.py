"""Module: the container that owns parameters, buffers and sub-modules, as in PyTorch.

Names and orders are PyTorch's (``state_dict`` lists each module's parameters, then its
persistent buffers, then its children's), so checkpoints move both ways. A parameter
reachable by several names (tied weights: ``decoder.weight = embedding.weight``) is one
Parameter: ``parameters()`` lists it once, ``state_dict`` under every name, and loading
either name writes into it, so the tie survives a save and load.
"""
from __future__ import annotations

import functools
import inspect
import numbers
import warnings
from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Optional

import numpy as np

import minigrad as mg

from .backward_hooks import BackwardHook
from .parameter import Parameter


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not match: keys the model has that the checkpoint
    lacks, and keys the checkpoint has that the model lacks."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")

    __str__ = __repr__


class _Hook:
    """One registered hook; compared by identity, so its handle removes exactly it."""

    __slots__ = ("fn", "with_kwargs", "always_call")

    def __init__(self, fn: Callable, with_kwargs: bool = False,
                 always_call: bool = False) -> None:
        self.fn, self.with_kwargs, self.always_call = fn, with_kwargs, always_call


def _add_hook(hooks: list, hook: _Hook, prepend: bool) -> mg.RemovableHandle:
    hooks.insert(0, hook) if prepend else hooks.append(hook)
    return mg.RemovableHandle(hooks, hook)


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name must not contain "." (got "{name}")')
    if name == "":
        raise KeyError(f"{kind} name must not be the empty string")


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (nested reprs)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line if line.strip() else "" for line in rest])


# What a constructor's annotations promise, checked before it runs (so ``Linear(None, 3)``
# says which argument is wrong instead of failing deep inside).
def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_pair(v: Any) -> bool:
    return _is_int(v) or isinstance(v, (tuple, list)) and all(_is_int(x) for x in v)


_PROMISES = {
    "int": (_is_int, "an int"),
    "Optional[int]": (lambda v: v is None or _is_int(v), "an int or None"),
    "float": (lambda v: isinstance(v, numbers.Real), "a number"),
    "Optional[float]": (lambda v: v is None or isinstance(v, numbers.Real), "a number or None"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "IntPair": (_is_pair, "an int or a tuple of ints"),
    "Optional[IntPair]": (lambda v: v is None or _is_pair(v), "an int, a tuple of ints or None"),
    "Union[IntPair, str]": (lambda v: isinstance(v, str) or _is_pair(v),
                            "an int, a tuple of ints or a string"),
    "Union[int, Sequence[int]]": (_is_pair, "an int or a sequence of ints"),
    "ParamsT": (lambda v: hasattr(v, "__iter__") and not isinstance(v, (str, bytes, dict)),
                "an iterable of tensors or of dicts"),
    "Optimizer": (lambda v: hasattr(v, "param_groups"), "an Optimizer"),
    "Iterable[int]": (lambda v: isinstance(v, (list, tuple, range)) and all(map(_is_int, v)),
                      "a sequence of ints"),
    "tuple[float, float]": (lambda v: isinstance(v, (tuple, list)) and len(v) == 2 and
                            all(isinstance(x, numbers.Real) for x in v), "a pair of numbers"),
    "Union[float, list[float]]": (lambda v: isinstance(v, numbers.Real) or isinstance(
        v, (list, tuple)) and all(isinstance(x, numbers.Real) for x in v),
        "a number or a list of numbers"),
    "Union[LrLambda, Sequence[LrLambda]]": (lambda v: callable(v) or isinstance(
        v, (list, tuple)) and all(map(callable, v)), "a function or a list of functions"),
}


def _checked_init(init: Callable, own_words: bool = False) -> Callable:
    """``init`` checking its arguments against their annotations first; its errors are
    raised again with the layer's name in front (as ``Linear: ...``). With ``own_words``
    (optimizers and schedules, whose messages are PyTorch's, word for word) ``init`` runs
    first and says what it says; the annotations are checked after it, or when it failed
    with a message that names no argument."""
    signature = inspect.signature(init)
    promises = {name: _PROMISES[str(p.annotation)] for name, p in signature.parameters.items()
                if str(p.annotation) in _PROMISES}

    def broken(layer: str, bound: dict, message: str = "") -> Optional[TypeError]:
        """The first argument that breaks its annotation's promise (and that ``message``
        does not already talk about), as an error."""
        for name, (keeps, what) in promises.items():
            if name in bound and not keeps(bound[name]) and name not in message:
                value = bound[name]
                if what == "an Optimizer":  # PyTorch's words
                    return TypeError(f"{layer}: {type(value).__name__} is not an Optimizer")
                return TypeError(f"{layer}: {name} must be {what}, got {value!r}")
        return None

    @functools.wraps(init)
    def __init__(self: "Module", *args: Any, **kwargs: Any) -> None:
        layer = type(self).__name__
        try:
            bound = signature.bind(self, *args, **kwargs).arguments
        except TypeError as exc:
            raise TypeError(f"{layer}: {exc}") from None
        if own_words:
            try:
                init(self, *args, **kwargs)
            except (TypeError, ValueError, AttributeError) as exc:
                error = broken(layer, bound, str(exc))
                if error is None:
                    raise
                raise error from exc
            error = broken(layer, bound)
            if error is not None:
                raise error
            return
        error = broken(layer, bound)
        if error is not None:
            raise error
        try:
            init(self, *args, **kwargs)
        except (TypeError, ValueError, IndexError, RuntimeError, OverflowError) as exc:
            if isinstance(exc, (NotImplementedError, RecursionError)) or \
                    str(exc).startswith(layer + ":") and type(exc) in (TypeError, ValueError,
                                                                       IndexError, RuntimeError):
                raise
            kind = next(t for t in (TypeError, ValueError, IndexError, RuntimeError)
                        if isinstance(exc, t)) if not isinstance(exc, OverflowError) \
                else RuntimeError
            raise kind(f"{layer}: {exc}") from exc
    return __init__


def _stranger(args: tuple, exc: Exception) -> Optional[tuple]:
    """(position, argument) of the input that was no tensor: the first argument if it is
    neither a tensor nor a structure of them, or a later one when Python says an attribute
    was missing on that very type."""
    for i, arg in enumerate(args):
        if i == 0 and not isinstance(arg, mg.Tensor) and not hasattr(arg, "_fields"):
            return i, arg  # (a named tuple, as a PackedSequence, is a structure of tensors)
        if i and isinstance(exc, AttributeError) and not isinstance(arg, mg.Tensor) and \
                f"'{type(arg).__name__}' object" in str(exc):
            return i, arg
    return None


class Module:
    """Base class of every layer: assign Parameters and Modules as attributes and
    they are registered, named with PyTorch's dotted names."""

    training: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _checked_init(cls.__dict__["__init__"])

    def __init__(self) -> None:
        for name, value in (("_parameters", OrderedDict()), ("_buffers", OrderedDict()),
                            ("_non_persistent_buffers", set()), ("_modules", OrderedDict()),
                            ("_forward_pre_hooks", []), ("_forward_hooks", []),
                            ("_backward_pre_hooks", []), ("_backward_hooks", []),
                            ("training", True)):
            object.__setattr__(self, name, value)

    # -- registration -----------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() was called")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            _check_name("parameter", name)
            modules.pop(name, None)
            buffers.pop(name, None)
            self._non_persistent_buffers.discard(name)
            params[name] = value
        elif isinstance(value, Module):
            _check_name("module", name)
            params.pop(name, None)
            buffers.pop(name, None)
            self._non_persistent_buffers.discard(name)
            modules[name] = value
        elif name in buffers:
            if value is not None and not isinstance(value, mg.Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r}: "
                                "use a Tensor or None")
            buffers[name] = value
        elif name in params or name in modules:
            if value is not None:
                kind = "parameter" if name in params else "module"
                wanted = "Parameter" if kind == "parameter" else "Module"
                raise TypeError(f"cannot assign a {type(value).__name__} to {kind} {name!r}: "
                                f"use a {wanted} or None")
            (params if name in params else modules)[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        self._non_persistent_buffers.discard(name)
        object.__delattr__(self, name)

    def _check_new(self, kind: str, name: Any, registry: Mapping) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register {kind} {name!r} before Module.__init__() "
                                 "was called")
        _check_name(kind, name)
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute {name!r} already exists in {type(self).__name__}")

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Add a parameter (None: a declared slot, absent from the state dict)."""
        self._check_new("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register a {type(param).__name__} as parameter {name!r}: "
                            "use a Parameter or None")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Optional[mg.Tensor],
                        persistent: bool = True) -> None:
        """A tensor that is part of the state (moved by ``to()``; in ``state_dict`` if
        persistent) but not learned: running statistics, masks, step counters."""
        self._check_new("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, mg.Tensor):
            raise TypeError(f"cannot register a {type(tensor).__name__} as buffer {name!r}: "
                            "use a Tensor or None")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new("module", name, self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    # -- traversal --------------------------------------------------------------
    def named_modules(self, memo: Optional[set] = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """Every module in the tree, depth first, self first (named ``prefix``). A module
        reachable twice is listed once unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if module in memo:
                continue
            if remove_duplicate:
                memo.add(module)
            yield name, module
            stack.extend(reversed([(f"{name}.{n}" if name else n, m)
                                   for n, m in module._modules.items() if m is not None]))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen: set = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, members: Callable[["Module"], Any], prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen: set = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, value in members(module):
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                   remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, mg.Tensor]]:
        """Buffers, persistent or not (``state_dict`` has only the persistent ones)."""
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                   remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[mg.Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """The module at dotted path ``target`` ("" is self)."""
        module = self
        if target == "":
            return module
        path = ""
        for item in target.split("."):
            if not hasattr(module, item):
                where = f"{type(module).__name__} at {path!r}" if path else type(module).__name__
                raise AttributeError(f"get_submodule({target!r}): {where} has no attribute "
                                     f"{item!r}")
            module = getattr(module, item)
            path = f"{path}.{item}" if path else item
            if not isinstance(module, Module):
                raise AttributeError(f"get_submodule({target!r}): {path!r} is a "
                                     f"{type(module).__name__}, not a Module")
        return module

    def _get_member(self, target: str, kind: str, registry: str) -> Any:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in getattr(module, registry):
            problem = f"{type(module).__name__} has no {kind} {name!r}"
            if hasattr(module, name):
                problem += f" (it is a {type(getattr(module, name)).__name__})"
            raise AttributeError(f"get_{kind}({target!r}): {problem}")
        return getattr(module, registry)[name]

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (e.g. ``"encoder.0.weight"``)."""
        return self._get_member(target, "parameter", "_parameters")

    def get_buffer(self, target: str) -> mg.Tensor:
        return self._get_member(target, "buffer", "_buffers")

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every sub-module (children before their parent), then on self:
        the way to a custom initialisation (``model.apply(init_weights)``)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode here and (through their own ``train``) in every child."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {mode!r}")
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (``set_to_none=False``: zero it instead)."""
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
    def state_dict(self, destination: Optional[dict] = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, mg.Tensor]":
        """Parameters and persistent buffers by dotted name: each module's own, then its
        children's. Values are detached (saving records nothing) unless ``keep_vars``.
        A tied parameter appears under each of its names."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=f"{prefix}{name}.",
                             keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> _IncompatibleKeys:
        """Copy values in by name (NumPy arrays or tensors, cast to each target's dtype);
        the Parameter objects stay, so ties and optimizer references survive. Strict: the
        keys must match. Every value is checked (shape, numbers) and converted before
        anything is copied, so a failed load changes nothing. Returns the missing and unexpected keys (as PyTorch does)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict for {type(self).__name__}: expected a state dict "
                            f"(a mapping of names to tensors), got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
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
            # a tensor already on the model's device is copied there, not through the host
            source = value.detach() if isinstance(value, mg.Tensor) else np.asarray(value)
            if source.dtype.kind not in "biufc":
                raise TypeError(f"load_state_dict: {key!r} holds {source.dtype} values, "
                                "not numbers")
            # converted before any write
            updates.append((target, mg.tensor(source, dtype=target.dtype, device=target.device)))
        for target, new in updates:
            target.data = new
        return _IncompatibleKeys(missing, unexpected)

    # -- devices and dtypes -------------------------------------------------------------
    def _apply_to_tensors(self, convert: Callable[[mg.Tensor], mg.Tensor]) -> "Module":
        """Replace the values of every parameter, buffer and gradient with ``convert``'s,
        keeping the tensor objects (ties and optimizer references survive)."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.data = convert(t.detach())
            if t.grad is not None:
                t.grad = convert(t.grad)
        return self

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` or keywords:
        move every parameter and buffer; a dtype casts only the floating-point ones."""
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        for ignored in ("non_blocking", "memory_format"):
            kwargs.pop(ignored, None)
        if kwargs:
            raise TypeError(f"Module.to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, mg.Tensor):
                device, dtype = arg.device, arg.dtype
            elif _as_dtype(arg) is not None:
                dtype = arg
            elif arg is not None and not isinstance(arg, bool):  # bool: non_blocking
                device = arg
        if dtype is not None and getattr(_as_dtype(dtype), "kind", "") not in ("f", "c"):
            raise TypeError(f"Module.to() only casts to floating-point or complex dtypes, "
                            f"got {dtype!r}")

        def convert(t: mg.Tensor) -> mg.Tensor:
            if device is not None:
                t = t.to(device)
            return t.to(dtype) if dtype is not None and t.dtype.kind in "fc" else t

        return self._apply_to_tensors(convert)

    def type(self, dst_type: Any) -> "Module":
        """Cast every parameter and buffer, integer ones included, to ``dst_type``."""
        return self._apply_to_tensors(lambda t: t.type(dst_type))

    def float(self) -> "Module":
        return self.to(mg.float32)

    def double(self) -> "Module":
        return self.to(mg.float64)

    def half(self) -> "Module":
        return self.to(mg.float16)

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device: Any = None) -> "Module":
        return self.to("cuda" if device is None else
                       f"cuda:{device}" if isinstance(device, int) else device)

    # -- hooks ---------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> mg.RemovableHandle:
        """``hook(module, args)`` runs before forward and may return new args (a single
        value is wrapped in a tuple); with ``with_kwargs``, ``hook(module, args, kwargs)``
        may return ``(args, kwargs)``."""
        return _add_hook(self._forward_pre_hooks, _Hook(hook, with_kwargs), prepend)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False, always_call: bool = False
                              ) -> mg.RemovableHandle:
        """``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
        ``with_kwargs``) runs after forward and may return a replacement output;
        ``always_call`` runs it even when forward raises."""
        return _add_hook(self._forward_hooks, _Hook(hook, with_kwargs, always_call), prepend)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False
                                        ) -> mg.RemovableHandle:
        """``hook(module, grad_output)`` runs when the gradients w.r.t. the module's
        outputs are known, and may return replacements."""
        return _add_hook(self._backward_pre_hooks, _Hook(hook), prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False
                                    ) -> mg.RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs once per backward through the
        module, with tuples of the gradients w.r.t. its positional inputs and its outputs
        (None where an entry is no tensor or gets no gradient), and may return a
        replacement ``grad_input``."""
        return _add_hook(self._backward_hooks, _Hook(hook), prepend)

    # -- calling and printing ------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What calling the module computes; every layer defines its own."""
        raise TypeError(f"{type(self).__name__} is a Module without a forward() method: "
                        "define forward() in the subclass to make it callable")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks):
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(args, kwargs)
        except (AttributeError, TypeError) as exc:  # say so when the input was no tensor
            stranger = _stranger(args, exc)
            if stranger is None and (args or kwargs) or type(self).__name__ in str(exc):
                raise
            position, arg = stranger if args else (0, None)
            what = "nothing" if not args else f"{type(arg).__name__} {arg!r}"
            raise TypeError(f"{type(self).__name__}: expected a tensor as input "
                            f"{position + 1}, got {what}") from exc

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        called: set = set()
        result = None
        try:
            for hook in list(self._forward_pre_hooks):
                if hook.with_kwargs:
                    new = hook.fn(self, args, kwargs)
                    if new is not None:
                        if not (isinstance(new, tuple) and len(new) == 2):
                            raise RuntimeError("a forward pre-hook with kwargs must return None "
                                               f"or (args, kwargs), got {new!r}")
                        args, kwargs = new
                else:
                    new = hook.fn(self, args)
                    if new is not None:
                        args = new if isinstance(new, tuple) else (new,)
            backward_hook = None
            if self._backward_hooks or self._backward_pre_hooks:
                backward_hook = BackwardHook(self, [h.fn for h in self._backward_hooks],
                                             [h.fn for h in self._backward_pre_hooks])
                args = backward_hook.wrap_inputs(args)
            result = self.forward(*args, **kwargs)
            for hook in list(self._forward_hooks):
                called.add(hook)
                new = hook.fn(self, args, kwargs, result) if hook.with_kwargs else \
                    hook.fn(self, args, result)
                if new is not None:
                    result = new
            if backward_hook is not None:
                result = backward_hook.wrap_outputs(result)
            return result
        except Exception:
            for hook in self._forward_hooks:
                if hook.always_call and hook not in called:
                    try:
                        hook.fn(self, args, kwargs, result) if hook.with_kwargs else \
                            hook.fn(self, args, result)
                    except Exception as exc:  # the forward's own error is the one to see
                        warnings.warn(f"a forward hook with always_call=True raised {exc!r} "
                                      "while handling an error in forward", stacklevel=2)
            raise

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's settings, shown inside its repr (e.g. ``in_features=2, ...``)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(m), 2)
                       for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if len(extra_lines) == 1 and not child_lines:
            text += extra_lines[0]
        elif lines:
            text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


def _as_dtype(value: Any) -> Optional[np.dtype]:
    """``value`` as a dtype, or None if it names none (a device, say)."""
    if value is None or isinstance(value, (bool, int, mg.device)):
        return None
    try:
        return np.dtype(value)
    except TypeError:
        return None
