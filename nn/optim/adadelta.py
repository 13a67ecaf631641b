"""Adadelta (Zeiler): step sizes from the ratio of running RMS of updates to running RMS
of gradients, so the units of the update match those of the parameter."""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """``v = rho v + (1 - rho) g²``, ``delta = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho u + (1 - rho) delta²``, ``p -= lr * delta``; ``weight_decay`` adds
    ``wd * p`` to the gradient. ``foreach``, ``capturable`` and ``differentiable`` are
    accepted for compatibility and change nothing."""

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0,
                 foreach: Optional[bool] = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check_hyperparameters(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_hyperparameters(lr, eps=eps, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable,
                                      foreach=foreach, differentiable=differentiable))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        if not state:
            state["step"] = 0
            state["square_avg"] = mg.zeros_like(param)
            state["acc_delta"] = mg.zeros_like(param)
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + param * weight_decay
        square_avg = state["square_avg"] = \
            state["square_avg"] * rho + grad * (1.0 - rho) * grad
        delta = (state["acc_delta"] + eps).sqrt() / (square_avg + eps).sqrt() * grad
        state["acc_delta"] = state["acc_delta"] * rho + delta * (1.0 - rho) * delta
        param.data = param - delta * lr
