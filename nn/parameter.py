"""Parameter: a tensor that a Module registers as learnable."""
from typing import Any

import minigrad as mg


class Parameter(mg.Tensor):
    """A leaf tensor that requires grad by default and is found by ``Module.parameters()``."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        super().__init__(mg.empty(0) if data is None else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
