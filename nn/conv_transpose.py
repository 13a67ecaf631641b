"""ConvTranspose2d: the learned upsampling layer of decoders and GAN generators."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import minigrad as mg

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(Module):
    """The transpose (input-gradient) of a Conv2d with the same arguments, so it maps that
    Conv2d's output shape back to its input shape. Weight (in_channels,
    out_channels // groups, kh, kw), initialised as PyTorch (fan_in from dim 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                 bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, got "
                             f"{padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = F._pair(padding, "padding")
        self.output_padding = F._pair(output_padding, "output_padding")
        self.dilation = F._pair(dilation, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = Parameter(mg.empty(in_channels, out_channels // groups, *self.kernel_size,
                                         dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(mg.empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.affine_default_(self.weight, self.bias)

    def forward(self, input: mg.Tensor,
                output_size: Optional[Sequence[int]] = None) -> mg.Tensor:
        """``output_size`` picks among the sizes a strided Conv2d maps to the same shape
        (it sets output_padding for this call)."""
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)

    def _output_padding(self, input: mg.Tensor, output_size: Optional[Sequence[int]]) -> tuple:
        if output_size is None:
            return self.output_padding
        wanted = tuple(int(n) for n in output_size)[-2:]
        if len(wanted) != 2 or input.ndim < 2:
            raise ValueError(f"ConvTranspose2d: output_size must end with (H, W), got "
                             f"{tuple(output_size)}")
        smallest = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(
            input.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size))
        largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride))
        if any(not lo <= n <= hi for n, lo, hi in zip(wanted, smallest, largest)):
            raise ValueError(f"ConvTranspose2d: requested an output size of {wanted}, but "
                             f"valid sizes range from {smallest} to {largest} (for an input "
                             f"of spatial size {tuple(input.shape[-2:])})")
        return tuple(n - lo for n, lo in zip(wanted, smallest))

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
