"""Losses on probabilities: binary cross-entropy of probabilities and the KL divergence.

``BCELoss`` takes probabilities (after a sigmoid); prefer ``BCEWithLogitsLoss``, which takes
logits and never loses precision near 0 and 1. As in PyTorch, its logarithms are floored at
-100 so a probability of exactly 0 or 1 gives a finite loss, and its gradient is PyTorch's
formula (minigrad/ops/binary_cross_entropy.py).
"""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from .functional import _REDUCTIONS, _as_tensor, _reduce
from .loss import _Loss, _optional_tensor

__all__ = ["BCELoss", "KLDivLoss"]


def binary_cross_entropy(input: mg.Tensor, target: Any, weight: Optional[mg.Tensor] = None,
                         *, reduction: str = "mean") -> mg.Tensor:
    """-w·[y·log x + (1 - y)·log(1 - x)] for probabilities x in [0, 1]."""
    name = "binary_cross_entropy"
    target = _as_tensor(target, input)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ")
    if not bool(((input >= 0) & (input <= 1)).all()):
        raise ValueError(f"{name}: every element of input must be a probability in [0, 1] "
                         f"(apply a sigmoid, or use binary_cross_entropy_with_logits)")
    loss = mg.ops.binary_cross_entropy(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, name)


def kl_div(input: mg.Tensor, target: Any, *, reduction: str = "mean",
           log_target: bool = False) -> mg.Tensor:
    """Pointwise target·(log target - input): the KL divergence KL(target ‖ exp(input)) for
    ``input`` holding log-probabilities (``target`` too when ``log_target``). 'batchmean'
    divides the sum by the batch size (the true KL per sample); 'mean' divides by the
    number of elements. A zero target contributes 0, as 0·log 0 = 0 (its own gradient is
    then -input, where PyTorch's is NaN)."""
    name = "kl_div"
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS + ('batchmean',)}, "
                         f"got {reduction!r}")
    target = _as_tensor(target, input)
    if log_target:
        loss = mg.exp(target) * (target - input)
    else:
        nonzero = target != 0
        loss = target * (mg.log(mg.where(nonzero, target, 1.0)) - input)
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction, name)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities; ``weight`` (a buffer) rescales each element."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_tensor(weight, "weight"))

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities from a target distribution (see ``F.kl_div``)."""

    _reductions = _REDUCTIONS + ("batchmean",)

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
