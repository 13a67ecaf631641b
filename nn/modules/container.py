"""PyTorch's torch.nn.modules.container: its classes, served from minigrad.nn (_reexport)."""
from ._reexport import reexport

__getattr__, __dir__ = reexport(__name__, (
    "Container", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList",
    "Sequential",
))
