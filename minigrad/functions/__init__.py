"""The public ``mg.*`` functions: PyTorch's names, signatures and meanings.

Built on ``minigrad.ops`` (the NumPy-named operations gradient rules use); where NumPy
and PyTorch give a name different meanings, the function here has PyTorch's, and
NumPy's keyword spellings (``axis=``, ``keepdims=``, ``ddof=``) are accepted as aliases.
Tensor methods are bound to these functions in :mod:`minigrad.tensor_methods`.
"""
import inspect

# Operations whose NumPy and PyTorch meanings agree are exported as they are ...
from ..ops import (abs, ceil, expand_dims, floor, isfinite, isinf, isnan, logical_and,
                   logical_not, logical_or, matmul, maximum, minimum, pad, power, relu)
from . import pointwise, quantiles, reductions, selection, shaping
# ... and the transcendental ones turn integer input into floats first, as PyTorch's do.
from .pointwise import (arccos, arcsin, arctan, cos, cosh, erf, exp, expm1, log, log1p,
                        sigmoid, sin, sinh, sqrt, tan, tanh)
from .pointwise import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .selection import *  # noqa: F401,F403
from .quantiles import *  # noqa: F401,F403
from .shaping import *  # noqa: F401,F403
from .arguments import reported

atan, asin, acos, absolute = arctan, arcsin, arccos, abs

SAME_IN_BOTH = [
    "abs", "arccos", "arcsin", "arctan", "ceil", "cos", "cosh", "erf", "exp", "expand_dims",
    "expm1", "floor", "isfinite", "isinf", "isnan", "log", "log1p", "logical_and",
    "logical_not", "logical_or", "matmul", "maximum", "minimum", "pad", "power",
    "relu", "sigmoid", "sin", "sinh", "sqrt", "tan", "tanh", "atan", "asin", "acos",
    "absolute",
]
__all__ = (SAME_IN_BOTH + pointwise.__all__ + reductions.__all__ + selection.__all__
           + quantiles.__all__ + shaping.__all__)


def _name_errors() -> None:
    """Every exported function names itself in the errors it raises (see ``reported``);
    aliases share their function's wrapper, and a message naming any of them will do."""
    space = globals()
    functions = {name: space[name] for name in __all__ if inspect.isfunction(space[name])}
    aliases: dict = {}
    for name, fn in functions.items():
        aliases.setdefault(id(fn), []).append(name)
    wrapped: dict = {}
    for name, fn in functions.items():
        if getattr(fn, "names_its_errors", False):
            continue  # already reported where it needs to be (pointwise._promoting)
        if id(fn) not in wrapped:
            wrapped[id(fn)] = reported(fn, *aliases[id(fn)])
        space[name] = wrapped[id(fn)]


_name_errors()
