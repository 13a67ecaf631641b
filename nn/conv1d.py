"""Conv1d: a learned 1-d cross-correlation over (N, C, L) sequences."""
from __future__ import annotations

from typing import Any, Union

import minigrad as mg

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d"]


class Conv1d(Module):
    """Weight (out_channels, in_channels // groups, kernel_size) and bias (out_channels,),
    initialised as PyTorch: uniform in ±1/sqrt(in_channels/groups·kernel_size). Sizes are
    kept as 1-tuples, as PyTorch keeps them."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Union[Any, str] = 0, dilation: Any = 1,
                 groups: int = 1, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (F._single(kernel_size, "kernel_size"),)
        self.stride = (F._single(stride, "stride"),)
        self.padding = padding if isinstance(padding, str) else (F._single(padding, "padding"),)
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', got "
                             f"{padding!r}")
        if padding == "same" and self.stride != (1,):
            raise ValueError("padding='same' is not supported for strided convolutions")
        self.dilation = (F._single(dilation, "dilation"),)
        self.groups = groups
        self.weight = Parameter(mg.empty(out_channels, in_channels // groups, *self.kernel_size,
                                         dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(mg.empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.affine_default_(self.weight, self.bias)

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,):
            text += f", padding={self.padding}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
