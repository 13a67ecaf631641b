"""Vectors compared by direction: ``F.normalize`` and ``F.cosine_similarity``, with PyTorch's
floors under the norms and PyTorch's gradients near a zero vector; and by distance:
``F.pairwise_distance``.

The two floor their norms differently, as in PyTorch: ``normalize`` clamps the norm in the
graph (below ``eps`` the norm's own gradient is cut, and a zero vector stays zero), while
``cosine_similarity`` clamps only the norm's value and keeps its gradient (PyTorch clamps in
place under no_grad), so the two gradients differ for norms below ``eps``.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.promotion import result_type

__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]


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
    if not eps >= 0:  # NaN too, as PyTorch
        raise ValueError(f"cosine_similarity: eps must be non-negative, got {eps}")
    common = result_type([x1._data, x2._data])  # PyTorch's: float and int meet in the float
    if common.kind not in "fc":
        raise TypeError(f"cosine_similarity: needs floating-point tensors, got {x1.dtype} and "
                        f"{x2.dtype}")
    x1, x2 = (x if x.dtype == common else x.to(common) for x in (x1, x2))
    if tuple(x1.shape) != shape:  # broadcast only what needs it: each is a recorded op
        x1 = mg.broadcast_to(x1, shape)
    if tuple(x2.shape) != shape:
        x2 = mg.broadcast_to(x2, shape)
    n1 = _floored_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _floored_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: mg.Tensor, x2: mg.Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> mg.Tensor:
    """‖x1 - x2 + eps‖_p over the last dim of the shape the two broadcast to. As in
    PyTorch, ``eps`` is added to the difference, so that equal vectors have a norm with a
    gradient."""
    difference = (x1 - x2) + eps
    if difference.ndim == 0:  # two numbers: |x1 - x2 + eps|, as in PyTorch
        return difference.norm(p)
    return difference.norm(p, -1, keepdim=keepdim)
