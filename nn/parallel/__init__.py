"""``minigrad.nn.parallel``: data-parallel training over ``minigrad.distributed``."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
