"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize (torch's rule)."""
from __future__ import annotations

from typing import Any

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent: ``buf = momentum * buf + (1 - dampening) * g``,
    ``p -= lr * (g + momentum * buf if nesterov else buf)``, with ``g`` including
    ``weight_decay * p``. The buffer starts as the first gradient, as in PyTorch."""

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        _check_hyperparameters(lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + param * weight_decay
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = grad.clone()  # the engine accumulates into .grad in place: never alias it
            else:
                dampening = float(group["dampening"])
                buf = buf * momentum + (grad * (1.0 - dampening) if dampening else grad)
            state["momentum_buffer"] = buf
            grad = grad + buf * momentum if group["nesterov"] else buf
        param.data = param - grad * lr
