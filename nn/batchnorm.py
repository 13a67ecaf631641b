"""BatchNorm1d/2d/3d: normalise each channel over the batch, keeping running statistics
(as buffers) for evaluation."""
from __future__ import annotations

from typing import Any, Optional

import minigrad as mg

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(Module):
    """Training normalises with the batch's statistics and moves ``running_mean`` /
    ``running_var`` toward them by ``momentum`` (None: a cumulative average over
    ``num_batches_tracked`` batches); evaluation normalises with the running statistics.
    Without ``track_running_stats`` there are none, and the batch's are always used.
    ``affine`` adds a per-channel weight (ones at the start) and, unless ``bias=False``,
    a bias (zeros)."""

    _ranks: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(mg.empty(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(mg.empty(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", mg.zeros(num_features, dtype=dtype,
                                                          device=device))
            self.register_buffer("running_var", mg.ones(num_features, dtype=dtype,
                                                        device=device))
            self.register_buffer("num_batches_tracked", mg.zeros((), dtype=mg.int64,
                                                                 device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with mg.no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: mg.Tensor) -> mg.Tensor:
        if input.ndim not in self._ranks:
            expected = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{type(self).__name__}: expected {expected} input (got "
                             f"{input.ndim}D input of shape {tuple(input.shape)})")
        updating = self.training and self.track_running_stats
        momentum: Any = 0.0 if self.momentum is None else self.momentum
        if updating and self.momentum is None:
            # 1/(batches so far, this one included), computed on the device: no host sync
            tracked = self.num_batches_tracked.to(self.running_mean.dtype)
            momentum = 1.0 / (tracked + 1.0)
        use_running = not self.training or self.track_running_stats
        out = F.batch_norm(input, self.running_mean if use_running else None,
                           self.running_var if use_running else None, self.weight, self.bias,
                           self.training or self.running_mean is None, momentum, self.eps)
        if updating:
            with mg.no_grad():
                self.num_batches_tracked.add_(1)
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) inputs."""

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) inputs."""

    _ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """Over (N, C, D, H, W) inputs."""

    _ranks = (5,)
