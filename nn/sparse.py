"""Embedding: a lookup table of learned vectors, indexed by integer ids."""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """Row i of ``weight`` (num_embeddings, embedding_dim) is the vector of id i. Rows start
    N(0, 1); the ``padding_idx`` row starts at zero and never receives a gradient. With
    ``max_norm``, every row a forward looks up is first scaled in place to a
    ``norm_type``-norm of at most max_norm (as PyTorch: the table itself changes)."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                 norm_type: float = 2.0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.weight = Parameter(mg.empty(num_embeddings, embedding_dim, dtype=dtype,
                                         device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with mg.no_grad():
                self.weight[self.padding_idx] = 0.0

    def forward(self, input: Any) -> mg.Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm,
                           self.norm_type)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                        norm_type: float = 2.0) -> "Embedding":
        """An Embedding holding a copy of a 2-d table; frozen (no gradient) by default."""
        table = embeddings if isinstance(embeddings, mg.Tensor) else mg.tensor(embeddings)
        if table.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-d "
                             f"(num_embeddings, embedding_dim), got shape {tuple(table.shape)}")
        module = cls(table.shape[0], table.shape[1], padding_idx=padding_idx,
                     max_norm=max_norm, norm_type=norm_type, dtype=table.dtype,
                     device=table.backend)
        module.weight = Parameter(table.detach(), requires_grad=not freeze)
        return module

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2.0:
            text += f", norm_type={self.norm_type}"
        return text


def _padding_index(padding_idx: Optional[int], num_embeddings: int) -> Optional[int]:
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"padding_idx {padding_idx} must be within num_embeddings "
                         f"({num_embeddings})")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx
