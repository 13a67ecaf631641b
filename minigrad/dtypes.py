"""PyTorch's dtype names, as the NumPy dtypes minigrad's tensors carry, and the default dtype.

``mg.float32 == np.float32`` holds, so either spelling works wherever a dtype is taken.
The default dtype is the one Python floats become (``mg.tensor([1.0])``, ``mg.zeros(2)``).

This module defines ``float``, ``int`` and ``bool`` (PyTorch's float32, int32 and bool), which
shadow the builtins here: nothing below may use the builtins of those names. Import the
names you need (``from .dtypes import get_default_dtype``), never ``*``, outside the package root.
"""
from __future__ import annotations

from typing import Any

import numpy

float16 = half = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = double = numpy.dtype("float64")
complex64 = numpy.dtype("complex64")
complex128 = numpy.dtype("complex128")
int8 = numpy.dtype("int8")
int16 = numpy.dtype("int16")
int32 = numpy.dtype("int32")
int64 = long = numpy.dtype("int64")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")

_DEFAULT_CHOICES = (float16, float32, float64)
_default = float32


def get_default_dtype() -> numpy.dtype:
    """The dtype Python floats become in new tensors (float32 unless changed)."""
    return _default


def set_default_dtype(dtype: Any) -> None:
    """Make ``dtype`` (float16, float32 or float64) the default floating dtype, process-wide."""
    global _default
    try:
        chosen = numpy.dtype(dtype) if dtype is not None else None  # dtype(None) is float64
    except TypeError:
        chosen = None
    if chosen is None or chosen not in _DEFAULT_CHOICES:
        raise TypeError(f"only floating-point types (float16, float32, float64) can be the "
                        f"default dtype, got {dtype!r}")
    _default = chosen


def default_complex_dtype() -> numpy.dtype:
    """The complex dtype that pairs with the default float (complex64 for float32)."""
    return complex128 if _default == float64 else complex64


# PyTorch's short names; defined last, and shadowing the builtins in this module only.
float = float32
int = int32
bool = bool_
