"""Numerical gradient checking, a public feature: trust, but verify.

Both checks project the outputs onto a fixed random direction ``v`` and compare
the analytic gradient of ``<v, f(x)>`` with central differences, element by
element. Use float64 inputs: float32 central differences are too coarse.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy

from . import autograd
from .grad_mode import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numerical gradients disagree."""


def _outputs(result: Any) -> list:
    return [result] if isinstance(result, Tensor) else [r for r in result if isinstance(r, Tensor)]


def _projection(fn: Callable, inputs: Sequence[Tensor], directions: list) -> Tensor:
    outs = _outputs(fn(*inputs))
    total = None
    for out, v in zip(outs, directions):
        term = (out * v).sum()
        total = term if total is None else total + term
    return total


def _directions(fn: Callable, inputs: Sequence[Tensor], seed: int) -> list:
    rng = numpy.random.default_rng(seed)
    with no_grad():
        outs = _outputs(fn(*inputs))
    return [Tensor._wrap(out._backend.from_numpy(rng.standard_normal(out.shape).astype(out.dtype)),
                         out._backend) for out in outs]


def _numeric(fn: Callable, inputs: Sequence[Tensor], directions: list, index: int,
             eps: float) -> numpy.ndarray:
    x = inputs[index]
    backend = x._backend
    host = x.numpy().copy()
    grad = numpy.zeros(host.shape, dtype=numpy.float64)
    original = x._data
    try:
        with no_grad():
            for i in numpy.ndindex(*host.shape):
                values = []
                for delta in (eps, -eps):
                    probe = host.copy()
                    probe[i] += delta
                    x._data = backend.from_numpy(probe)
                    values.append(float(_projection(fn, inputs, directions).item()))
                grad[i] = (values[0] - values[1]) / (2 * eps)
    finally:
        x._data = original
    return grad


def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central differences.

    Raises :class:`GradcheckError` naming the input and worst element on mismatch
    (or returns False when ``raise_exception=False``).
    """
    inputs = tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    directions = _directions(fn, inputs, seed)
    total = _projection(fn, inputs, directions)
    analytic = autograd.grad(total, [inputs[i] for i in wrt], allow_unused=True)
    for i, a in zip(wrt, analytic):
        x = inputs[i]
        a = numpy.zeros(x.shape) if a is None else a.numpy().astype(numpy.float64)
        n = _numeric(fn, inputs, directions, i, eps)
        err = numpy.abs(a - n) - (atol + rtol * numpy.abs(n))
        if err.size and err.max() > 0:
            worst = numpy.unravel_index(numpy.argmax(err), err.shape)
            message = (f"gradcheck failed for input {i} (shape {x.shape}): worst element "
                       f"{tuple(int(w) for w in worst)} has analytic {a[worst]:.8g} vs "
                       f"numeric {n[worst]:.8g} (atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(fn: Callable, inputs: Sequence[Tensor], grad_outputs: Optional[Any] = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) gradient of ``fn``."""
    inputs = tuple(inputs)
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if grad_outputs is None:
        grad_outputs = _directions(fn, inputs, seed + 1)
        for v in grad_outputs:
            v.requires_grad = True
    n_in = len(inputs)

    def first_derivative(*args: Tensor) -> tuple:
        xs, vs = args[:n_in], list(args[n_in:])
        with enable_grad():  # the numerical pass runs under no_grad; this needs the tape
            total = _projection(fn, xs, vs)
            chosen = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            grads = autograd.grad(total, chosen, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None and g.requires_grad)

    return gradcheck(first_derivative, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, seed=seed + 2) and bool(wrt)
