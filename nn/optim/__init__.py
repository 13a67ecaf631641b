"""Optimizers with torch.optim's arguments, defaults and update formulas.

Public home: ``minigrad.optim`` (this package is re-exported there).
"""
from . import lr_scheduler
from .adadelta import *  # noqa: F401,F403
from .adagrad import *  # noqa: F401,F403
from .adam import *  # noqa: F401,F403
from .adamax import *  # noqa: F401,F403
from .adamw import *  # noqa: F401,F403
from .lbfgs import *  # noqa: F401,F403
from .nadam import *  # noqa: F401,F403
from .optimizer import *  # noqa: F401,F403
from .radam import *  # noqa: F401,F403
from .rmsprop import *  # noqa: F401,F403
from .sgd import *  # noqa: F401,F403

import types as _types  # noqa: E402

__all__ = [name for name, value in dict(globals()).items()
           if not name.startswith("_") and not isinstance(value, _types.ModuleType)]
