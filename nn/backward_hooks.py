"""Module backward hooks (``register_full_backward_hook``) on the public autograd API.

One call of a hooked module wraps its tensor inputs in an identity Function and its
tensor outputs in another. Backward reaches the outputs' identity first: its backward
receives the gradients w.r.t. the module's outputs (``grad_output``), which it keeps.
Backward then reaches the inputs' identity, whose backward receives the gradients
w.r.t. the module's inputs (``grad_input``): there the hooks run, once per backward,
and may return a replacement ``grad_input``. When no input requires grad, the hooks
run at the outputs with ``grad_input`` all None, as PyTorch does. As there, an output
that gets no gradient has None in ``grad_output``, and an input tensor that gets none
(or does not require grad) has zeros in ``grad_input``.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import minigrad as mg


class _Tap(mg.autograd.Function):
    """Identity on tensors whose backward passes the gradients through ``on_backward``
    (missing ones as zeros if ``materialize``, else as None)."""

    @staticmethod
    def forward(ctx: Any, on_backward: Callable, materialize: bool, *tensors: mg.Tensor
                ) -> tuple:
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(materialize)
        ctx.mark_non_differentiable(*(t for t in tensors if not t.requires_grad))
        return tensors

    @staticmethod
    def backward(ctx: Any, *grads: Optional[mg.Tensor]) -> tuple:
        return (None, None) + tuple(ctx.on_backward(grads))


def _pack(index: list, values: tuple, size: int) -> tuple:
    """Gradients of the tensor positions ``index``, None at every other position."""
    packed: list = [None] * size
    for i, value in zip(index, values):
        packed[i] = value
    return tuple(packed)


class BackwardHook:
    """Links the gradients at one module call's outputs to those at its inputs."""

    def __init__(self, module: Any, hooks: list, pre_hooks: list) -> None:
        self.module = module
        self.hooks = hooks            # hook(module, grad_input, grad_output)
        self.pre_hooks = pre_hooks    # hook(module, grad_output)
        self.grad_outputs: Optional[tuple] = None
        self.n_inputs = 0
        self.input_index: Optional[list] = None   # None: no input requires grad
        self.n_outputs = 0
        self.output_index: Optional[list] = None

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        args, self.input_index = _wrap(args, self._at_inputs, True)
        return args

    def wrap_outputs(self, result: Any) -> Any:
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        self.n_outputs = len(outputs)
        outputs, self.output_index = _wrap(outputs, self._at_outputs, False)
        return outputs[0] if single else outputs

    def _check(self, kind: str, got: tuple, expected: int) -> tuple:
        if len(got) != expected:
            raise RuntimeError(
                f"a backward {kind} of {type(self.module).__name__} returned {len(got)} "
                f"gradient(s), but the module has {expected}; return one per "
                f"{'output' if kind == 'pre-hook' else 'positional input'} (None allowed)")
        return tuple(got)

    def _at_outputs(self, grads: tuple) -> tuple:
        grad_outputs = _pack(self.output_index, grads, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, grad_outputs)
            if new is not None:
                grad_outputs = self._check("pre-hook", new, self.n_outputs)
        if self.input_index is None:
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                new = hook(self.module, grad_inputs, grad_outputs)
                if new is not None and any(g is not None for g in new):
                    raise RuntimeError(
                        f"a backward hook of {type(self.module).__name__} returned gradients, "
                        "but no input of the module requires grad: return None")
        else:
            self.grad_outputs = grad_outputs
        return tuple(grad_outputs[i] for i in self.output_index)

    def _at_inputs(self, grads: tuple) -> tuple:
        if self.grad_outputs is None:  # the gradient did not pass the module's outputs
            return grads
        grad_inputs = _pack(self.input_index, grads, self.n_inputs)
        for hook in self.hooks:
            new = hook(self.module, grad_inputs, self.grad_outputs)
            if new is not None:
                grad_inputs = self._check("hook", new, self.n_inputs)
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.input_index)


def _wrap(values: tuple, on_backward: Callable, materialize: bool) -> tuple:
    """Pass the tensors among ``values`` through a :class:`_Tap`; returns the new values
    and the tensors' positions (None when nothing requires grad: no tap is recorded)."""
    index = [i for i, v in enumerate(values) if isinstance(v, mg.Tensor)]
    if not (mg.is_grad_enabled() and any(values[i].requires_grad for i in index)):
        return values, None
    tapped = _Tap.apply(on_backward, materialize, *(values[i] for i in index))
    out = list(values)
    for i, t in zip(index, tapped):
        out[i] = t
    return (tuple(out) if type(values) is tuple else type(values)(*out)), index
