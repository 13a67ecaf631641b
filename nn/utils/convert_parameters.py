"""A model's parameters as one flat vector and back, as ``torch.nn.utils`` has them.

Second-order and evolutionary methods (conjugate gradient, natural gradient, CMA-ES)
work on a single vector; these two functions convert between that view and the
module's tensors. ``parameters_to_vector`` is differentiable (the gradient of a loss
of the vector reaches every parameter); ``vector_to_parameters`` writes values only.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import minigrad as mg

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _same_device(param: mg.Tensor, index: int, first: Optional[Any]) -> Any:
    """The first parameter's device; a later parameter elsewhere is an error (one vector
    lives on one device)."""
    if first is not None and param.device != first:
        raise TypeError(f"Found two parameters on different devices: parameter 0 is on "
                        f"{first}, parameter {index} on {param.device}; move the model to one "
                        "device first")
    return param.device if first is None else first


def parameters_to_vector(parameters: Iterable[mg.Tensor]) -> mg.Tensor:
    """All parameters flattened (row-major) and concatenated in iteration order."""
    device = None
    pieces = []
    for i, param in enumerate(parameters):
        device = _same_device(param, i, device)
        pieces.append(param.reshape(-1))
    if not pieces:
        raise ValueError("parameters_to_vector: got no parameters to flatten")
    return mg.cat(pieces)


def vector_to_parameters(vec: mg.Tensor, parameters: Iterable[mg.Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in iteration
    order (each parameter keeps its identity, so optimizers holding it see the change)."""
    if not isinstance(vec, mg.Tensor):
        raise TypeError(f"expected a minigrad Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape "
                         f"{tuple(vec.shape)}")
    device = None
    pointer = 0
    with mg.no_grad():
        for i, param in enumerate(parameters):
            device = _same_device(param, i, device)
            count = param.numel()
            if pointer + count > vec.shape[0]:
                raise ValueError(f"vector_to_parameters: the vector has {vec.shape[0]} "
                                 f"elements, too few for parameter {i} of shape "
                                 f"{tuple(param.shape)} (it needs {pointer + count} so far)")
            param.data = vec[pointer:pointer + count].reshape(param.shape).clone()
            pointer += count
