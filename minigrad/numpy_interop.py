"""NumPy functions applied to tensors: routed to minigrad, never silently detached.

Tensor's ``__array_ufunc__`` and ``__array_function__`` (NEP 13 / NEP 18) land here.
A NumPy function whose name ``minigrad.ops`` also has (that namespace keeps NumPy's
names and meanings) runs as that op, so ``np.sin(t)`` is a Tensor on the tape, as
MyGrad does. Anything else runs in NumPy on host copies, unless that would hand back
float values cut from a graph: then it raises and says what to use instead. Explicit
conversion (``np.asarray(t)``, ``t.numpy()``) goes through ``__array__`` and is unaffected.
"""
from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Callable, Optional

import numpy

from . import grad_mode, ops
from .primitive import Primitive
from .tensor import Tensor

# NumPy names whose minigrad op is spelt differently (tried after the name itself).
_ALIASES = {"absolute": "abs", "amax": "max", "amin": "min", "around": "round",
            "positive": "copy"}
# NumPy parameter names that minigrad's op spells differently, per function.
_RENAMES = {"clip": {"a_min": "min", "a_max": "max"},
            "var": {"correction": "ddof"}, "std": {"correction": "ddof"}}
# ufunc methods with a minigrad counterpart: ufunc name -> op name.
_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "amax", "minimum": "amin",
           "logical_and": "all", "logical_or": "any"}
_ACCUMULATE = {"add": "cumsum", "multiply": "cumprod"}
# What a ufunc call's keywords mean when left alone (anything else is refused).
_UFUNC_DEFAULTS = {"where": True, "casting": "same_kind", "order": "K", "subok": True,
                   "signature": None}
# NumPy functions that write into their first argument.
_WRITES_FIRST = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal",
                           "put_along_axis"})
# NumPy functions whose result does not depend on the input's values (no gradient to lose).
_VALUE_FREE = frozenset({"zeros_like", "ones_like", "empty_like", "full_like"})

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY,)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def array_ufunc(self: Tensor, ufunc: numpy.ufunc, method: str, *inputs: Any,
                **kwargs: Any) -> Any:
    """``np.<ufunc>(..., tensor, ...)``: the minigrad op of that name, else NumPy."""
    name = ufunc.__name__
    if method == "__call__" and not kwargs:  # `array * tensor` and friends: the common case
        op = _lookup(name) if getattr(numpy, name, None) is ufunc else None
        if op is not None:
            return op(*inputs)
    label = f"np.{name}" if method == "__call__" else f"np.{name}.{method}"
    call = getattr(ufunc, method)
    out = kwargs.get("out")
    if out is not None and any(o is not None for o in out):
        _check_out(label, out, inputs)
        return _numpy_fallback(label, call, inputs, kwargs)
    kwargs.pop("out", None)
    if method == "at":
        _refuse_write_into_tensor(label, inputs[0])
        _refuse_if_grad(label, inputs, kwargs)
        return _numpy_fallback(label, call, inputs, kwargs)
    target = None
    if getattr(numpy, name, None) is ufunc:  # NumPy's own ufunc, not e.g. scipy.special's
        target = {"__call__": name, "outer": name, "reduce": _REDUCE.get(name),
                  "accumulate": _ACCUMULATE.get(name)}.get(method)
    op = _lookup(target) if target else None
    if op is None:
        return _numpy_fallback(label, call, inputs, kwargs)
    dtype = kwargs.pop("dtype", None)
    if method in ("reduce", "accumulate"):
        axis = kwargs.pop("axis", 0)
        keepdims = kwargs.pop("keepdims", False)
        _refuse_unknown(label, kwargs, _UFUNC_DEFAULTS)
        x = _cast(inputs[0], dtype)
        return op(x, axis=axis, keepdims=keepdims) if method == "reduce" else op(x, axis=axis)
    _refuse_unknown(label, kwargs, _UFUNC_DEFAULTS)
    inputs = tuple(_cast(x, dtype) for x in inputs)
    if method == "outer":  # a[..., None, ...] op b: broadcasting does the rest
        a, b = inputs
        inputs = (_append_axes(a, numpy.ndim(b)), b)
    return op(*inputs)


def array_function(self: Tensor, func: Callable[..., Any], types: tuple, args: tuple,
                   kwargs: dict) -> Any:
    """``np.<function>(..., tensor, ...)``: the minigrad op of that name, else NumPy."""
    name = func.__name__
    module = getattr(func, "__module__", None) or "numpy"
    label = module.replace("numpy", "np", 1) + "." + name
    signature = _signature(func)
    bound = _bind(signature, args, kwargs)
    out = bound.arguments.get("out") if bound is not None else kwargs.get("out")
    if out is not None:
        _check_out(label, out if isinstance(out, tuple) else (out,), (args, kwargs))
        return _numpy_fallback(label, func, args, kwargs)
    if name in _WRITES_FIRST:
        _refuse_write_into_tensor(label, args[0] if args else None)
        _refuse_if_grad(label, args, kwargs)
        return _numpy_fallback(label, func, args, kwargs)
    op = None
    if bound is not None and getattr(numpy, name, None) is func:  # top-level NumPy only
        if name == "where" and len(bound.arguments) == 1:  # np.where(c) is np.nonzero(c)
            name = "nonzero"
        op = _lookup(name)
    if op is None:
        return _numpy_fallback(label, func, args, kwargs, values_matter=name not in _VALUE_FREE)
    positional, keywords = _split_arguments(name, signature, bound)
    dtype = None
    accepted = _keywords(op)
    if "dtype" in keywords and accepted is not None and "dtype" not in accepted:
        dtype = keywords.pop("dtype")
    defaults = {p.name: p.default for p in signature.parameters.values()}
    for key, value in _RENAMES.get(name, {}).items():
        defaults[value] = defaults.get(key, inspect.Parameter.empty)
    if accepted is not None:
        _refuse_unknown(label, {k: v for k, v in keywords.items() if k not in accepted},
                        defaults, accepted)
        keywords = {k: v for k, v in keywords.items() if k in accepted}
    if dtype is not None:
        positional = [_cast(x, dtype) for x in positional]
    return op(*positional, **keywords)


# -- routing helpers ---------------------------------------------------------------

def _lookup(name: str) -> Optional[Callable[..., Any]]:
    """The public op ``minigrad.ops.<name>`` (or its alias), looked up at call time so
    that ops defined after this module was imported are found too."""
    op = getattr(ops, name, None)
    if not callable(op) and name in _ALIASES:
        op = getattr(ops, _ALIASES[name], None)
    return op if callable(op) and not name.startswith("_") else None


@lru_cache(maxsize=None)
def _signature(func: Callable[..., Any]) -> Optional[inspect.Signature]:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _bind(signature: Optional[inspect.Signature], args: tuple,
          kwargs: dict) -> Optional[inspect.BoundArguments]:
    """The call's arguments by name; None where they do not fit (NumPy then says why)."""
    if signature is None:
        return None
    try:
        return signature.bind(*args, **kwargs)
    except TypeError:
        return None


@lru_cache(maxsize=None)
def _keywords(op: Callable[..., Any]) -> Optional[frozenset]:
    """The keyword names ``op`` takes; None where it takes any (``**params``)."""
    target = op.forward if isinstance(op, Primitive) else op
    signature = _signature(target)
    if signature is None:
        return None
    params = list(signature.parameters.values())[1 if isinstance(op, Primitive) else 0:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in _NAMED)


def _split_arguments(name: str, signature: inspect.Signature,
                     bound: inspect.BoundArguments) -> tuple[list, dict]:
    """The array argument (and positional-only ones) by position, the rest by name."""
    renames = _RENAMES.get(name, {})
    positional, keywords = [], {}
    for i, (pname, value) in enumerate(bound.arguments.items()):
        kind = signature.parameters[pname].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            positional.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            keywords.update(value)
        elif (i == 0 or kind in _POSITIONAL) and pname != "dtype":
            positional.append(value)
        else:
            keywords[renames.get(pname, pname)] = value
    return positional, keywords


def _refuse_unknown(label: str, keywords: dict, defaults: dict,
                    accepted: Optional[frozenset] = None) -> None:
    """Keywords left at NumPy's default are dropped; any other value is refused."""
    for key, value in keywords.items():
        if not _is_default(value, defaults.get(key, inspect.Parameter.empty)):
            takes = f" (minigrad's takes {', '.join(sorted(accepted))})" if accepted else ""
            raise TypeError(f"{label}: argument {key}={value!r} is not supported on "
                            f"minigrad tensors{takes}")


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    return (default is not inspect.Parameter.empty and type(value) is type(default)
            and isinstance(value, (bool, int, float, str)) and value == default)


def _cast(value: Any, dtype: Any) -> Any:
    """Apply a NumPy ``dtype=`` by casting the inputs (differentiably for tensors)."""
    if dtype is None:
        return value
    if isinstance(value, (Tensor, numpy.ndarray)):
        return value.astype(dtype)
    if type(value) in (tuple, list):
        return type(value)(_cast(v, dtype) for v in value)
    return value


def _append_axes(value: Any, count: int) -> Any:
    if not count or not hasattr(value, "shape"):
        return value
    shape = tuple(value.shape) + (1,) * count
    return ops.reshape(value, shape) if isinstance(value, Tensor) else value.reshape(shape)


# -- the NumPy fallback and its refusals ---------------------------------------------

def _numpy_fallback(label: str, call: Callable[..., Any], args: Any, kwargs: dict,
                    values_matter: bool = True) -> Any:
    """Run NumPy on host copies; refuse to return floats cut from a graph."""
    result = call(*_to_host(args), **_to_host(kwargs))
    if values_matter and _has_float(result) and _needs_grad((args, kwargs)):
        raise TypeError(
            f"{label}() has no minigrad counterpart: on a tensor that requires grad it would "
            "return a NumPy array cut from the graph, silently stopping gradients. Use the "
            "minigrad operation (a Tensor method or an mg.* function) instead, or convert "
            "explicitly with t.detach().numpy() where no gradient is wanted")
    return result


def _check_out(label: str, out: tuple, args: Any) -> None:
    if any(isinstance(o, Tensor) for o in out):
        raise TypeError(
            f"{label}(..., out=tensor): NumPy cannot write into a minigrad tensor behind the "
            "tape; use the returned Tensor, or assign with t[...] = value inside mg.no_grad()")
    if _needs_grad(args):
        raise TypeError(
            f"{label}(..., out=array) would store values of a tensor that requires grad in a "
            "NumPy array, cutting the graph; drop out= to get a differentiable Tensor, or "
            "pass t.detach().numpy() where no gradient is wanted")


def _refuse_write_into_tensor(label: str, target: Any) -> None:
    if isinstance(target, Tensor):
        raise TypeError(
            f"{label}() would write into a minigrad tensor's memory behind the tape; assign "
            "with t[index] = value (inside mg.no_grad() for a tensor that requires grad)")


def _refuse_if_grad(label: str, args: Any, kwargs: dict) -> None:
    if _needs_grad((args, kwargs)):
        raise TypeError(
            f"{label}() would copy values of a tensor that requires grad into a NumPy array, "
            "cutting the graph; pass t.detach().numpy() where no gradient is wanted")


def _needs_grad(args: Any) -> bool:
    if not grad_mode.is_grad_enabled():
        return False
    return any(isinstance(v, Tensor) and v.requires_grad for v in _leaves(args))


def _leaves(args: Any) -> list:
    """Everything inside nested tuples, lists and dicts (iteratively)."""
    found, stack = [], [args]
    while stack:
        value = stack.pop()
        if type(value) in (tuple, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        else:
            found.append(value)
    return found


def _to_host(value: Any) -> Any:
    """Tensors (also inside tuples, lists and dicts) replaced by host NumPy arrays."""
    if isinstance(value, Tensor):
        return value.numpy()
    if type(value) in (tuple, list):
        return type(value)(_to_host(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    return value


def _has_float(result: Any) -> bool:
    return any(isinstance(v, (numpy.ndarray, numpy.generic, float, complex))
               and numpy.asarray(v).dtype.kind in "fc" for v in _leaves(result))
