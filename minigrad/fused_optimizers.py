"""Optimizer updates done in place on many parameters at once, as PyTorch's
``torch._fused_adam_``: what ``mg.optim.Adam`` and ``AdamW`` call.

Why here, in the engine: an update written with tensor operations allocates a temporary
per operation and passes over each parameter a dozen times; the backend does it in one
pass (backends/optimizer_kernels.py). Nothing here is recorded: like PyTorch's, these
are updates under ``no_grad``, and each written tensor is marked modified, so a graph that
saved the old values refuses to use them.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

from .tensor import Tensor


def _fused_adam_(params: Sequence[Tensor], grads: Sequence[Tensor],
                 exp_avgs: Sequence[Tensor], exp_avg_sqs: Sequence[Tensor],
                 max_exp_avg_sqs: Sequence[Tensor], state_steps: Sequence[int], *,
                 lr: float, beta1: float, beta2: float, weight_decay: float, eps: float,
                 amsgrad: bool, maximize: bool, decoupled_weight_decay: bool = False) -> None:
    """Adam's step (``decoupled_weight_decay``: AdamW's) for every ``params[i]``, whose
    moments ``exp_avgs[i]``, ``exp_avg_sqs[i]`` (and, with ``amsgrad``, the running
    maximum ``max_exp_avg_sqs[i]``) are updated in place; ``state_steps[i]`` is the step
    number t, counting from 1, that the bias corrections use."""
    count = len(params)
    lists = dict(grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs,
                 state_steps=state_steps, **({"max_exp_avg_sqs": max_exp_avg_sqs}
                                             if amsgrad else {}))
    for name, values in lists.items():
        if len(values) != count:
            raise ValueError(f"_fused_adam_: {name} has {len(values)} entries for {count} "
                             f"params")
    for i, p in enumerate(params):
        step = int(state_steps[i])
        if step < 1:
            raise ValueError(f"_fused_adam_: state_steps[{i}] is {step}; steps count from 1")
        vmax: Optional[Tensor] = max_exp_avg_sqs[i] if amsgrad else None
        tensors = [p, grads[i], exp_avgs[i], exp_avg_sqs[i]] + ([vmax] if amsgrad else [])
        for what, t in zip(("param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
                           tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"_fused_adam_: {what} {i} must be a Tensor, got "
                                f"{type(t).__name__}")
            if t._backend is not p._backend:
                raise RuntimeError(f"_fused_adam_: {what} {i} is on {t.device} but its param "
                                   f"is on {p.device}")
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"_fused_adam_: {what} {i} has shape {tuple(t.shape)}, its "
                                 f"param {tuple(p.shape)}")
        hyper = dict(lr=float(lr), beta1=float(beta1), beta2=float(beta2),
                     weight_decay=float(weight_decay), eps=float(eps), maximize=bool(maximize),
                     decoupled=bool(decoupled_weight_decay),
                     step_size=float(lr) / (1 - float(beta1) ** step),
                     bias_correction2_sqrt=math.sqrt(1 - float(beta2) ** step))
        p._backend.adam_step(p._data, grads[i]._data, exp_avgs[i]._data, exp_avg_sqs[i]._data,
                             None if vmax is None else vmax._data, hyper)
        for t in tensors[:1] + tensors[2:]:
            t._mark_modified()
