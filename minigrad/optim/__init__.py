"""``minigrad.optim``: where PyTorch users look for optimizers (defined in minigrad.nn.optim)."""
from ..nn.optim import *  # noqa: F401,F403
from ..nn.optim import __all__  # noqa: F401
from . import lr_scheduler
