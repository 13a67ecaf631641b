"""Gradient clipping: rescale by the global norm, or clamp each entry.

``clip_grad_norm_`` never reads the norm back to the host: the coefficient
``min(max_norm / (norm + 1e-6), 1)`` is a 0-d tensor multiplied into every gradient, so on
a GPU the step runs without a device-to-host synchronisation. (The norm is the square root
of the sum of squares: comparing the *squared* norm with the threshold is a classic bug.)
"""
from __future__ import annotations

import math
from typing import Iterable, Union

import minigrad as mg

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

Parameters = Union[mg.Tensor, Iterable[mg.Tensor]]


def _gradients(parameters: Parameters) -> list[mg.Tensor]:
    params = [parameters] if isinstance(parameters, mg.Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def _vector_norm(x: mg.Tensor, norm_type: float) -> mg.Tensor:
    """The p-norm of all entries of ``x`` (``inf``: largest magnitude, ``-inf``: smallest,
    ``0``: number of non-zeros), in ``x``'s dtype."""
    if norm_type == math.inf:
        return x.abs().max()
    if norm_type == -math.inf:
        return x.abs().min()
    if norm_type == 0:
        return (x != 0).astype(x.dtype).sum()
    if norm_type == 1:
        return x.abs().sum()
    if norm_type == 2:  # a dot product: one pass, no temporary
        flat = x.reshape(-1)
        return (flat @ flat).sqrt()
    return (x.abs() ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> mg.Tensor:
    """Scale all gradients together so their joint ``norm_type``-norm is at most
    ``max_norm``; returns that norm *before* clipping, as a 0-d tensor.

    ``error_if_nonfinite=True`` raises if the norm is nan or inf (this one check does read
    the norm on the host); otherwise such gradients are scaled as PyTorch scales them.
    """
    grads = _gradients(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return mg.tensor(0.0)
    with mg.no_grad():
        device = grads[0].device
        norms = [_vector_norm(g, norm_type).to(device) for g in grads if g.numel() > 0]
        if not norms:
            return mg.zeros((), dtype=grads[0].dtype, device=device)
        total = _vector_norm(mg.stack(norms), norm_type)
        if error_if_nonfinite and not bool(mg.isfinite(total)):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
        coefficient = mg.minimum(max_norm / (total + 1e-6), 1.0)
        for g in grads:
            g.data = g * coefficient.to(g.device).astype(g.dtype)
    return total


def clip_grad_value_(parameters: Parameters, clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    with mg.no_grad():
        for g in _gradients(parameters):
            g.data = g.clip(-clip_value, clip_value)
