"""minigrad: a small, readable, tape-based autograd engine on NumPy or CuPy.

    import minigrad as mg
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])
"""
import numpy as _numpy

from . import backends
from .autograd import backward, grad
from .backends import current_backend, get_backend, register_backend, set_backend, use_backend
from .creation import (arange, empty, eye, full, full_like, get_rng_state, linspace, manual_seed,
                       normal, ones, set_rng_state,
                       ones_like, rand, rand_like, randint, randn, randn_like, randperm, uniform,
                       zeros, zeros_like)
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import *  # noqa: F401,F403  (every operation under NumPy's name)
from .ops import __all__ as _ops_all
from .primitive import REGISTRY as primitives
from .serialization import *  # noqa: F401,F403  (save / load)
from .tensor import RemovableHandle, Tensor, tensor

float16 = _numpy.dtype("float16")
float32 = _numpy.dtype("float32")
float64 = _numpy.dtype("float64")
int32 = _numpy.dtype("int32")
int64 = _numpy.dtype("int64")
bool_ = _numpy.dtype("bool")

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "RemovableHandle", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "primitives",
    "backends", "current_backend", "get_backend", "register_backend", "set_backend",
    "use_backend", "arange", "empty", "eye", "full", "full_like", "get_rng_state", "linspace", "manual_seed",
    "set_rng_state",
    "normal", "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like",
    "randperm", "uniform", "zeros", "zeros_like", "float16", "float32", "float64", "int32",
    "int64", "bool_",
] + [name for name in _ops_all if name not in ("as_index",)]

from . import nn, optim  # noqa: E402  (built on the names above)
