"""A softmax's parts row by row in one compiled loop: ``exp(x - max)``, the max, the sums.

Why: the fused cross-entropy (minigrad/ops/softmax_cross_entropy.py) needs, per row of
the logits, its maximum, ``exp(x - max)`` and that row's sum. With ufuncs that is five
passes over the whole (N, C) array and a temporary (max, subtract, exp, sum, and the
check for rows without a finite maximum): for the word LM's 700 x 1,000 logits about
three times PyTorch's loss. Here each row is read twice while it sits in the cache, and
written once. Its ``exp`` is compiled_kernel.PRELUDE's (vectorised in
float32, the C library's in float64). tests/test_softmax_rows.py holds it to NumPy's.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any, Optional

import numpy

from . import compiled_kernel

SOURCE = r"""
%(PRELUDE)s
typedef %(T)s T;
static const long HEAD = %(HEAD)d, TYPE_NUM = %(TYPE_NUM)d;
%(VIEW)s
}  // namespace

// x (N, C) -> e (N, C) = exp(x - m), m (N,) the rows' maxima (0 where not finite, as
// shifted_exp's), sums (N,). Returns the refused argument, 1 to 4.
extern "C" int minigrad_softmax_rows(const void* ndarray, const char* x, const char* e,
                                     const char* m, const char* sums) {
    using namespace minigrad_kernel;
    char *xd, *ed, *md, *sd;
    std::intptr_t xs, es, ms, ss, xshape[3] = {-1, 0, 0}, eshape[3] = {-1, 0, 0},
        mshape[3] = {-1, 0, 0}, sshape[3] = {-1, 0, 0};
    if (!view(ndarray, x, false, xd, xs, xshape) || xshape[0] != 2) return 1;
    if (!view(ndarray, e, true, ed, es, xshape)) return 2;
    if (!view(ndarray, m, true, md, ms, mshape) || mshape[0] != 1 || mshape[2] != xshape[1])
        return 3;
    if (!view(ndarray, sums, true, sd, ss, sshape) || sshape[0] != 1 ||
        sshape[2] != xshape[1]) return 4;
    const std::intptr_t rows = xshape[1], cols = xshape[2];
    for (std::intptr_t r = 0; r < rows; ++r) {
        const T* row = (const T*)xd + r * xs;
        T* out = (T*)ed + r * es;
        T top = -INFINITY;
        int nan = 0;
#pragma omp simd reduction(max:top) reduction(|:nan)
        for (std::intptr_t k = 0; k < cols; ++k) {
            top = row[k] > top ? row[k] : top;
            nan |= row[k] != row[k];
        }
        // NumPy's max of a row with NaN is NaN, not finite: no shift, as for +-inf
        T shift = nan || top == INFINITY || top == -INFINITY ? 0 : top, total = 0;
#pragma omp simd reduction(+:total)
        for (std::intptr_t k = 0; k < cols; ++k) {
            T value = minigrad_kernel::exp(row[k] - shift);
            out[k] = value;
            total += value;
        }
        ((T*)md)[r] = shift;
        ((T*)sd)[r] = total;
    }
    return 0;
}
"""


@functools.cache
def _compiled(dtype: numpy.dtype) -> Any:
    function = compiled_kernel._build(compiled_kernel.typed_source(SOURCE, dtype),
                                      "minigrad_softmax_rows")
    function.argtypes = (ctypes.c_void_p,) * 5
    function.restype = ctypes.c_int
    return function


def softmax_rows(x: Any) -> Optional[tuple]:
    """``(exp(x - m), m, sums)`` for a 2-D float NumPy ``x`` along its rows, m (N, 1)
    the maxima (0 where not finite) and sums (N,); None where the compiled loop does
    not apply (not NumPy, another dtype, no compiler): then the caller uses ufuncs."""
    if not (type(x) is numpy.ndarray and x.ndim == 2 and x.dtype in compiled_kernel._TYPES
            and x.size and compiled_kernel.available()):
        return None
    if x.shape[1] > 1 and x.strides[1] != x.itemsize:
        x = numpy.ascontiguousarray(x)
    e = numpy.empty(x.shape, x.dtype)
    m, sums = numpy.empty(x.shape[0], x.dtype), numpy.empty(x.shape[0], x.dtype)
    refused = _compiled(x.dtype)(_NDARRAY, id(x), id(e), id(m), id(sums))
    if refused:
        raise RuntimeError(f"minigrad_softmax_rows: the compiled code refused argument "
                           f"{refused}")
    return e, m.reshape(-1, 1), sums


_NDARRAY = compiled_kernel._NDARRAY  # the ndarray type the kernels check for
