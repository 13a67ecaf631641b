"""PyTorch's type promotion for operands of different dtypes.

NumPy and PyTorch agree inside one category (bool < integer < floating < complex):
int32 with int64 is int64, float16 with float32 is float32. Across categories they differ,
and PyTorch's rule wins here: the result is the highest category present, taken from the
highest-priority operands that have it -- tensors with dims before 0-d tensors before
Python numbers, which bring only their category (a Python float is the default float
dtype). So ``arange(3) / 2`` and ``int_tensor * 1.5`` are float32, float32 with int64 is
float32, and a float32 tensor plus a 0-d float64 tensor stays float32. Only primitives
that declare ``promotes`` (arithmetic, comparisons of values, concatenation) apply it,
and only when their operands' dtypes differ: the common case pays one comparison.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy

from . import dtypes

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _category(dtype: numpy.dtype) -> int:
    return _CATEGORY[dtype.kind]


def _combine(a: Optional[numpy.dtype], b: numpy.dtype) -> numpy.dtype:
    """PyTorch's promote_types: the higher category wins whole (a float with a complex
    keeps its precision, float64 with complex64 is complex128); within one, NumPy's rule."""
    if a is None:
        return b
    ca, cb = _category(a), _category(b)
    if ca != cb and min(ca, cb) < 2:
        return a if ca > cb else b
    return numpy.promote_types(a, b)


def _number_dtype(value: Any) -> numpy.dtype:
    """The dtype a Python (or NumPy scalar) number takes when it alone decides."""
    if isinstance(value, (bool, numpy.bool_)):
        return numpy.dtype(bool)
    if isinstance(value, (int, numpy.integer)):
        return numpy.dtype("int64")
    if isinstance(value, (complex, numpy.complexfloating)):
        return dtypes.default_complex_dtype()
    return dtypes.get_default_dtype()


def result_type(values: Sequence[Any], true_divide: bool = False) -> Optional[numpy.dtype]:
    """The dtype PyTorch gives an operation over ``values`` (arrays or numbers); None when
    no value carries a dtype. ``true_divide``: an integer result becomes the default float."""
    dimmed = zero_d = numbers = None
    for v in values:
        dtype = getattr(v, "dtype", None)
        if dtype is None or isinstance(v, numpy.generic):
            if isinstance(v, (bool, int, float, complex, numpy.generic)):
                numbers = _combine(numbers, _number_dtype(v))
        elif v.ndim:
            dimmed = _combine(dimmed, dtype)
        else:
            zero_d = _combine(zero_d, dtype)
    result = dimmed
    for lower in (zero_d, numbers):
        if lower is not None and (result is None or _category(lower) > _category(result)):
            # a float tensor keeps its precision in complex (float64 + 1j is complex128)
            result = numpy.promote_types(result, dtypes.default_complex_dtype()) \
                if result is not None and result.kind == "f" and lower.kind == "c" else lower
    if result is not None and true_divide and _category(result) < 2:
        result = dtypes.get_default_dtype()
    return result


ALL = "all"  # a primitive's ``promotes`` value: every input takes part (cat, stack)


def promote(args: list, positions: Any, backend: Any, true_divide: bool) -> list:
    """``args`` with the operands at ``positions`` (a tuple, or ALL) cast to their common
    PyTorch result type; numbers become 0-d arrays of that type (so NumPy's rules, which
    would differ, never see a mixed pair)."""
    where = range(len(args)) if positions == ALL else positions
    target = result_type([args[i] for i in where], true_divide)
    if target is None:
        return args
    out = list(args)
    for i in where:
        a = out[i]
        if backend.is_array(a):
            if a.dtype != target:
                out[i] = a.astype(target)
        elif isinstance(a, (bool, int, float, complex, numpy.generic)):
            out[i] = backend.asarray(a, dtype=target)
        elif hasattr(a, "dtype") and a.dtype != target:  # a host array on another backend
            out[i] = backend.asarray(a, dtype=target)
    return out
