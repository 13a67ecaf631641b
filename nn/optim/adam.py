"""Adam (Kingma & Ba) with bias correction, L2 or decoupled weight decay, and AMSGrad."""
from __future__ import annotations

from typing import Any

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters, _lerp

__all__ = ["Adam"]


class Adam(Optimizer):
    """``m = lerp(m, g, 1 - beta1)``, ``v = beta2 v + (1 - beta2) g²``,
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; with
    ``amsgrad`` the running maximum of ``v`` replaces ``v`` in the denominator.
    ``weight_decay`` adds ``wd * p`` to the gradient, or, with
    ``decoupled_weight_decay`` (AdamW), shrinks ``p`` by ``1 - lr * wd`` first."""

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        _check_hyperparameters(lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = mg.zeros_like(param)
            state["exp_avg_sq"] = mg.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = mg.zeros_like(param)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        step = state["step"]
        value = param
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                value = param * (1.0 - lr * weight_decay)
            else:
                grad = grad + param * weight_decay
        exp_avg = state["exp_avg"] = _lerp(state["exp_avg"], grad, 1.0 - beta1)
        exp_avg_sq = state["exp_avg_sq"] = \
            state["exp_avg_sq"] * beta2 + grad * (1.0 - beta2) * grad
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2_sqrt = (1.0 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            exp_avg_sq = state["max_exp_avg_sq"] = mg.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + eps
        step_size = lr / bias_correction1
        param.data = value - exp_avg * step_size / denom
