"""Conv2d: a learned 2-d cross-correlation over (N, C, H, W) images."""
from __future__ import annotations

from typing import Any, Union

import minigrad as mg

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv2d"]

IntPair = Union[int, tuple]


class Conv2d(Module):
    """Weight (out_channels, in_channels // groups, kh, kw) and bias (out_channels,),
    initialised as PyTorch: uniform in ±1/sqrt(fan_in), fan_in = in_channels/groups·kh·kw."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: Union[IntPair, str] = 0,
                 dilation: IntPair = 1, groups: int = 1, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else F._pair(padding, "padding")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', got "
                             f"{padding!r}")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        self.dilation = F._pair(dilation, "dilation")
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
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
