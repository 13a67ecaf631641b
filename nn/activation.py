"""Activation functions as modules, so they can sit inside a Sequential."""
from __future__ import annotations

import minigrad as mg

from . import functional as F
from .module import Module

__all__ = ["GELU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class ReLU(Module):
    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.relu(input)


class Tanh(Module):
    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.tanh(input)


class Sigmoid(Module):
    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.sigmoid(input)


class GELU(Module):
    """x·Φ(x); ``approximate='tanh'`` uses PyTorch's tanh formula (see ``F.gelu``)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """Softmax along ``dim``. PyTorch's ``dim=None`` guesses an axis (deprecated there);
    here the default is the last axis, as ``F.softmax``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim`` computed stably (default: the last axis)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
