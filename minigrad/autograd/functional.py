"""Jacobians, Hessians and their products of a whole function, as ``torch.autograd.functional``.

Every function takes ``func`` and ``inputs`` (a Tensor or a tuple of Tensors) and
mirrors PyTorch's conventions: a result has one entry per input (and per output)
when those were tuples, a single Tensor when they were single Tensors; ``vjp``,
``jvp``, ``vhp`` and ``hvp`` return ``(func_output, result)``. Without
``create_graph`` the results are detached; with it they stay on the tape (so they
can be differentiated again) and the inputs' own graphs are kept.

How much is vectorised: the engine has no batched (vmap) backward, so a Jacobian
costs one backward pass per output element (``strategy="reverse-mode"``, reusing
one recorded forward) or, with ``strategy="forward-mode"``, one backward pass that
records the gradient graph plus one pass through it per *input* element (the
double-vjp trick) -- pick the side with fewer elements. ``vectorize`` is accepted
for PyTorch compatibility and changes nothing. ``jvp`` and ``hvp`` use the same
double-vjp trick (Jv = d(J^T u)/du . v); ``vjp`` and ``vhp`` are one backward each.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

from .. import grad_mode, ops
from ..tensor import Tensor
from .engine import grad as _grad

Tensors = Union[Tensor, Sequence[Tensor]]


def _as_tuple(value: Any, what: str, fn: str) -> tuple:
    """(was it a tuple, the Tensors as a tuple); lists count as tuples."""
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of "
                            f"Tensors but the value at index {i} has type {type(v).__name__}.")
    return is_tuple, values


def _untuple(values: tuple, is_tuple: bool) -> Any:
    return values if is_tuple else values[0]


def _untuple2(rows: tuple, outer_tuple: bool, inner_tuple: bool) -> Any:
    if not inner_tuple:
        rows = tuple(row[0] for row in rows)
    return rows if outer_tuple else rows[0]


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs to differentiate with respect to: fresh leaves, or (with create_graph) the
    inputs themselves when they require grad, so results stay on their graphs."""
    return tuple(t if create_graph and t.requires_grad else t.detach().requires_grad_(True)
                 for t in inputs)


def _check_requires_grad(outputs: tuple, what: str, strict: bool) -> None:
    if not strict:
        return
    for i, out in enumerate(outputs):
        if out is None:
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not out.requires_grad:
            raise RuntimeError(
                f"Output {i} of the user-provided function does not require gradients. The "
                "outputs must be computed in a differentiable manner from the input when "
                "running in strict mode.")


def _check_v(v: tuple, other: tuple, what: str) -> None:
    if len(v) != len(other):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} (one per "
                           f"{what}) but got {len(v)}.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {b.shape} (the "
                               f"shape of {what} {i}) but got {a.shape}.")


def _grads(outputs: tuple, inputs: tuple, grad_outputs: Optional[tuple],
           create_graph: bool, retain_graph: Optional[bool] = None) -> tuple:
    """mg.grad over the outputs that require grad; None per input it does not reach."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs],
                 retain_graph=retain_graph if retain_graph is not None else create_graph,
                 create_graph=create_graph, allow_unused=True)


def _fill_zeros(grads: tuple, like: tuple, strict: bool, what: str) -> tuple:
    result = []
    for i, (g, t) in enumerate(zip(grads, like)):
        if g is None:
            if strict:
                raise RuntimeError(f"The {what} is independent of input {i}. This is not "
                                   "allowed in strict mode.")
            g = Tensor._wrap(t._backend.zeros_like(t._data), t._backend)
        result.append(g)
    return tuple(result)


def _finish(values: tuple, create_graph: bool) -> tuple:
    """Detach results unless the caller wants to differentiate them again."""
    return values if create_graph else tuple(v.detach() for v in values)


def _scalar_output(out: Any, fn: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise RuntimeError(f"The function given to {fn} should return a single Tensor, got "
                           f"a {type(out).__name__}")
    if out.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain "
                           f"a single element, but it has shape {out.shape}")
    return out


def _one_hot(t: Tensor, index: int) -> Tensor:
    e = t._backend.zeros(t.numel(), dtype=t.dtype)
    e[index] = 1
    return Tensor._wrap(e.reshape(t.shape), t._backend)


def vjp(func: Callable[..., Any], inputs: Tensors, v: Optional[Tensors] = None,
        create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), v^T J): the vector-Jacobian product, one backward pass."""
    with grad_mode.enable_grad():
        in_tuple, ins = _as_tuple(inputs, "inputs", "vjp")
        ins = _prepare(ins, create_graph)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", "vjp")
        _check_requires_grad(outs, "outputs", strict)
        if v is None:
            if len(outs) != 1 or outs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            vs = None
        else:
            _, vs = _as_tuple(v, "v", "vjp")
            _check_v(vs, outs, "output")
        result = _fill_zeros(_grads(outs, ins, vs, create_graph), ins, strict,
                             "output of the user-provided function")
    return (_untuple(_finish(outs, create_graph), out_tuple),
            _untuple(_finish(result, create_graph), in_tuple))


def _double_vjp(outs: tuple, ins: tuple, vs: Optional[tuple], create_graph: bool,
                strict: bool) -> tuple:
    """J v by differentiating u -> J^T u (linear in u) with respect to u, against v."""
    us = tuple(Tensor._wrap(o._backend.zeros_like(o._data), o._backend).requires_grad_(True)
               for o in outs)
    back = _grads(outs, ins, us, create_graph=True)
    _check_requires_grad(back, "backward of the outputs", strict)
    pairs = [(b, v) for b, v in zip(back, vs if vs is not None else (None,) * len(back))
             if b is not None and b.requires_grad]
    if pairs:
        found = _grad([b for b, _ in pairs], list(us), [v for _, v in pairs],
                      retain_graph=create_graph, create_graph=create_graph, allow_unused=True)
    else:
        found = (None,) * len(us)
    return _fill_zeros(found, outs, strict, "jvp of the user-provided function")


def _input_vector(v: Optional[Tensors], ins: tuple, fn: str) -> Optional[tuple]:
    """The checked vector ``v`` shaped like the inputs (None only for a one-element input)."""
    if v is None:
        if len(ins) != 1 or ins[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the "
                               "user-provided function is a single Tensor with a single "
                               "element.")
        return None
    _, vs = _as_tuple(v, "v", fn)
    _check_v(vs, ins, "input")
    return vs


def jvp(func: Callable[..., Any], inputs: Tensors, v: Optional[Tensors] = None,
        create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), J v): the Jacobian-vector product, by the double-vjp trick."""
    with grad_mode.enable_grad():
        in_tuple, ins = _as_tuple(inputs, "inputs", "jvp")
        ins = _prepare(ins, create_graph)
        vs = _input_vector(v, ins, "jvp")
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outs, "outputs", strict)
        result = _double_vjp(outs, ins, vs, create_graph, strict)
    return (_untuple(_finish(outs, create_graph), out_tuple),
            _untuple(_finish(result, create_graph), out_tuple))


def jacobian(func: Callable[..., Any], inputs: Tensors, create_graph: bool = False,
             strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode") -> Any:
    """d func(inputs) / d inputs: for output i and input j, a Tensor of shape
    ``outputs[i].shape + inputs[j].shape`` (nested as the outputs and inputs are)."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f'strategy must be "reverse-mode" or "forward-mode", got {strategy!r}')
    with grad_mode.enable_grad():
        in_tuple, ins = _as_tuple(inputs, "inputs", "jacobian")
        ins = _prepare(ins, create_graph)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function",
                                    "jacobian")
        _check_requires_grad(outs, "outputs", strict)
        if strategy == "reverse-mode":
            blocks = _jacobian_rows(outs, ins, create_graph, strict)
        else:
            blocks = _jacobian_columns(outs, ins, create_graph, strict)
    blocks = tuple(_finish(row, create_graph) for row in blocks)
    return _untuple2(blocks, out_tuple, in_tuple)


def _jacobian_rows(outs: tuple, ins: tuple, create_graph: bool, strict: bool) -> tuple:
    """One backward pass per output element, each giving a row of every input's block."""
    blocks = []
    for i, out in enumerate(outs):
        rows: list = [[] for _ in ins]
        for k in range(out.numel()):
            if out.requires_grad:
                found = _grad([out], list(ins), [_one_hot(out, k)], retain_graph=True,
                              create_graph=create_graph, allow_unused=True)
            else:
                found = (None,) * len(ins)
            for j, (g, t) in enumerate(zip(found, ins)):
                if g is None and strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is "
                                       f"independent of input {j}. This is not allowed in "
                                       "strict mode.")
                if g is not None and strict and create_graph and not g.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is "
                                       f"independent of input {j}. This is not allowed in "
                                       "strict mode when create_graph=True.")
                rows[j].append(g)
        blocks.append(tuple(_assemble(r, out, t, rows_are_outputs=True)
                            for r, t in zip(rows, ins)))
    return tuple(blocks)


def _jacobian_columns(outs: tuple, ins: tuple, create_graph: bool, strict: bool) -> tuple:
    """The double-vjp trick: record J^T u once, then one pass per input element."""
    us = tuple(Tensor._wrap(o._backend.zeros_like(o._data), o._backend).requires_grad_(True)
               for o in outs)
    back = _grads(outs, ins, us, create_graph=True)
    columns: list = [[[] for _ in ins] for _ in outs]  # [i][j]: one column per input element
    for j, (b, t) in enumerate(zip(back, ins)):
        for k in range(t.numel()):
            if b is not None and b.requires_grad:
                found = _grad([b], list(us), [_one_hot(t, k)], retain_graph=True,
                              create_graph=create_graph, allow_unused=True)
            else:
                found = (None,) * len(us)
            for i, g in enumerate(found):
                if g is None and strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is "
                                       f"independent of input {j}. This is not allowed in "
                                       "strict mode.")
                columns[i][j].append(g)
    return tuple(tuple(_assemble(columns[i][j], out, t, rows_are_outputs=False)
                       for j, t in enumerate(ins)) for i, out in enumerate(outs))


def _assemble(pieces: list, out: Tensor, t: Tensor, rows_are_outputs: bool) -> Tensor:
    """Stack per-element gradients into the ``out.shape + t.shape`` block."""
    like = t if rows_are_outputs else out
    filled = [Tensor._wrap(like._backend.zeros_like(like._data), like._backend)
              if p is None else p for p in pieces]
    if not filled:  # an empty output or input: an empty block
        return Tensor._wrap(t._backend.zeros(out.shape + t.shape, dtype=t.dtype), t._backend)
    stacked = ops.stack(filled, axis=0)  # (out elements, *t.shape) or (t elements, *out.shape)
    if rows_are_outputs:
        return ops.reshape(stacked, out.shape + t.shape)
    moved = ops.moveaxis(ops.reshape(stacked, (t.numel(), out.numel())), 0, 1)
    return ops.reshape(moved, out.shape + t.shape)


def hessian(func: Callable[..., Any], inputs: Tensors, create_graph: bool = False,
            strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """Second derivatives of a scalar function: for inputs i and j, a Tensor of shape
    ``inputs[i].shape + inputs[j].shape`` (a tuple of tuples for tuple inputs)."""
    in_tuple, ins = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*xs: Tensor) -> Tensor:
        out = func(*xs)
        if isinstance(out, (tuple, list)):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        out = _scalar_output(out, "hessian")
        _check_requires_grad((out,), "outputs", strict)
        return ops.reshape(out, ())

    def gradient(*xs: Tensor) -> tuple:
        return jacobian(scalar, xs, create_graph=True, strict=strict)

    blocks = jacobian(gradient, ins, create_graph=create_graph, strict=strict,
                      strategy=outer_jacobian_strategy)
    return _untuple2(blocks, in_tuple, in_tuple)


def vhp(func: Callable[..., Any], inputs: Tensors, v: Optional[Tensors] = None,
        create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), v^T H) for a scalar function: the gradient, differentiated once
    more against ``v``."""
    with grad_mode.enable_grad():
        in_tuple, ins, vs, out, first = _hessian_start(func, inputs, v, create_graph,
                                                       strict, "vhp")
        result = _fill_zeros(_grads(first, ins, vs, create_graph), ins, strict,
                             "vhp of the user-provided function")
    return _finish((out,), create_graph)[0], _untuple(_finish(result, create_graph), in_tuple)


def hvp(func: Callable[..., Any], inputs: Tensors, v: Optional[Tensors] = None,
        create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), H v) for a scalar function, by the double-vjp trick on its
    gradient (equal to ``vhp`` wherever the Hessian is symmetric)."""
    with grad_mode.enable_grad():
        in_tuple, ins, vs, out, first = _hessian_start(func, inputs, v, create_graph,
                                                       strict, "hvp")
        result = _double_vjp(first, ins, vs, create_graph, strict)
    return _finish((out,), create_graph)[0], _untuple(_finish(result, create_graph), in_tuple)


def _hessian_start(func: Callable[..., Any], inputs: Tensors, v: Optional[Tensors],
                   create_graph: bool, strict: bool, fn: str) -> tuple:
    """Shared start of vhp/hvp: checked inputs and v, the output, and its gradient
    recorded on the tape (each entry a Tensor, zeros where it does not depend)."""
    in_tuple, ins = _as_tuple(inputs, "inputs", fn)
    ins = _prepare(ins, create_graph)
    vs = _input_vector(v, ins, fn)
    out = func(*ins)
    if isinstance(out, (tuple, list)):
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    out = _scalar_output(out, fn)
    _check_requires_grad((out,), "outputs", strict)
    first = _grads((out,), ins, None, create_graph=True)
    _check_requires_grad(first, "jacobian", strict)
    first = _fill_zeros(first, ins, False, "")  # zeros where the output does not depend
    return in_tuple, ins, vs, out, first
