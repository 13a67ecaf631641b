"""Regression losses on the difference d = input - target: L1, smooth L1 and Huber.

Smooth L1 and Huber are quadratic near zero and linear beyond a threshold, so a few outliers
pull with a bounded gradient; the two differ only by a factor (Huber = beta · smooth L1 at
beta = delta). Both branches are selected with ``where``, so each element's gradient is that
of its own branch.
"""
from __future__ import annotations

from typing import Any

import minigrad as mg

from .functional import _as_tensor, _reduce
from .loss import _Loss

__all__ = ["HuberLoss", "L1Loss", "SmoothL1Loss"]


def _difference(input: mg.Tensor, target: Any, name: str) -> mg.Tensor:
    target = _as_tensor(target, input)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ")
    return input - target


def _quadratic_then_linear(diff: mg.Tensor, threshold: float) -> mg.Tensor:
    """0.5·d² inside |d| < threshold, threshold·(|d| - 0.5·threshold) outside: Huber."""
    size = diff.abs()
    return mg.where(size < threshold, 0.5 * diff * diff, threshold * (size - 0.5 * threshold))


def l1_loss(input: mg.Tensor, target: Any, *, reduction: str = "mean") -> mg.Tensor:
    """|input - target| (its gradient at 0 is 0, as PyTorch's)."""
    return _reduce(_difference(input, target, "l1_loss").abs(), reduction, "l1_loss")


def smooth_l1_loss(input: mg.Tensor, target: Any, *, reduction: str = "mean",
                   beta: float = 1.0) -> mg.Tensor:
    """0.5·d²/beta where |d| < beta, else |d| - 0.5·beta; beta = 0 is the L1 loss."""
    name = "smooth_l1_loss"
    if not beta >= 0:
        raise ValueError(f"{name}: beta must be non-negative, got {beta}")
    diff = _difference(input, target, name)
    loss = diff.abs() if beta == 0 else _quadratic_then_linear(diff, beta) / beta
    return _reduce(loss, reduction, name)


def huber_loss(input: mg.Tensor, target: Any, reduction: str = "mean",
               delta: float = 1.0) -> mg.Tensor:
    """0.5·d² where |d| < delta, else delta·(|d| - 0.5·delta)."""
    name = "huber_loss"
    if not delta > 0:
        raise ValueError(f"{name}: delta must be positive, got {delta}")
    loss = _quadratic_then_linear(_difference(input, target, name), delta)
    return _reduce(loss, reduction, name)


class L1Loss(_Loss):
    """Mean (or summed) absolute error."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic for |d| < beta, absolute beyond (see ``F.smooth_l1_loss``)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic for |d| < delta, linear with slope delta beyond (see ``F.huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)
