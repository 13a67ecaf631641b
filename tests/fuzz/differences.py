"""Where minigrad answers bad input differently from PyTorch, on purpose.

Each rule says when it applies and why; the fuzz tests accept exactly these differences and
fail on any other. Most are minigrad being more lenient in the NumPy way (it computes what
NumPy can compute); a few are minigrad being stricter.
"""
from __future__ import annotations

import math
import re
from typing import Any, Optional, Sequence

import numpy as np

import minigrad as mg
from harness import finite

FLAGS = {"keepdim", "keepdims", "requires_grad", "as_tuple", "stable", "descending",
         "largest", "sorted", "equal_nan", "replacement", "unbiased"}


def device_mix(args: tuple, kwargs: dict) -> bool:
    """Does the call involve the fuzz suite's second device (PyTorch has none to compare)?"""
    return any(_on_other_device(v) for v in list(args) + list(kwargs.values()))


def _on_other_device(v: Any) -> bool:
    if isinstance(v, mg.Tensor):
        return str(v.device) != "cpu"
    if isinstance(v, (list, tuple)):
        return any(_on_other_device(x) for x in v)
    return isinstance(v, str) and v not in ("cpu",)


def _values(args: tuple, kwargs: dict) -> list:
    out = []
    for v in list(args) + list(kwargs.values()):
        out.extend(v if isinstance(v, (list, tuple)) else [v])
    return out


def _huge_int(args: tuple, kwargs: dict) -> bool:
    def huge(v: Any) -> bool:
        if isinstance(v, mg.Tensor):
            return v.dtype == np.uint64
        return isinstance(v, int) and not -2 ** 63 <= v < 2 ** 63
    return any(huge(v) for v in _values(args, kwargs))


def _negative_index(args: tuple, kwargs: dict) -> bool:
    return any(isinstance(v, mg.Tensor) and v.dtype.kind == "i" and bool((v.numpy() < 0).any())
               or type(v) is int and v < 0 for v in _values(args, kwargs))


def _infinite(args: tuple, kwargs: dict) -> bool:
    return any(isinstance(v, float) and math.isinf(v) for v in _values(args, kwargs))


# (when PyTorch raised and minigrad worked) the message pattern, and why that is fine
LENIENT = [
    (r"not implemented for|does not support (bool|complex)|Unsupported input type|with a bool tensor "
     r"is not supported|with two bool tensors|Boolean inputs not supported",
     "PyTorch's CPU kernels lack this dtype (abs of bool, lerp of uint8, softmax of int64, "
     "bool minus a number); minigrad computes it as NumPy does"),
    (r"did not match|expected dtype|same dtype|Expected self.dtype to be equal to src|"
     r"requires the source and destination dtypes match|Promotion for uint|expected scalar type|"
     r"Found dtype",
     "mixed dtypes: minigrad applies PyTorch's promotion rules where PyTorch's op insists "
     "on one dtype"),
    (r"only one element tensors can be converted",
     "mg.tensor of a list of equal-shape tensors stacks them (NumPy's rule)"),
    (r"normal expects all elements of std >= 0|Expected p_in >= 0 && p_in <= 1",
     "normal() and bernoulli() do not check tensors of stds or probabilities (the check "
     "would wait for the GPU)"),
    (r"Expected dtype int64 for index|dtype of indices should be Long",
     "indices may be any integer dtype (int32 too)"),
    (r"cannot be converted to type .* without overflow",
     "a number beyond the dtype's range is cast as NumPy casts it (float16 1e30 is inf)"),
    (r"(moveaxis|movedim)\(\) received an invalid combination",
     "movedim takes an int and a one-element sequence together"),
    (r"Autograd not support dtype",
     "sum/prod with an integer dtype= drops the gradient instead of refusing"),
    (r"argument '(dims?|shape|sizes)' \(position \d\) must be tuple of ints, not int",
     "mg.flip / mg.reshape / mg.unflatten take one int where PyTorch wants a tuple"),
    (r"(std|var)(_mean)?\(\) received an invalid combination",
     "var/std take the legacy (input, unbiased) and (input, dim, unbiased, keepdim) forms "
     "loosely"),
    (r"argument alpha must not be a floating point|Boolean alpha only supported",
     "alpha may be any number for any operands (the result takes PyTorch's promoted dtype)"),
    (r"output with shape \[\] doesn't match the broadcast shape",
     "dim=() reduces every dim (PyTorch's logsumexp fails inside on it)"),
    (r"(min|max)\(\) received an invalid combination of arguments - got \(Tensor, Tensor, "
     r"bool\)",
     "max(a, b, False): keepdim=False is the default and is ignored next to a second tensor"),
    (r"cannot compute the .* norm on an empty tensor",
     "the norm of an empty tensor is the empty sum's (or min's, max's) value for every p"),
    (r"operator.invert\) is only implemented on integer and Boolean|"
     r"(bitwise_and|bitwise_or|bitwise_not|logical)",
     "&, | and ~ are logical on every dtype (bool results); PyTorch's are bitwise on "
     "integers and refuse floats (tensor.py binds them)"),
    (r"step must be greater than zero",
     "negative slice steps work (NumPy's reversed views); PyTorch refuses them"),
    (r"The `\+` operator, on a bool tensor is not supported",
     "+x of a bool tensor is x"),
    (r"Integers to negative integer powers are not allowed",
     "empty integer tensors to negative powers: nothing to compute, so no error"),
    (r"only integer tensors of a single element can be converted to an index",
     "mg.tensor of a list of equal-shape tensors stacks them (NumPy's rule)"),
    (r"Can't call numpy\(\) on Tensor that requires grad",
     "x.numpy() gives the values of a tensor that requires grad (no graph goes along)"),
    (r"argument 'dim' \(position \d\) must be int, not Tensor",
     "x.max(other, False): keepdim=False is the default and is ignored next to a second "
     "tensor"),
    (r"expects p to be in \[0, 1\]|expects lambda > 0",
     "a tensor of probabilities is not checked (the check would wait for the GPU)"),
    (r"(reshape|permute)\(\) takes \d positional arguments",
     "mg.reshape and mg.permute take the sizes as varargs too, as the methods do"),
    (r"clamp is not supported for complex types",
     "relu of complex numbers follows NumPy's order (real part first)"),
    (r"argument 'dim' \(position \d\) must be tuple of ints, not NoneType",
     "dim=None reduces every dim (logsumexp as sum)"),
    (r"prod\(\): argument 'dim' \(position \d\) must be int, not (list|tuple)|"
     r"prod\(\) received an invalid combination of arguments - got \(Tensor, (list|tuple)",
     "prod reduces several dims at once, as sum does"),
    (r"missing \d required positional arguments: \"(size|shape|dims|repeats)\"|"
     r"invalid combination of arguments - got \(([\w.]+=[\w.]+, )*([\w.]+=[\w.]+)?,? ?\)",
     "no size is the 0-d shape (zeros(), rand(), x.reshape())"),
    (r"normal\(\) received an invalid combination of arguments - got \((float|int), "
     r"(float|int)(, NoneType)?\)",
     "normal(mean, std) of two numbers without a size draws one number"),
    (r"sort\(\) received an invalid combination of arguments.*stable|"
     r"(argsort|sort)\(\) takes from \d to \d positional arguments",
     "sort/argsort take dim and descending positionally next to stable= (PyTorch's "
     "parser wants them as keywords then)"),
    (r"randint\(\) received an invalid combination of arguments - got \((int, )+NoneType\)",
     "no size is the 0-d shape (randint(low, high) draws one number)"),
]


def explain(name: str, args: tuple, kwargs: dict, ours: tuple, theirs: tuple,
            kinds: Sequence[str] = ()) -> Optional[str]:
    """The documented reason this call may differ from PyTorch's, or None (``kinds``:
    the spec's kind of each positional argument)."""
    if ours[0] == "ok" and theirs[0] == "error":
        message, error = str(theirs[1]), theirs[1]
        if name in ("max", "min") and len(args) > 1 and isinstance(args[1], mg.Tensor):
            return "max(x, t) with t a tensor is the elementwise maximum, even for an " \
                   "integer 0-d t (PyTorch may take that as the dim)"
        if not isinstance(error, (TypeError, ValueError, IndexError, RuntimeError)):
            return "PyTorch fails inside with an internal error"
        for pattern, why in LENIENT:
            if re.search(pattern, message):
                return why
        if isinstance(error, TypeError) and (
                any(k in FLAGS and not isinstance(v, bool) for k, v in kwargs.items())
                or any(k == "bool" and not isinstance(v, bool) for k, v in zip(kinds, args))
                or re.search(r"argument '(\w+)'.* must be bool", message)):
            return "flags (keepdim=, requires_grad=, ...) take any value Python can test " \
                   "for truth"
        if isinstance(error, TypeError) and "NoneType" in message and \
                any(a is None for a in args):
            return "None for an optional argument means 'not given'"
        if re.search(r"SymIntArrayRef expected to contain only concrete integers|"
                     r"cannot be represented as a SymInt", message):
            return "PyTorch refuses the extreme int64 values as sizes and shifts"
        if _huge_int(args, kwargs) and re.search(r"overflow|numpy.ndarray|out of range|SymInt|"
                                                 r"invalid combination|must be", message,
                                                 re.IGNORECASE):
            return "Python ints beyond int64: NumPy takes them where it can, PyTorch refuses"
        if _negative_index(args, kwargs) and re.search(r"-\d+ is out of bounds|id=-\d+|"
                                                       r"index out of range", message):
            return "negative indices count from the end (Python's rule) in gather, " \
                   "scatter, index_select, index_add"
    if ours[0] == "error" and theirs[0] == "ok":
        if name in ("median", "nanmedian") and "the input is empty" in str(ours[1]):
            return "the median of an empty integer tensor is refused; PyTorch returns int64's " \
                   "smallest value"
        if name == "bernoulli" and "floating-point probabilities" in str(ours[1]):
            return "bernoulli takes floating-point probabilities only"
        if name in ("cat", "concat", "concatenate", "hstack", "vstack") and any(
                isinstance(v, mg.Tensor) and tuple(v.shape) == (0,)
                for v in _values(args, kwargs)):
            return "cat refuses an empty 1-d tensor among others (PyTorch skips it, a " \
                   "legacy rule)"
        if re.search(r"Python integer -?\d+ out of bounds for|Python int too large",
                     str(ours[1])):
            return "a Python int outside the tensor's integer range is refused (NumPy 2); " \
                   "PyTorch wraps it around"
        if name in ("eq", "ne") and any(isinstance(v, (list, tuple)) for v in args):
            return "x != [] compares with the list as a tensor here; PyTorch's operator " \
                   "falls back to Python's identity test"
        if "the condition must be a bool tensor" in str(ours[1]) or \
                "the mask must be a bool tensor" in str(ours[1]):
            return "conditions and masks must be bool tensors (PyTorch still takes uint8 " \
                   "ones, deprecated)"
        if "Integers to negative integer powers are not allowed" in str(ours[1]):
            return "integer tensors to negative integer powers are refused (NumPy); " \
                   "PyTorch truncates them to 0 or 1"
        if "can't be cast to the in-place target's dtype" in str(ours[1]):
            return "writing float values that require grad into an integer tensor is " \
                   "refused (their gradient could not flow); PyTorch casts them"
        if name == "take_along_dim" and "out of bounds" in str(ours[1]):
            return "take_along_dim with a dim: PyTorch's CPU kernel does not check the " \
                   "indices (it reads past the end); out-of-range indices are refused here"
        if name == "take_along_dim" and "integer tensor" in str(ours[1]) or \
                "draws floating-point numbers" in str(ours[1]):
            return "indices must be integers, random floats floats, even for empty tensors"
        if re.search(r"index -?\d+ is out of bounds|index shape .* is larger than input|"
                     r"index has \d+ dims but the input has|is out of range for a tensor|"
                     r"is not allowed for the new leading dim|is larger than the (tensor|source)|"
                     r"needs a floating point tensor|cannot broadcast|"
                     r"must be an integer tensor",
                     str(ours[1])) and any(
                isinstance(v, mg.Tensor) and v.numel() == 0 for v in _values(args, kwargs)):
            return "indices and dims are checked even where a tensor is empty"
        if name in ("broadcast_to", "expand") and any(
                type(n) is int and n < -1 for n in _values(args[1:], kwargs)
                for n in (n if isinstance(n, (list, tuple)) else [n])):
            return "a size below -1 is refused; PyTorch makes a tensor of negative size " \
                   "where another dim is 0 (broadcast_to(x, (0, -2)))"
        if "is not allowed for the new leading dim" in str(ours[1]) and 0 in args[-1]:
            return "expand's -1 is refused for a new dim even where the result is empty"
        if "inhomogeneous shape" in str(ours[1]):
            return "ragged nested lists are refused (PyTorch takes some with empty rows)"
    return None


def incomparable(name: str, args: tuple, kwargs: dict) -> Optional[str]:
    """Calls whose results are not compared at all (both must still work or fail)."""
    dtype = kwargs.get("dtype")
    if name == "arange" and dtype is not None and np.dtype(dtype).kind in "iu" and \
            np.dtype(dtype) != np.int64 and any(isinstance(v, float) for v in args):
        return "arange into int32/int16/uint8 from float bounds: minigrad truncates the " \
               "bounds and step first, as PyTorch does for int64 (PyTorch's other integer " \
               "dtypes step in floats)"
    if name in ("eq", "ne") and any(isinstance(v, (list, tuple)) for v in args):
        return "x == [1, 2] compares elementwise here (the list as a tensor); PyTorch's " \
               "operator falls back to Python's identity test"
    if name in ("clamp", "clip") and any(isinstance(v, mg.Tensor) for v in args[1:]):
        return "clamp with tensor bounds of other dtypes: PyTorch's result dtype there " \
               "ignores 0-d bounds"
    return None


def gradients_differ(name: str, args: tuple, kwargs: dict) -> Optional[str]:
    """Calls whose gradients are not compared (values are)."""
    p = args[1] if len(args) > 1 else kwargs.get("p", 2)
    if name == "dist":
        p = args[2] if len(args) > 2 else kwargs.get("p", 2)
    if name in ("norm", "dist") and isinstance(p, (int, float)) and p < 1:
        return "norm with p < 1: the subgradient at 0 (inf or NaN here; NaN, or 0 for dist, " \
               "in PyTorch)"
    if name in ("atan2", "arctan2") and any(
            isinstance(v, int) and not isinstance(v, bool) or isinstance(v, mg.Tensor) and
            v.dtype.kind in "iub" for v in _values(args, kwargs)):
        return "atan2 with an integer operand: PyTorch's backward computes -a and a² in the " \
               "integer dtype, which wrap (d/db atan2(a, b) at b = 0 for a uint8 a = 1 is " \
               "255 there, -1 here; for an int64 a = -3037000500 at b = 1, -3.3e-10 there, " \
               "+3.3e-10 here); minigrad computes them in the float dtype"
    floats = {v.dtype for v in _values(args, kwargs) if isinstance(v, mg.Tensor) and
              v.dtype.kind == "f"}
    if name in ("atan2", "arctan2") and len(floats) > 1:
        return "atan2 of two float dtypes: PyTorch's backward squares each operand in its " \
               "own dtype (a float32 1e-30 squares to 0, so d/db atan2(1e-30, 0) is 0 by " \
               "its rule at the origin), minigrad the promoted values (-1e30)"
    dims = args[1] if len(args) > 1 else kwargs.get("dim")
    if name in ("var", "std", "var_mean", "std_mean") and isinstance(dims, (tuple, list)) \
            and not dims:
        return "var/std with dim=(): both reduce every dim, but PyTorch's backward counts " \
               "no dims as reduced and divides by 1 - correction (inf/NaN gradients, a " \
               "PyTorch inconsistency); minigrad's is the gradient of the value it returns"
    return None


def dtypes_differ(name: str, args: tuple, kwargs: dict) -> Optional[str]:
    """Calls whose result dtype may differ (shapes and values are still compared)."""
    if not any(isinstance(v, mg.Tensor) for v in _values(args, kwargs)):
        return "an op on Python numbers only: PyTorch computes in double precision, " \
               "minigrad in the default dtype (float32, complex64)"
    if any(isinstance(v, mg.Tensor) and v.numel() == 0 for v in _values(args, kwargs)):
        return "empty results: PyTorch runs no kernel on empty tensors and its result dtype " \
               "there is not always its promotion's (softmax of an empty int32 is int32)"
    values = list(_values(args, kwargs))
    if any(isinstance(v, mg.Tensor) and v.dtype == np.float16 for v in values) and any(
            isinstance(v, complex) or isinstance(v, mg.Tensor) and v.dtype.kind == "c"
            for v in values):
        return "complex with float16: PyTorch's result is complex32, which NumPy lacks; " \
               "minigrad's is complex64 (a norm of it float32, not float16)"
    if name in ("all", "any") and args and isinstance(args[0], mg.Tensor) and \
            args[0].dtype == np.uint8:
        return "all/any of a uint8 tensor: PyTorch keeps uint8 (a legacy rule), minigrad " \
               "gives bool"
    return None


def values_differ(name: str, args: tuple, kwargs: dict) -> Optional[str]:
    """Calls whose values may differ (shapes and dtypes are still compared)."""
    if name in ("linspace", "logspace") and (_infinite(args, kwargs) or any(
            isinstance(v, float) and math.isnan(v) for v in _values(args, kwargs))
            or np.dtype(kwargs.get("dtype") or np.float32).kind in "iu"):
        return "linspace/logspace with an infinite or NaN bound (NumPy's NaNs where PyTorch " \
               "has inf), or into integers (NumPy casts each value, PyTorch steps in integers)"
    if name in COMPARISONS and any(isinstance(v, mg.Tensor) and v.dtype.kind == "u"
                                   for v in _values(args, kwargs)) and any(
            isinstance(v, (int, float)) and v < 0 or isinstance(v, mg.Tensor) and
            v.dtype.kind == "i" and bool((v.numpy() < 0).any()) for v in _values(args, kwargs)):
        return "a negative number against an unsigned tensor: NumPy compares the values, " \
               "PyTorch first wraps the number into the unsigned range"
    if name in ("softmax", "log_softmax") and not all(
            np.isfinite(v.numpy()).all() for v in _values(args, kwargs)
            if isinstance(v, mg.Tensor) and v.dtype.kind == "f"):
        return "softmax of inf: inf - inf is NaN here, PyTorch's kernel special-cases it"
    p = args[2] if name == "dist" and len(args) > 2 else \
        args[1] if name == "norm" and len(args) > 1 else kwargs.get("p")
    if name in ("norm", "dist") and isinstance(p, (int, float)) and \
            not isinstance(p, bool) and (math.isnan(p) or math.isfinite(p) and abs(p) > 1e3):
        return "a norm with p NaN or |p| beyond 1e3: |x|^p is NaN, or overflows or " \
               "underflows, here before the root; PyTorch's results there are not consistent " \
               "either (p = 1e10 gives inf for [1.5, 2], p = -2^63 gives 1.5 for [1.5], " \
               "p = NaN 0 for a zero difference)"
    if _huge_int(args, kwargs):
        return "Python ints beyond int64: NumPy compares and computes with their values, " \
               "PyTorch wraps them first"
    if name in ("sub", "subtract") and not finite(list(args) + list(kwargs.values())) and \
            any(isinstance(v, complex) or isinstance(v, mg.Tensor) and v.dtype.kind == "c"
                for v in _values(args, kwargs)):
        return "complex with inf: PyTorch's rsub computes other - 1 * self, and that complex " \
               "product makes NaN parts (inf * 0); minigrad subtracts directly"
    if name == "lerp" and not finite(list(args) + list(kwargs.values())):
        return "lerp with inf: x + w * (end - x) here, PyTorch switches formulas at w = 0.5"
    if name == "remainder" and not finite(list(args) + list(kwargs.values())):
        return "remainder by inf or of inf: NaN here (x - floor(x / y) * y), PyTorch " \
               "follows Python's % there"
    if name in ("var_mean", "std_mean") and not all(
            np.isfinite(v.numpy()).all() for v in _values(args, kwargs)
            if isinstance(v, mg.Tensor) and v.dtype.kind == "f"):
        return "var_mean of inf: PyTorch's one-pass kernel gives a NaN mean"
    if any(isinstance(v, mg.Tensor) and v.dtype == np.float16 for v in _values(args, kwargs)) \
            or any(v is np.float16 or str(v) == "float16" for v in _values(args, kwargs)):
        return "float16: NumPy computes in float16, PyTorch in float32 and rounds once"
    if name in ("kthvalue", "median", "nanmedian") and args and \
            isinstance(args[0], mg.Tensor) and \
            len(np.unique(args[0].numpy())) < args[0].numel():
        return f"{name} among tied values: which tied index is returned is an artifact of " \
               "PyTorch's quickselect; minigrad picks the first in a stable sort"
    if name in ("norm", "dist") and any(isinstance(v, mg.Tensor) and v.dtype.kind == "f" and
                              bool((np.abs(v.numpy()) >= 1e15).any())
                              for v in _values(args, kwargs)):
        return "norm of huge values: the squares overflow float32 here (inf); PyTorch's CPU " \
               "kernel accumulates in float64 (its GPU one in float32, as here)"
    if name in ("sum", "mean", "nansum", "nanmean", "cumsum") and any(
            isinstance(v, mg.Tensor) and v.dtype.kind in "fc" and
            bool((np.abs(v.numpy()) >= 1e15).any()) for v in _values(args, kwargs)):
        return "sums of huge values that cancel (1 + 1e30 - 1e30): the result depends on " \
               "the order of the additions, and PyTorch's vectorised order is its own"
    if name in ("remainder", "floor_divide", "div", "divide", "true_divide", "var", "std",
                "var_mean", "std_mean") and any(
            isinstance(v, mg.Tensor) and v.dtype.kind in "fiu" and
            bool((np.abs(v.numpy().astype(np.float64)) >= 1e15).any()) or
            type(v) in (int, float) and abs(v) >= 1e15 for v in _values(args, kwargs)):
        return "remainder and rounded division of huge quotients (huge floats, or huge " \
               "integers computed in floats): the last bits differ"
    return None


COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
               "less_equal", "not_equal", "isin", "maximum", "minimum", "clamp", "clip",
               "clamp_min", "clamp_max"}


# -- nn: (layer names or None for all, stage, pattern in the error, why) ---------------------
NN = [
    (None, "forward", r"did not match|same dtype|expected scalar type|expected m1 and m2|"
                      r"expected both|mat1 and mat2 must have the same dtype|"
                      r"should be the same|Expected .* dtype|mixed dtype|"
                      r"Type promoting not supported|can't be cast to the desired output|"
                      r"Integral inputs not supported|Found dtype",
     "mixed dtypes: minigrad promotes (a float64 input through float32 weights gives "
     "float64); PyTorch insists on one dtype"),
    (None, "forward", r"doesn't match the broadcast shape",
     "a loss's pos_weight broadcasts with the input (PyTorch keeps the input's shape)"),
    (None, "forward", r"is not differentiable with respect to argument",
     "loss weights that require grad get a gradient"),
    (None, "forward", r"expected target dtype to be Long",
     "class targets may be any integer dtype"),
    (None, "forward", r"Expected more than 1 value per channel",
     "group_norm over one value per group gives NaN (PyTorch refuses it)"),
    (None, "forward", r"must be bool|argument '\w+' .* must be bool",
     "flags take any value Python can test for truth"),
    (None, "forward", r"not implemented for|must be Tensor, not (int|float|bool|tuple|list|"
                      r"complex)|"
                      r"Boolean inputs not supported|on an unsigned type with negative|"
                      r"with a bool tensor is not supported|Bool inputs not supported",
     "activations take integer tensors and numbers (computed in floats); PyTorch's CPU "
     "kernels refuse integers and its functions refuse numbers"),
    (("Hardtanh",), "forward", r"cannot be converted to type",
     "Hardtanh of integers: PyTorch clamps in the integer dtype, refusing bounds that are "
     "no integers there (NaN, 1e30); minigrad computes activations of integers in floats"),
    (None, "forward", r"(input|target) shape .* and (input|target) shape .* differ|"
                      r"the same shape|same size as",
     "losses refuse an input and a target of different shapes; PyTorch broadcasts them "
     "(with a warning)"),
    (("Softmax", "LogSoftmax"), "values", r"",
     "Softmax() without a dim takes the last; PyTorch's legacy implicit choice may take "
     "another (with a warning)"),
    (None, "forward", r"does not fit an input of shape \(0|shape \(0,",
     "shapes are checked even for empty inputs"),
    (None, "forward", r"expected a 3-d \(C, H, W\) or 4-d",
     "2-d pooling needs a (C, H, W) or (N, C, H, W) input; PyTorch also takes (H, W) "
     "in places"),
    (None, "forward", r"tensor with optional 0 dim batch size",
     "pooling an input with empty non-batch dims gives an empty result; PyTorch refuses"),
    (None, "init", r"should be of type bool",
     "flags take any value Python can test for truth"),
    (None, "forward", r"output_size must be positive",
     "adaptive pooling to an output size of 0 is refused; PyTorch gives an empty result"),
    (None, "forward", r"mean: input dtype must be floating point",
     "average pooling of integers is refused (PyTorch refuses it too, unless the tensor "
     "is empty)"),
    (None, "forward", r"dropout2d: expected a 3-d or 4-d",
     "dropout2d needs a (C, H, W) or (N, C, H, W) input; PyTorch takes others with a "
     "warning"),
    (None, "init", r"cannot assign '\w+' object to buffer",
     "loss weights given as numbers or lists are made tensors"),
    (None, "init", r"must be an int, got (True|False)",
     "bools are not ints for sizes and dims (PyTorch takes True as 1)"),
    (None, "init", r"must be |has to be |must be one of|positive integer|must be positive|"
                   r"must be > 0|must be >= 0|unknown",
     "bad constructor arguments (None, 'avg', NaN, zero sizes of recurrent cells) are "
     "refused when the layer is built; PyTorch keeps many of them and fails, if at all, "
     "only when the layer runs"),
]


def explain_nn(name: str, stage: str, ours: tuple, theirs: tuple,
               inputs: tuple = ()) -> Optional[str]:
    """The documented reason a layer's construction, forward or values may differ."""
    failed = theirs[1] if theirs[0] == "error" else ours[1] if ours[0] == "error" else None
    if theirs[0] == "error" and not isinstance(theirs[1], (TypeError, ValueError, IndexError,
                                                           RuntimeError)):
        return "PyTorch fails inside with an internal error"
    if stage == "forward" and ours[0] == "error" and any(
            isinstance(v, mg.Tensor) and v.numel() == 0 for v in inputs):
        return "shapes are checked even for empty inputs (PyTorch lets some through)"
    for names, when, pattern, why in NN:
        if when == stage and (names is None or name in names) and \
                (failed is not None or stage == "values") and re.search(pattern, str(failed)):
            return why
    return None


def nn_values_differ(name: str, options: dict, inputs: tuple,
                     args: tuple = ()) -> Optional[str]:
    """Layer calls whose output values are not compared (both still run)."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in _values(args, options)):
        return "a NaN or inf option (ELU(alpha=nan)): where NaN shows differs"
    if name == "Softplus" and (options.get("beta", args[0] if args else 1) == 0):
        return "Softplus with beta = 0 divides by zero: the infinity's sign differs"
    if name == "Hardtanh" and any(isinstance(v, mg.Tensor) and v.dtype.kind in "biu"
                                  for v in inputs):
        return "Hardtanh of integers: PyTorch clamps in the integer dtype (its bounds " \
               "truncated), minigrad computes activations of integers in floats"
    if name in ("AvgPool1d", "AvgPool2d") and any(
            isinstance(v, mg.Tensor) and v.dtype.kind in "biu" for v in inputs):
        return "average pooling of integers: PyTorch truncates the averages to integers"
    eps = options.get("eps")
    if isinstance(eps, (int, float)) and not eps > 0:
        return "a non-positive eps: NaN wherever the variance is small, placed differently"
    p = options.get("p", args[0] if args else 2.0)
    if name == "PairwiseDistance" and isinstance(p, (int, float)) and not isinstance(p, bool) \
            and (math.isnan(p) or math.isfinite(p) and abs(p) > 1e3):
        return "a norm with p NaN or |p| beyond 1e3: |x|^p is NaN, or overflows or " \
               "underflows, here before the root (see values_differ: norm, dist)"
    if name == "CosineSimilarity" and any(isinstance(v, mg.Tensor) and v.dtype == np.float16
                                          for v in inputs):
        return "cosine similarity with a float16 input: PyTorch floors the norms at eps in " \
               "float16, where 1e-8 is 0 (0/0 for a zero vector); minigrad in the promoted " \
               "dtype"
    if any(isinstance(v, mg.Tensor) and v.dtype.kind == "f" and
           bool((np.abs(v.numpy()) >= 1e15).any()) for v in _values(inputs, {})):
        return "huge inputs: rounding differs"
    return None


# -- optimizers, schedules, data loading: (names or None, pattern, why) -------------------------
TRAINING = [
    (None, r"must be a positive integer|must be positive|must be an int|must be a number|"
           r"must be a pair|must be a sequence|must be an Optimizer|is not an Optimizer|"
           r"must be a number or",
     "schedules and optimizers check their arguments when built (periods positive ints, "
     "rates numbers, betas a pair); PyTorch takes some nonsense ones (StepLR(step_size=-1), "
     "CosineAnnealingLR(T_max=0), T_0=True) and misbehaves later"),
    (None, r"Expected reduction dim to be specified for input.numel\(\) == 0",
     "LBFGS over empty parameters does nothing; PyTorch fails inside"),
    (None, r"must be non-negative, not both zero",
     "CyclicLR refuses negative step sizes; PyTorch takes them and cycles backwards"),
    (None, r"Boolean alpha only supported",
     "a weight_decay of True is 1"),
    (None, r"Invalid \w+ value: nan|Invalid learning rate: nan",
     "NaN hyperparameters are refused (PyTorch's checks let a NaN weight_decay through)"),
]


def explain_training(name: str, ours: tuple, theirs: tuple) -> Optional[str]:
    """The documented reason an optimizer, schedule or loader call may differ."""
    failed = theirs[1] if theirs[0] == "error" else ours[1] if ours[0] == "error" else None
    if theirs[0] == "error" and not isinstance(theirs[1], (TypeError, ValueError, IndexError,
                                                           RuntimeError, KeyError)):
        return "PyTorch fails inside with an internal error"
    for names, pattern, why in TRAINING:
        if (names is None or name in names) and re.search(pattern, str(failed)):
            return why
    return None
