"""Weight and spectral normalization as parametrizations, as in
``torch.nn.utils.parametrizations``.

``weight_norm`` splits a weight into a magnitude ``g`` and a direction ``v``
(``w = g * v / ||v||``, norms taken per slice along ``dim``), which decouples how large
a layer's weights are from where they point and often speeds up SGD. ``spectral_norm``
divides a weight by an estimate of its largest singular value, kept by power iteration,
so the layer is (about) 1-Lipschitz: the classic stabilizer of GAN discriminators.

Both are :func:`~.parametrize.register_parametrization` under the hood, so the learned
tensors sit at ``parametrizations.weight.original0/original1`` (weight norm: g, v) or
``parametrizations.weight.original`` plus the power-iteration vectors
``parametrizations.weight.0._u/_v`` (spectral norm), PyTorch's state_dict keys.
"""
from __future__ import annotations

from typing import Optional

import minigrad as mg

from ..module import Module
from .parametrize import register_parametrization

__all__ = ["spectral_norm", "weight_norm"]

_TRANSPOSED_CONVS = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")


def _norm_except_dim(v: mg.Tensor, dim: int) -> mg.Tensor:
    """The 2-norm of each slice of ``v`` along ``dim`` (kept as a size-1-elsewhere
    shape, so it broadcasts against ``v``); ``dim=-1``: of the whole tensor, 0-d.
    (-1 means "all", not "last": PyTorch's weight-norm convention.)"""
    if dim == -1:
        return v.norm()
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    if not others:
        return v.abs()
    return (v * v).sum(dim=others, keepdim=True).sqrt()


def _normalize(x: mg.Tensor, eps: float) -> mg.Tensor:
    """``x / max(||x||, eps)``: a unit vector that never divides by zero."""
    return x / x.norm().clamp_min(eps)


class _WeightNorm(Module):
    """w = g * v / ||v||, with the norms along ``dim`` (None: of the whole tensor)."""

    def __init__(self, dim: Optional[int] = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: mg.Tensor, weight_v: mg.Tensor) -> mg.Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: mg.Tensor) -> tuple:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: Optional[int] = 0) -> Module:
    """Reparametrize ``module.<name>`` as ``g * v / ||v||``: ``g`` (original0) holds the
    norm of each slice along ``dim`` (``dim=None``, or -1 as in PyTorch: one norm for the
    whole tensor), ``v`` (original1) the direction. Returns the module."""
    if dim is not None and dim != -1:
        weight = getattr(module, name, None)
        ndim = weight.ndim if isinstance(weight, mg.Tensor) else 0
        if ndim and not -ndim <= dim < ndim:
            raise IndexError(f"weight_norm: dim {dim} is out of range for {name!r} of shape "
                             f"{tuple(weight.shape)}")
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    """w / sigma(w), sigma estimated by power iteration on ``w`` seen as a matrix with
    ``dim`` as its rows; the vectors ``_u``, ``_v`` are buffers, refined on every
    access in training mode and frozen in eval mode. A 1-D weight is just normalized."""

    def __init__(self, weight: mg.Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim % ndim
        self.eps = eps
        self.n_power_iterations = n_power_iterations
        if ndim > 1:
            matrix = self._as_matrix(weight)
            rows, cols = matrix.shape
            like = {"dtype": weight.dtype, "device": weight.device}
            self.register_buffer("_u", _normalize(mg.randn(rows, **like), eps))
            self.register_buffer("_v", _normalize(mg.randn(cols, **like), eps))
            self._power_method(matrix, 15)  # start from a good estimate, as PyTorch does

    def _as_matrix(self, weight: mg.Tensor) -> mg.Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, matrix: mg.Tensor, iterations: int) -> None:
        with mg.no_grad():
            for _ in range(iterations):
                self._u = _normalize(mg.mv(matrix, self._v), self.eps)
                self._v = _normalize(mg.mv(matrix.T, self._u), self.eps)

    def forward(self, weight: mg.Tensor) -> mg.Tensor:
        if weight.ndim == 1:
            return _normalize(weight, self.eps)
        matrix = self._as_matrix(weight)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        # u and v are constants here (new tensors each iteration, never written in place)
        sigma = mg.dot(self._u, mg.mv(matrix, self._v))
        return weight / sigma

    def right_inverse(self, value: mg.Tensor) -> mg.Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: Optional[int] = None) -> Module:
    """Divide ``module.<name>`` by its spectral norm (largest singular value), estimated
    with ``n_power_iterations`` of the power method per access in training mode.
    ``dim``: the output dimension (default 0; 1 for transposed convolutions)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, mg.Tensor):
        raise ValueError(f"{type(module).__name__} has no parameter or buffer named {name!r}")
    if dim is None:
        transposed = any(c.__name__ in _TRANSPOSED_CONVS for c in type(module).__mro__)
        dim = 1 if transposed else 0
    return register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
