"""Loss modules: thin holders of a loss's options around the ``nn.functional`` versions.

Class weights are buffers, as in PyTorch, so they follow ``.to()`` and appear in the
state_dict when given.
"""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from . import functional as F
from .module import Module

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss", "NLLLoss"]

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    _reductions = _REDUCTIONS  # a loss with more (KLDivLoss's 'batchmean') extends this

    def __init__(self, reduction: str) -> None:
        super().__init__()
        if reduction not in self._reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{self._reductions}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


def _optional_tensor(value: Any, name: str) -> Optional[mg.Tensor]:
    """A loss's ``name`` (weight, pos_weight) as a tensor, numbers and lists made one;
    anything else (text, objects) refused by name, not kept as a tensor of strings."""
    if value is None or isinstance(value, mg.Tensor):
        return value
    try:
        out = mg.tensor(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a tensor of numbers, got {value!r}") from exc
    if out.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a tensor of numbers, got {value!r}")
    return out


class CrossEntropyLoss(_Loss):
    """log_softmax + NLL over class axis 1 (see ``F.cross_entropy``)."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_tensor(weight, "weight"))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices, given log-probabilities."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_tensor(weight, "weight"))
        self.ignore_index = ignore_index

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean (or summed) squared error."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one numerically stable expression."""

    def __init__(self, weight: Any = None, reduction: str = "mean",
                 pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_tensor(weight, "weight"))
        self.register_buffer("pos_weight", _optional_tensor(pos_weight, "pos_weight"))

    def forward(self, input: mg.Tensor, target: Any) -> mg.Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
