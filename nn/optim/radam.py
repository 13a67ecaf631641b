"""RAdam (Liu et al.): Adam whose adaptive step is switched on only once the variance of
the adaptive learning rate is tractable, and then rectified."""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters, _lerp

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """``m``, ``v`` as in Adam; with ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``: while ``rho_t <= 5`` the step is
    plain momentum, ``p -= lr * m / (1 - beta1^t)``; after, it is multiplied by
    ``sqrt(1 - beta2^t) / (sqrt(v) + eps)`` and the rectification
    ``sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.

    ``weight_decay`` adds ``wd * p`` to the gradient, or, with ``decoupled_weight_decay``,
    shrinks ``p`` by ``1 - lr * wd`` first. ``foreach``, ``capturable`` and
    ``differentiable`` are accepted for compatibility and change nothing."""

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        _check_hyperparameters(lr, eps=eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _check_hyperparameters(lr, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      differentiable=differentiable))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = mg.zeros_like(param)
            state["exp_avg_sq"] = mg.zeros_like(param)
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
        bias_correction2 = 1.0 - beta2 ** step
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta2 ** step / bias_correction2
        update = exp_avg / bias_correction1 * lr
        if rho_t > 5.0:
            rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
            update = update * (bias_correction2 ** 0.5 / (exp_avg_sq.sqrt() + eps)) * rect
        param.data = value - update
