"""Flatten: merge a run of axes into one (e.g. conv features into a vector per sample)."""
from __future__ import annotations

import minigrad as mg

from .module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """Merge axes ``start_dim`` .. ``end_dim``; by default all but the batch axis."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return mg.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
