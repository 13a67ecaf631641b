"""``minigrad.nn.modules``: the namespace PyTorch code imports layers from
(``from torch.nn.modules.dropout import Dropout``). Each submodule serves PyTorch's
class names from ``minigrad.nn``, so the classes are the same objects."""
from typing import Any

from . import (activation, batchnorm, container, conv, dropout, flatten, linear, loss, module,
               normalization, pooling, rnn, sparse, transformer)

_SUBMODULES = (activation, batchnorm, container, conv, dropout, flatten, linear, loss, module,
               normalization, pooling, rnn, sparse, transformer)


def __getattr__(name: str) -> Any:
    """``torch.nn.modules.Linear`` and the like: any class of a submodule."""
    if name == "__all__":
        return [n for sub in _SUBMODULES for n in sub.__all__]
    for sub in _SUBMODULES:
        if name in dir(sub):
            return getattr(sub, name)
    raise AttributeError(f"module 'minigrad.nn.modules' has no attribute {name!r}")
