"""``out[index[i]] += values[i]``, row by row, in one compiled loop (an embedding's backward).

Why: an embedding's gradient adds each looked-up row's gradient into the table, repeated
indices accumulating. NumPy's ``add.at`` costs about half a microsecond a row; sorting the
indices and summing runs with ``add.reduceat`` is faster where indices repeat a lot, but
still 0.26 ms for the word LM's 700 rows of 64 into 1,000 (``reduceat`` pays per run, and
most runs there are a single row). This loop is one pass over the rows, adding them in
index order. The indices are checked and made non-negative by the caller
(ArrayBackend.add_at); float32 and float64.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy

from . import compiled_kernel

SOURCE = r"""
%(PRELUDE)s
typedef %(T)s T;
static const long HEAD = %(HEAD)d, TYPE_NUM = %(TYPE_NUM)d;
%(VIEW)s
}  // namespace

// out (R, C): row index[i] += values (N, C) row i, for i in order; index holds N int64 in
// [0, R) (checked by the caller). Returns the refused argument, 1 or 3.
extern "C" int minigrad_add_rows_at(const void* ndarray, const char* out,
                                    const std::int64_t* index, long count,
                                    const char* values) {
    using namespace minigrad_kernel;
    char *od, *vd;
    std::intptr_t os, vs, oshape[3] = {-1, 0, 0}, vshape[3] = {-1, 0, 0};
    if (!view(ndarray, out, true, od, os, oshape) || oshape[0] != 2) return 1;
    if (!view(ndarray, values, false, vd, vs, vshape) || vshape[0] != 2 ||
        vshape[1] != count || vshape[2] != oshape[2]) return 3;
    const std::intptr_t cols = oshape[2];
    for (long i = 0; i < count; ++i) {
        T* row = (T*)od + index[i] * os;
        const T* add = (const T*)vd + i * vs;
#pragma omp simd
        for (std::intptr_t k = 0; k < cols; ++k) row[k] += add[k];
    }
    return 0;
}
"""


@functools.cache
def _compiled(dtype: numpy.dtype) -> Any:
    function = compiled_kernel._build(compiled_kernel.typed_source(SOURCE, dtype),
                                      "minigrad_add_rows_at")
    function.argtypes = (ctypes.c_void_p,) * 3 + (ctypes.c_long, ctypes.c_void_p)
    function.restype = ctypes.c_int
    return function


def add_rows_at(out: Any, index: Any, values: Any) -> bool:
    """``out[index] += values`` for a C-contiguous float NumPy ``out`` (R, ...) and
    non-negative int64 ``index`` below R, ``values`` of shape index.shape + out.shape[1:]
    and out's dtype; False (nothing done) where that does not apply."""
    if not (type(out) is numpy.ndarray and out.dtype in compiled_kernel._TYPES
            and out.ndim >= 1 and out.flags.c_contiguous and out.flags.writeable
            and type(index) is numpy.ndarray and index.dtype == numpy.int64
            and type(values) is numpy.ndarray and values.dtype == out.dtype
            and values.shape == index.shape + out.shape[1:] and index.size
            and compiled_kernel.available()):
        return False
    rows = out.reshape(out.shape[0], -1)
    flat = numpy.ascontiguousarray(index.reshape(-1))
    terms = numpy.ascontiguousarray(values.reshape(flat.size, rows.shape[1]))
    refused = _compiled(out.dtype)(_NDARRAY, id(rows), flat.ctypes.data, flat.size, id(terms))
    if refused:
        raise RuntimeError(f"minigrad_add_rows_at: the compiled code refused argument {refused}")
    return True


_NDARRAY = compiled_kernel._NDARRAY  # the ndarray type the kernels check for
