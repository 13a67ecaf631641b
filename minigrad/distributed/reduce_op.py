"""``ReduceOp``: how a collective combines the ranks' values, with PyTorch's names."""
from __future__ import annotations

import enum

__all__ = ["ReduceOp"]


class ReduceOp(enum.Enum):
    """SUM, AVG (SUM then divided by the world size; floating point only), PRODUCT, MIN, MAX."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
