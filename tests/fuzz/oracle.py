"""The PyTorch oracle: the same call in PyTorch, its outcome held against minigrad's.

Both may fail (then only our message is judged, in harness.py); if one works and the other
fails, or both work with different results, the call must be one of the documented
differences (differences.py), or the test fails.
"""
from __future__ import annotations

from typing import Any, Callable

import minigrad as mg
import differences
from harness import (assert_same, compare_gradients, finite, float_leaves, outcome, to_torch,
                     torch)
from strategies import Spec


def restored(fn: Callable) -> Any:
    """Run ``fn``; give back whatever global state it changed (default dtype, backend,
    grad mode, random state) in minigrad and in PyTorch."""
    dtype, backend, grad = mg.get_default_dtype(), mg.current_backend(), mg.is_grad_enabled()
    state = mg.get_rng_state()
    tdtype = torch.get_default_dtype() if torch is not None else None
    try:
        return fn()
    finally:
        mg.set_default_dtype(dtype)
        mg.set_backend(backend)
        mg.set_grad_enabled(grad)
        mg.set_rng_state(state)
        if torch is not None:
            torch.set_default_dtype(tdtype)
            torch.set_grad_enabled(True)


# Where PyTorch wants a tensor, minigrad also takes a number or a (nested) list, converting
# it as mg.tensor does (NumPy's habit). PyTorch refuses those with a TypeError; given the
# converted tensors, it must then agree with us. Operand positions first, then numbers
# given for a tensor operand ("TN": PyTorch takes numbers there in most functions only).
TENSOR_KINDS = ({"T", "F", "I", "B", "seq"}, {"T", "F", "I", "B", "seq", "TN", "IN"})


def _converted(value: Any, kind: str, kinds: set) -> Any:
    if kind not in kinds or isinstance(value, mg.Tensor):
        return value
    if kind == "seq" and isinstance(value, (list, tuple)):
        return type(value)(_converted(v, "T", kinds) for v in value)
    try:
        return mg.tensor(value)
    except Exception:  # noqa: BLE001  (not convertible: PyTorch sees it as it is)
        return value


def as_tensors(spec: Spec, args: tuple, kwargs: dict, kinds: set) -> tuple:
    positions = spec.required + spec.optional
    args = tuple(_converted(a, k, kinds) for a, k in zip(args, positions)) + args[len(positions):]
    kwargs = {k: _converted(v, spec.keywords[k], kinds) for k, v in kwargs.items()}
    return args, kwargs


def torch_outcome(call: Callable, args: tuple, kwargs: dict, leaves: dict) -> tuple:
    return restored(lambda: outcome(call, to_torch(args, leaves), to_torch(kwargs, leaves)))


def compare_with_torch(name: str, spec: Spec, args: tuple, kwargs: dict, ours: tuple,
                       label: str, call: Callable, random: bool = False) -> tuple:
    """PyTorch's outcome of ``call`` on the same arguments, held against ours (``name``
    picks the documented differences; ``random``: only shapes and dtypes compare).
    Returns PyTorch's outcome, for the caller's own checks."""
    leaves: dict = {}
    theirs = torch_outcome(call, args, kwargs, leaves)
    for kinds in TENSOR_KINDS:
        if not (ours[0] == "ok" and theirs[0] == "error" and isinstance(theirs[1], TypeError)):
            break
        leaves = {}
        targs, tkwargs = as_tensors(spec, args, kwargs, kinds)
        theirs = torch_outcome(call, targs, tkwargs, leaves)
    if differences.explain(name, args, kwargs, ours, theirs, spec.required + spec.optional):
        return theirs
    if ours[0] == "ok" and theirs[0] == "error":
        raise AssertionError(f"{label}\n  worked here, but PyTorch raised "
                             f"{type(theirs[1]).__name__}: {theirs[1]}\n  -> {ours[1]!r}")
    if ours[0] == "error" and theirs[0] == "ok":
        raise AssertionError(f"{label}\n  PyTorch worked, but here it raised "
                             f"{type(ours[1]).__name__}: {ours[1]}")
    if ours[0] == "ok" and not differences.incomparable(name, args, kwargs):
        values = not random and not differences.values_differ(name, args, kwargs)
        assert_same(ours[1], theirs[1], label, values=values,
                    dtypes=not differences.dtypes_differ(name, args, kwargs))
        if values and finite(list(args) + list(kwargs.values())) and \
                not differences.gradients_differ(name, args, kwargs):
            compare_gradients(ours[1], theirs[1], float_leaves(list(args) +
                                                               list(kwargs.values())),
                              leaves, label)
    return theirs
