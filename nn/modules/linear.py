"""PyTorch's torch.nn.modules.linear: its classes, served from minigrad.nn (_reexport)."""
from ._reexport import reexport

__getattr__, __dir__ = reexport(__name__, (
    "Bilinear", "Identity", "LazyLinear", "Linear",
))
