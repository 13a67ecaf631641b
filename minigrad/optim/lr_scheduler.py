"""``minigrad.optim.lr_scheduler``: learning-rate schedules (defined in minigrad.nn.optim)."""
from ..nn.optim.lr_scheduler import *  # noqa: F401,F403
from ..nn.optim.lr_scheduler import __all__  # noqa: F401
