"""Adamax (Kingma & Ba): Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters, _lerp

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """``m = lerp(m, g, 1 - beta1)``, ``u = max(beta2 u, |g| + eps)``,
    ``p -= lr / (1 - beta1^t) * m / u``; ``weight_decay`` adds ``wd * p`` to the
    gradient. ``foreach``, ``capturable`` and ``differentiable`` are accepted for
    compatibility and change nothing."""

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_hyperparameters(lr, eps=eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _check_hyperparameters(lr, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = mg.zeros_like(param)
            state["exp_inf"] = mg.zeros_like(param)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + param * weight_decay
        exp_avg = state["exp_avg"] = _lerp(state["exp_avg"], grad, 1.0 - beta1)
        exp_inf = state["exp_inf"] = mg.maximum(state["exp_inf"] * beta2, grad.abs() + eps)
        clr = lr / (1.0 - beta1 ** state["step"])
        param.data = param - exp_avg * clr / exp_inf
