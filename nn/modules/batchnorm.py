"""PyTorch's torch.nn.modules.batchnorm: its classes, served from minigrad.nn (_reexport)."""
from ._reexport import reexport

__getattr__, __dir__ = reexport(__name__, (
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d", "SyncBatchNorm",
))
