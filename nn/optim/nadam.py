"""NAdam (Dozat): Adam with Nesterov momentum, whose momentum coefficient warms up."""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters, _lerp

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """``mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay))`` warms the momentum up;
    ``m``, ``v`` as in Adam; the step looks ahead one momentum step:
    ``p -= lr (1 - mu_t) / (1 - prod mu) * g / d + lr mu_{t+1} / (1 - prod mu * mu_{t+1}) * m / d``
    with ``d = sqrt(v / (1 - beta2^t)) + eps``.

    ``weight_decay`` adds ``wd * p`` to the gradient, or, with ``decoupled_weight_decay``
    (NAdamW), shrinks ``p`` by ``1 - lr * wd`` first. The running product of ``mu`` is
    computed, as in PyTorch, in float32 unless the default dtype is float64, so
    trajectories match PyTorch's -- also after loading a state dict (PyTorch's loader
    casts it to the parameter's dtype, so its resumed float64 runs drift from the
    uninterrupted ones; ours do not). ``foreach``, ``capturable`` and ``differentiable``
    are accepted for compatibility and change nothing (there is one implementation)."""

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: Optional[bool] = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_hyperparameters(lr, eps=eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _check_hyperparameters(lr, weight_decay=weight_decay, momentum_decay=momentum_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable))

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        momentum_decay = float(group["momentum_decay"])
        if not state:
            state["step"] = 0
            state["mu_product"] = mg.tensor(1.0, dtype=_scalar_dtype(), device=param.device)
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
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        state["mu_product"] = state["mu_product"].to(_scalar_dtype()) * mu
        mu_product = state["mu_product"].item()
        exp_avg = state["exp_avg"] = _lerp(state["exp_avg"], grad, 1.0 - beta1)
        exp_avg_sq = state["exp_avg_sq"] = \
            state["exp_avg_sq"] * beta2 + grad * (1.0 - beta2) * grad
        denom = (exp_avg_sq / (1.0 - beta2 ** step)).sqrt() + eps
        value = value + grad * (-lr * (1.0 - mu) / (1.0 - mu_product)) / denom
        param.data = value + exp_avg * (-lr * mu_next / (1.0 - mu_product * mu_next)) / denom


def _scalar_dtype() -> Any:
    """PyTorch keeps scalar optimizer state in float64 only when that is the default."""
    return mg.float64 if mg.get_default_dtype() == mg.float64 else mg.float32
