"""Adagrad: per-coordinate step sizes shrinking with the sum of squared gradients."""
from __future__ import annotations

from typing import Any

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``sum += g²``, ``p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)``; the sum
    starts at ``initial_accumulator_value`` (torch's update and defaults)."""

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        _check_hyperparameters(lr, lr_decay=lr_decay, weight_decay=weight_decay,
                               initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, weight_decay = float(group["lr"]), float(group["weight_decay"])
        if not state:
            state["step"] = 0
            state["sum"] = mg.full_like(param, float(group["initial_accumulator_value"]))
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + param * weight_decay
        clr = lr / (1.0 + (state["step"] - 1) * float(group["lr_decay"]))
        accumulated = state["sum"] = state["sum"] + grad * grad
        std = accumulated.sqrt() + float(group["eps"])
        param.data = param - grad * clr / std
