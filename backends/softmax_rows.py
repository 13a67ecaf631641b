"""A softmax's parts row by row in one compiled loop: ``exp(x - max)``, the max, the sums.

Why: the fused cross-entropy (minigrad/ops/softmax_cross_entropy.py) needs, per row of
the logits, its maximum, ``exp(x - max)`` and that row's sum. With ufuncs that is five
passes over the whole (N, C) array and a temporary (max, subtract, exp, sum, and the
check for rows without a finite maximum): for the word LM's 700 x 1,000 logits about
three times PyTorch's loss. Here each row is read twice while it sits in the cache, and
written once. Its ``exp`` is compiled_kernel.PRELUDE's (vectorised in
float32, the C library's in float64). The backward's one pass, the softmax times each
row's weight, is here too (:func:`scale_rows`). Both share the rows among the threads,
on packed_matmul.py's helper pool: NumPy's ufuncs use one core, and at 700 x 1,000 the
loss and its gradient were a third of the word LM's gap to PyTorch at two threads.
tests/test_softmax_rows.py holds them to NumPy's.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any, Optional

import numpy

from . import compiled_kernel, packed_matmul, threads

SOURCE = r"""
%(PRELUDE)s
typedef %(T)s T;
static const long HEAD = %(HEAD)d, TYPE_NUM = %(TYPE_NUM)d;
%(VIEW)s

typedef int (*ParallelFor)(void (*)(const void*, std::intptr_t), const void*, long, int);

// Rows of (N, C) arrays, split into units of `per` rows for the helper threads.
struct Rows { const char *x, *scale; char *out, *m, *sums;  // m, sums, scale: (N,)
              std::intptr_t xs, os, rows, cols, per; };

// Below this many elements one thread does all rows: waking the helpers costs more.
static const std::intptr_t SHARED_ELEMENTS = 1 << 16;

static void each_unit(const Rows& rows, void (*task)(const void*, std::intptr_t),
                      void* parallel_for, int threads) {
    std::intptr_t units = (rows.rows + rows.per - 1) / rows.per;
    if (parallel_for && threads > 1 && units > 1 && rows.rows * rows.cols >= SHARED_ELEMENTS)
        ((ParallelFor)parallel_for)(task, &rows, units, threads);
    else
        for (std::intptr_t u = 0; u < units; ++u) task(&rows, u);
}

// body(rows, r, x's row r, out's row r) for each row r of work unit `unit`.
template <typename Body>
static void each_row(const void* context, std::intptr_t unit, Body body) {
    const Rows& j = *(const Rows*)context;
    std::intptr_t last = (unit + 1) * j.per < j.rows ? (unit + 1) * j.per : j.rows;
    for (std::intptr_t r = unit * j.per; r < last; ++r)
        body(j, r, (const T*)j.x + r * j.xs, (T*)j.out + r * j.os);
}

static void softmax_unit(const void* context, std::intptr_t unit) {
    each_row(context, unit, [](const Rows& j, std::intptr_t r, const T* row, T* out) {
        T top = -INFINITY;
        int nan = 0;
#pragma omp simd reduction(max:top) reduction(|:nan)
        for (std::intptr_t k = 0; k < j.cols; ++k) {
            top = row[k] > top ? row[k] : top;
            nan |= row[k] != row[k];
        }
        // NumPy's max of a row with NaN is NaN, not finite: no shift, as for +-inf
        T shift = nan || top == INFINITY || top == -INFINITY ? 0 : top, total = 0;
#pragma omp simd reduction(+:total)
        for (std::intptr_t k = 0; k < j.cols; ++k) {
            T value = minigrad_kernel::exp(row[k] - shift);
            out[k] = value;
            total += value;
        }
        ((T*)j.m)[r] = shift;  // 1-D: unit stride
        ((T*)j.sums)[r] = total;
    });
}

static void scale_unit(const void* context, std::intptr_t unit) {
    each_row(context, unit, [](const Rows& j, std::intptr_t r, const T* row, T* out) {
        const T by = ((const T*)j.scale)[r];
#pragma omp simd
        for (std::intptr_t k = 0; k < j.cols; ++k) out[k] = row[k] * by;
    });
}

// Rows per unit of work: about 16K elements, so that a unit is worth a claim.
static std::intptr_t rows_per_unit(std::intptr_t cols) {
    return cols >= (1 << 14) ? 1 : (1 << 14) / (cols ? cols : 1);
}
}  // namespace

// x (N, C) -> e (N, C) = exp(x - m), m (N,) the rows' maxima (0 where not finite, as
// shifted_exp's), sums (N,); the rows shared out on up to `threads` threads through
// `parallel_for` (packed_matmul.py's pool; null: this thread). Returns the refused
// argument, 1 to 4.
extern "C" int minigrad_softmax_rows(const void* ndarray, const char* x, const char* e,
                                     const char* m, const char* sums, void* parallel_for,
                                     int threads) {
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
    Rows rows{xd, nullptr, ed, md, sd, xs, es, xshape[1], xshape[2],
              rows_per_unit(xshape[2])};
    each_unit(rows, softmax_unit, parallel_for, threads);
    return 0;
}

// out (N, C) = x (N, C) * scale (N,)[:, None] (cross-entropy's backward: the softmax
// times each row's weight), shared out as above. Returns the refused argument, 1 to 3.
extern "C" int minigrad_scale_rows(const void* ndarray, const char* x, const char* scale,
                                   const char* out, void* parallel_for, int threads) {
    using namespace minigrad_kernel;
    char *xd, *sd, *od;
    std::intptr_t xs, ss, os, xshape[3] = {-1, 0, 0}, sshape[3] = {-1, 0, 0};
    if (!view(ndarray, x, false, xd, xs, xshape) || xshape[0] != 2) return 1;
    if (!view(ndarray, scale, false, sd, ss, sshape) || sshape[0] != 1 ||
        sshape[2] != xshape[1]) return 2;
    if (!view(ndarray, out, true, od, os, xshape)) return 3;
    Rows rows{xd, sd, od, nullptr, nullptr, xs, os, xshape[1], xshape[2],
              rows_per_unit(xshape[2])};
    each_unit(rows, scale_unit, parallel_for, threads);
    return 0;
}
"""


@functools.cache
def _compiled(dtype: numpy.dtype) -> tuple:
    library = compiled_kernel._library(compiled_kernel.typed_source(SOURCE, dtype),
                                       "minigrad_softmax_rows")
    softmax, scale = library.minigrad_softmax_rows, library.minigrad_scale_rows
    softmax.argtypes = (ctypes.c_void_p,) * 6 + (ctypes.c_int,)
    scale.argtypes = (ctypes.c_void_p,) * 5 + (ctypes.c_int,)
    softmax.restype = scale.restype = ctypes.c_int
    return softmax, scale


def _applies(x: Any) -> bool:
    return (type(x) is numpy.ndarray and x.ndim == 2 and x.dtype in compiled_kernel._TYPES
            and x.size > 0 and compiled_kernel.available())


def softmax_rows(x: Any) -> Optional[tuple]:
    """``(exp(x - m), m, sums)`` for a 2-D float NumPy ``x`` along its rows, m (N, 1)
    the maxima (0 where not finite) and sums (N,); None where the compiled loop does
    not apply (not NumPy, another dtype, no compiler): then the caller uses ufuncs."""
    if not _applies(x):
        return None
    x = _rows_contiguous(x)
    e = numpy.empty(x.shape, x.dtype)
    m, sums = numpy.empty(x.shape[0], x.dtype), numpy.empty(x.shape[0], x.dtype)
    refused = _compiled(x.dtype)[0](_NDARRAY, id(x), id(e), id(m), id(sums),
                                    packed_matmul.parallel_for(), threads.kernel_threads())
    if refused:
        raise RuntimeError(f"minigrad_softmax_rows: the compiled code refused argument "
                           f"{refused}")
    return e, m.reshape(-1, 1), sums


def scale_rows(x: Any, scale: Any) -> Optional[Any]:
    """``x * scale[:, None]`` for a 2-D float NumPy ``x`` and ``scale`` (N,) of its dtype,
    as a new array, the rows shared among the threads; None where that does not apply."""
    if not (_applies(x) and type(scale) is numpy.ndarray and scale.dtype == x.dtype
            and scale.shape == x.shape[:1]):
        return None
    x, scale = _rows_contiguous(x), numpy.ascontiguousarray(scale)
    out = numpy.empty(x.shape, x.dtype)
    refused = _compiled(x.dtype)[1](_NDARRAY, id(x), id(scale), id(out),
                                    packed_matmul.parallel_for(), threads.kernel_threads())
    if refused:
        raise RuntimeError(f"minigrad_scale_rows: the compiled code refused argument "
                           f"{refused}")
    return out


def _rows_contiguous(x: numpy.ndarray) -> numpy.ndarray:
    return x if x.shape[1] <= 1 or x.strides[1] == x.itemsize else numpy.ascontiguousarray(x)


_NDARRAY = compiled_kernel._NDARRAY  # the ndarray type the kernels check for
