"""PyTorch's torch.nn.modules.dropout: its classes, served from minigrad.nn (_reexport)."""
from ._reexport import reexport

__getattr__, __dir__ = reexport(__name__, (
    "AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "FeatureAlphaDropout",
))
