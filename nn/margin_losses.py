"""Margin losses for metric learning and ranking: a label y = 1 / -1 says whether a pair
should be similar (ranked first) or dissimilar (ranked second); a pair already on the right
side of the margin costs nothing and gets no gradient."""
from __future__ import annotations

from typing import Any

import minigrad as mg

from .functional import _as_tensor, _reduce
from .loss import _Loss

__all__ = ["CosineEmbeddingLoss", "MarginRankingLoss"]

_EPS = 1e-12  # added to each squared norm (as PyTorch), so a zero vector has cosine 0


def cosine_embedding_loss(input1: mg.Tensor, input2: mg.Tensor, target: Any,
                          margin: float = 0.0, *, reduction: str = "mean") -> mg.Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (0 for other
    labels); rows of (N, D) inputs with targets (N,), or one (D,) pair with a 0-d target."""
    name = "cosine_embedding_loss"
    target = _as_tensor(target, input1)
    if target.ndim > 1:
        raise ValueError(f"{name}: target must be 0-d or 1-d (one label per pair), got shape "
                         f"{tuple(target.shape)}")
    if input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise ValueError(f"{name}: a {target.ndim}-d target needs {target.ndim + 1}-d inputs, "
                         f"got shapes {tuple(input1.shape)} and {tuple(input2.shape)}")
    dim = target.ndim
    dot = (input1 * input2).sum(dim)
    squared_norms = ((input1 * input1).sum(dim) + _EPS) * ((input2 * input2).sum(dim) + _EPS)
    cos = dot / squared_norms.sqrt()
    loss = mg.where(target == 1, 1.0 - cos, 0.0)
    loss = loss + mg.where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(loss, reduction, name)


def margin_ranking_loss(input1: mg.Tensor, input2: mg.Tensor, target: Any,
                        margin: float = 0.0, *, reduction: str = "mean") -> mg.Tensor:
    """max(0, -y·(x1 - x2) + margin): y = 1 asks for x1 > x2 + margin, y = -1 the reverse.
    The three tensors need the same number of dims (as PyTorch) and broadcast together."""
    target = _as_tensor(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(f"margin_ranking_loss: input1, input2 and target need the same number "
                         f"of dims, got shapes {tuple(input1.shape)}, {tuple(input2.shape)} "
                         f"and {tuple(target.shape)}")
    loss = (-target * (input1 - input2) + margin).clamp(min=0.0)
    return _reduce(loss, reduction, "margin_ranking_loss")


class CosineEmbeddingLoss(_Loss):
    """Pull pairs labelled 1 together, push pairs labelled -1 below a cosine ``margin``."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: mg.Tensor, input2: mg.Tensor, target: Any) -> mg.Tensor:
        return cosine_embedding_loss(input1, input2, target, self.margin,
                                     reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """Rank ``input1`` above ``input2`` by ``margin`` where y = 1 (below where y = -1)."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: mg.Tensor, input2: mg.Tensor, target: Any) -> mg.Tensor:
        return margin_ranking_loss(input1, input2, target, self.margin,
                                   reduction=self.reduction)
