"""minigrad: a small, readable, tape-based autograd engine on NumPy or CuPy.

    import minigrad as mg
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])

The ``mg.*`` functions and Tensor methods have PyTorch's names and meanings (see
:mod:`minigrad.functions`); ``minigrad.ops`` holds the NumPy-named operations that
gradient rules are written in.
"""
from . import blas_spin  # first: it must act before NumPy loads OpenBLAS
from . import backends
from .autograd import backward, grad
from .backends import current_backend, get_backend, register_backend, set_backend, use_backend
from .creation import *  # noqa: F401,F403  (factories and random numbers)
from .creation import __all__ as _creation_all
from .device import device
from .dlpack import from_dlpack
from .generator import Generator
from .dtypes import (bool_, complex64, complex128, double, float16, float32, float64,
                     get_default_dtype, half, int8, int16, int32, int64, long,
                     set_default_dtype, uint8)
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import *  # noqa: F401,F403  (the NumPy-named operations ...)
from .ops import __all__ as _ops_all
from .functions import *  # noqa: F401,F403  (... and PyTorch's meanings where names collide)
from .functions import __all__ as _functions_all
from .fused_optimizers import _fused_adam_
from .primitive import REGISTRY as primitives
from .serialization import *  # noqa: F401,F403  (save / load)
from .size import Size
from .tensor import RemovableHandle, Tensor, tensor
from . import tensor_methods

tensor_methods.bind_methods()

# PyTorch's dtype names that shadow Python's builtins: set here, never used in this file.
from .dtypes import bool, float, int  # noqa: E402,A001

__version__ = "0.1.0"

__all__ = sorted(set(
    ["Tensor", "tensor", "RemovableHandle", "Size", "device", "backward", "grad", "no_grad",
     "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled", "gradcheck",
     "gradgradcheck", "GradcheckError", "primitives", "backends", "current_backend",
     "get_backend", "register_backend", "set_backend", "use_backend", "float16", "half",
     "float32", "float", "float64", "double", "complex64", "complex128", "int8", "int16",
     "int32", "int", "int64", "long", "uint8", "bool", "bool_", "get_default_dtype",
     "set_default_dtype", "autograd", "cuda", "nn", "optim", "utils", "viz", "onnx", "Generator",
     "from_dlpack"]
    + list(_creation_all) + [n for n in _ops_all if n != "as_index"] + list(_functions_all)))

from . import autograd, cuda, nn, optim  # noqa: E402  (built on the names above)
from . import utils  # noqa: E402  (data loading; built on the names above)
from . import viz  # noqa: E402  (graph pictures; built on the names above)
from . import onnx  # noqa: E402  (ONNX export; the onnx package is imported only to export)
from . import distributed  # noqa: E402  (collectives; mpi4py/CuPy imported only on init)
