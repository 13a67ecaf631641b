"""Vectors compared by direction: ``F.normalize`` and ``F.cosine_similarity``, with PyTorch's
floors under the norms and PyTorch's gradients near a zero vector.

The two floor their norms differently, as in PyTorch: ``normalize`` clamps the norm in the
graph (below ``eps`` the norm's own gradient is cut, and a zero vector stays zero), while
``cosine_similarity`` clamps only the norm's value and keeps its gradient (PyTorch clamps in
place under no_grad), so the two gradients differ for norms below ``eps``.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg

__all__ = ["normalize", "cosine_similarity"]


def normalize(input: mg.Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> mg.Tensor:
    """``input`` divided by its p-norm along ``dim``, the norm floored at ``eps``."""
    return input / input.norm(p, dim, keepdim=True).clamp_min(eps)


def _floored_value(norm: mg.Tensor, eps: float) -> mg.Tensor:
    """``max(norm, eps)`` as a value, with the gradient of ``norm`` itself."""
    return norm + (norm.clamp_min(eps) - norm).detach()


def cosine_similarity(x1: mg.Tensor, x2: mg.Tensor, dim: int = 1, eps: float = 1e-8
                      ) -> mg.Tensor:
    """x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)) along ``dim`` of the shape the two
    broadcast to; that dim is summed away."""
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise ValueError(f"cosine_similarity: x1 of shape {tuple(x1.shape)} and x2 of shape "
                         f"{tuple(x2.shape)} do not broadcast to one shape") from None
    if tuple(x1.shape) != shape:  # broadcast only what needs it: each is a recorded op
        x1 = mg.broadcast_to(x1, shape)
    if tuple(x2.shape) != shape:
        x2 = mg.broadcast_to(x2, shape)
    n1 = _floored_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _floored_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)
