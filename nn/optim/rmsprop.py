"""RMSprop (Hinton): divide the gradient by a running root-mean-square of recent gradients."""
from __future__ import annotations

from typing import Any

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters, _lerp

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``v = alpha v + (1 - alpha) g²``; ``centered`` subtracts the squared running mean of
    ``g`` (a variance estimate); ``p -= lr * g / (sqrt(v) + eps)``, through a momentum
    buffer when ``momentum > 0`` (torch's update and defaults)."""

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        _check_hyperparameters(lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                               alpha=alpha)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, alpha, momentum = float(group["lr"]), float(group["alpha"]), float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        if not state:
            state["step"] = 0
            state["square_avg"] = mg.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = mg.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = mg.zeros_like(param)
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + param * weight_decay
        square_avg = state["square_avg"] = \
            state["square_avg"] * alpha + grad * (1.0 - alpha) * grad
        if group["centered"]:
            grad_avg = state["grad_avg"] = _lerp(state["grad_avg"], grad, 1.0 - alpha)
            avg = (square_avg - grad_avg * grad_avg).sqrt()
        else:
            avg = square_avg.sqrt()
        avg = avg + float(group["eps"])
        if momentum > 0:
            buf = state["momentum_buffer"] = state["momentum_buffer"] * momentum + grad / avg
            param.data = param - buf * lr
        else:
            param.data = param - grad * lr / avg
