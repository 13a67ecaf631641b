"""Activation checkpointing: trade compute for memory by recomputing in backward.

``checkpoint(fn, *args)`` returns what ``fn(*args)`` returns, but keeps none of the
activations inside ``fn`` for backward: only its inputs. Backward reruns ``fn`` with
recording on and backpropagates through that fresh, short-lived graph. Splitting a
T-step full-BPTT unroll into √T checkpointed segments of √T steps keeps √T segment
boundaries plus one segment's graph alive at any time: O(√T) memory instead of O(T),
for one extra forward pass (the test suite measures this on a 2,000-step LSTM).

How it is built on :class:`mg.autograd.Function`, and why the forward records:
a Function's node only links to the tensors it is *given*, but ``fn`` usually reads
parameters it closes over (``lambda h: cell(x, h)``). So the forward runs ``fn`` once
with recording on, walks the recorded graph (``grad_fn.next_functions``) to find the
leaf tensors that require grad, drops that graph at once (so the peak is one
segment's graph), and records a single node whose inputs are ``args`` plus those
leaves. Their gradients therefore come out of the ordinary backward: ``.backward()``,
``mg.grad(loss, params)`` and hooks all work, even when no argument requires grad (the
first segment of an unroll starts from a constant state). ``use_reentrant`` is
accepted for PyTorch's signature; both values run this one implementation.

With ``preserve_rng_state=True`` the generators of the active backend and of the
arguments' devices are restored before recomputing, so dropout draws the same masks.
Pass tensors that need gradients as arguments rather than closing over non-leaf
tensors: a closed-over intermediate is differentiated through, but from scratch.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence

import minigrad as mg

__all__ = ["checkpoint", "checkpoint_sequential"]

_SLOT = object()  # where a tensor sat in a nested structure


def _split(value: Any, tensors: list) -> Any:
    """``value`` with every Tensor (inside tuples, lists, named tuples and dicts) replaced
    by a slot marker; the tensors are appended to ``tensors`` in order."""
    if isinstance(value, mg.Tensor):
        tensors.append(value)
        return _SLOT
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_split(v, tensors) for v in value))
    if type(value) in (tuple, list):
        return type(value)(_split(v, tensors) for v in value)
    if type(value) is dict:
        return {k: _split(v, tensors) for k, v in value.items()}
    return value


def _fill(template: Any, tensors: Iterator) -> Any:
    """The inverse of :func:`_split`: put the next tensor in each slot."""
    if template is _SLOT:
        return next(tensors)
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        return type(template)(*(_fill(v, tensors) for v in template))
    if type(template) in (tuple, list):
        return type(template)(_fill(v, tensors) for v in template)
    if type(template) is dict:
        return {k: _fill(v, tensors) for k, v in template.items()}
    return template


def _rng_states(tensors: Sequence[mg.Tensor]) -> list:
    """(backend, generator state) for the active backend and every argument's device."""
    backends = [mg.current_backend()] + [mg.get_backend(str(t.device)) for t in tensors]
    unique = {id(b): b for b in backends}
    return [(b, b.get_rng_state()) for b in unique.values()]


@contextmanager
def _rng_restored(states: Optional[list]) -> Iterator[None]:
    """Run the block from the saved generator states, then put the current ones back
    (the recomputation must not shift the random numbers of the rest of the program)."""
    if states is None:
        yield
        return
    current = [(b, b.get_rng_state()) for b, _ in states]
    for backend, state in states:
        backend.set_rng_state(state)
    try:
        yield
    finally:
        for backend, state in current:
            backend.set_rng_state(state)


def _leaves(outputs: Sequence[mg.Tensor], own: Sequence[mg.Tensor]) -> list:
    """The leaf tensors requiring grad that ``outputs`` were computed from, found by
    walking ``grad_fn.next_functions``; the tensors in ``own`` are left out."""
    skip = {id(t) for t in own}
    found: dict = {}
    stack = []
    for o in outputs:
        if o.grad_fn is not None:
            stack.append(o.grad_fn)
        elif o.requires_grad and id(o) not in skip:  # fn returned a leaf itself
            found[id(o)] = o
    seen: set = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for fn, _ in node.next_functions:
            if isinstance(fn, mg.autograd.AccumulateGrad):
                if id(fn.variable) not in skip:
                    found.setdefault(id(fn.variable), fn.variable)
            elif fn is not None and id(fn) not in seen:
                stack.append(fn)
    return list(found.values())


class _Run:
    """What backward needs to recompute: the function, the argument structure (tensors
    left out: the node saves them), keyword arguments and generator states."""

    def __init__(self, function: Callable, template: Any, kwargs: dict, count: int,
                 leaves: list, outputs: list, states: Optional[list]) -> None:
        self.function = function
        self.template = template
        self.kwargs = kwargs
        self.count = count        # tensors among the arguments
        self.leaves = leaves      # closed-over leaves, the node's later inputs
        self.outputs = outputs    # the forward's results (detached); cleared once handed out
        self.states = states


class _Checkpoint(mg.autograd.Function):
    """One node for the whole checkpointed call; backward recomputes it."""

    @staticmethod
    def forward(ctx: Any, run: _Run, *tensors: mg.Tensor) -> Any:
        ctx.run = run
        ctx.save_for_backward(*tensors[:run.count])
        outputs, run.outputs = run.outputs, None
        ctx.mark_non_differentiable(*(o for o, needs in outputs if not needs))
        ctx.set_materialize_grads(False)
        results = tuple(o for o, _ in outputs)
        return results[0] if len(results) == 1 else results

    @staticmethod
    def backward(ctx: Any, *grads: Optional[mg.Tensor]) -> tuple:
        if mg.is_grad_enabled():
            raise RuntimeError("checkpoint does not support create_graph=True (higher-order "
                               "gradients through a checkpointed function); run that part "
                               "without checkpointing")
        run = ctx.run
        needs = ctx.needs_input_grad[1:]
        with _rng_restored(run.states), mg.enable_grad():
            inputs = [t.detach().requires_grad_(need) if t.dtype.kind in "fc" else t
                      for t, need in zip(ctx.saved_tensors, needs)]
            out = run.function(*_fill(run.template, iter(inputs)), **run.kwargs)
        outputs: list = []
        _split(out, outputs)
        pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None and o.requires_grad]
        wanted = [t for t, need in zip(inputs + run.leaves, needs) if need]
        if not pairs or not wanted:
            return (None,) * (1 + len(needs))
        found = iter(mg.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                             retain_graph=True, allow_unused=True))
        return (None,) + tuple(next(found) if need else None for need in needs)


def checkpoint(function: Callable, *args: Any, use_reentrant: Optional[bool] = None,
               preserve_rng_state: bool = True, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, keeping only the tensor arguments for backward and
    recomputing the rest there (see the module docstring). Tensors may sit inside
    tuples, lists and dicts, in the arguments and in the result."""
    if not mg.is_grad_enabled():
        return function(*args, **kwargs)
    tensors: list = []
    template = _split(args, tensors)
    states = _rng_states(tensors) if preserve_rng_state else None
    own = [t.detach().requires_grad_(t.requires_grad) if t.dtype.kind in "fc" else t
           for t in tensors]
    out = function(*_fill(template, iter(own)), **kwargs)
    outputs: list = []
    out_template = _split(out, outputs)
    leaves = _leaves(outputs, own)
    detached = [o.detach() for o in outputs]
    if not any(o.requires_grad for o in outputs):  # nothing to differentiate
        return _fill(out_template, iter(detached))
    run = _Run(function, template, kwargs, len(tensors), leaves,
               [(d, o.requires_grad) for d, o in zip(detached, outputs)], states)
    del out, outputs, own  # the recorded graph goes now: backward recomputes it
    results = _Checkpoint.apply(run, *tensors, *leaves)
    results = (results,) if isinstance(results, mg.Tensor) else results
    return _fill(out_template, iter(results))


def checkpoint_sequential(functions: Any, segments: int, input: mg.Tensor,
                          use_reentrant: Optional[bool] = None, **kwargs: Any) -> mg.Tensor:
    """Run ``functions`` (an ``nn.Sequential`` or a list of modules or functions) in
    order on ``input``, as ``segments`` chunks: all but the last are checkpointed (the
    last one's activations are needed by backward at once anyway), as in PyTorch."""
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if hasattr(functions, "children") and not isinstance(functions, (list, tuple)):
        functions = list(functions.children())
    functions = list(functions)
    if not 1 <= segments <= max(len(functions), 1):
        raise ValueError(f"checkpoint_sequential: segments must be between 1 and the number "
                         f"of functions ({len(functions)}), got {segments}")
    size = len(functions) // segments

    def run(start: int, end: int) -> Callable:
        def forward(x: Any) -> Any:
            for f in functions[start:end]:
                x = f(x)
            return x
        return forward

    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end, len(functions))(input)
