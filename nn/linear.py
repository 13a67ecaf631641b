"""Linear (an affine map) and Identity (a placeholder that passes its input through)."""
from __future__ import annotations

from typing import Any

import minigrad as mg

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear"]


class Identity(Module):
    """Returns its input; handy to switch off a stage of a model without rewiring it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return input


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features), initialised as PyTorch:
    W and b uniform in (-1/sqrt(in_features), 1/sqrt(in_features))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(mg.empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(mg.empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.affine_default_(self.weight, self.bias)

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
