"""Adam (Kingma & Ba) with bias correction, L2 or decoupled weight decay, and AMSGrad."""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters

__all__ = ["Adam"]


class Adam(Optimizer):
    """``m = lerp(m, g, 1 - beta1)``, ``v = beta2 v + (1 - beta2) g²``,
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; with
    ``amsgrad`` the running maximum of ``v`` replaces ``v`` in the denominator.
    ``weight_decay`` adds ``wd * p`` to the gradient, or, with
    ``decoupled_weight_decay`` (AdamW), shrinks ``p`` by ``1 - lr * wd`` first. Each
    parameter moves in place in one pass (``mg._fused_adam_``), as PyTorch's
    ``fused=True`` does, whatever ``fused`` says; ``foreach``, ``capturable`` and
    ``differentiable`` are accepted for compatibility and change nothing."""

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, decoupled_weight_decay: bool = False) -> None:
        _check_hyperparameters(lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused,
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
        state["step"] += 1
        mg._fused_adam_([param], [grad], [state["exp_avg"]], [state["exp_avg_sq"]],
                        [state.get("max_exp_avg_sq")], [state["step"]], lr=lr,
                        beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps,
                        amsgrad=bool(group["amsgrad"]), maximize=bool(group["maximize"]),
                        decoupled_weight_decay=bool(group["decoupled_weight_decay"]))
