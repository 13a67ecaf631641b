"""Every operation on tensors, under NumPy's names.

This namespace mirrors the backend's array functions, which is what lets a
gradient rule written against ``xp`` run on raw arrays (plain backward) or on
Tensors (``create_graph=True``, so the rule itself is recorded).
"""
from .elementwise import (abs, add, astype, clip, copy, divide, erf, exp, log, maximum, minimum,
                          multiply, negative, power, relu, sigmoid, sqrt, subtract, tanh, where)
from .indexing import as_index, getitem, index_add, index_put
from .linalg import addmm, matmul
from .nondifferentiable import (argmax, argmin, argsort, bitwise_and, bitwise_or, bitwise_xor,
                                ceil, equal, floor, greater, invert,
                                greater_equal, isfinite, isinf, isnan, less, less_equal,
                                logical_and, logical_not, logical_or, not_equal, round, sign)
from .recurrent import lstm_cell
from .sequence import gru_sequence, lstm_sequence, rnn_relu_sequence, rnn_tanh_sequence
from .softmax_cross_entropy import softmax_cross_entropy  # F.cross_entropy's; no mg.* name
from .binary_cross_entropy import binary_cross_entropy  # F.binary_cross_entropy's; no mg.*
from .reduction import log_softmax, logsumexp, max, mean, min, std, sum, var
from .shape import (broadcast_to, concatenate, expand_dims, flatten, moveaxis, pad, reshape,
                    split, squeeze, stack, swapaxes, transpose)
from .transfer import to_backend
from .elementwise import (arccos, arcsin, arctan, arctan2, cos, cosh, expm1, hypot, log1p,
                          logaddexp, reciprocal, sin, sinh, tan)
from .einsum import einsum
from .gather import add_along_axis, scatter, scatter_add, take_along_axis
from .scan import cumprod, cumsum, prod
from .structure import diagonal, flip, roll, tril, triu

__all__ = [
    "abs", "add", "astype", "clip", "copy", "divide", "erf", "exp", "log", "maximum", "minimum",
    "multiply", "negative", "power", "relu", "sigmoid", "sqrt", "subtract", "tanh", "where",
    "as_index", "getitem", "index_add", "index_put", "matmul", "argmax", "argmin", "argsort",
    "ceil",
    "equal", "floor", "greater", "greater_equal", "isfinite", "isinf", "isnan", "less",
    "less_equal", "logical_and", "logical_not", "logical_or", "not_equal", "round", "sign",
    "log_softmax", "logsumexp", "max", "mean", "min", "std", "sum", "var", "broadcast_to",
    "concatenate", "expand_dims", "flatten", "moveaxis", "pad", "reshape", "split", "squeeze", "stack",
    "swapaxes", "transpose", "to_backend", "lstm_cell", "addmm",
    "lstm_sequence", "gru_sequence", "rnn_tanh_sequence", "rnn_relu_sequence",
    "arccos", "arcsin", "arctan", "arctan2", "hypot", "logaddexp", "cos", "cosh", "expm1",
    "log1p", "reciprocal", "sin", "sinh", "tan", "einsum", "add_along_axis", "scatter",
    "scatter_add", "take_along_axis",
    "cumprod", "cumsum", "prod", "diagonal", "flip", "roll", "tril", "triu",
]
