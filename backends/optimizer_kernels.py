"""Adam's update of one parameter in one pass: compiled on the CPU, in-place ufuncs elsewhere.

Why: written with tensor operations an Adam step reads and writes each parameter about
a dozen times and allocates as many temporaries; for the main job's 0.9 M parameters that
took several times PyTorch's update. The compiled loop reads p, g, m, v once and writes
p, m, v once; its options are selects, so that the compiler vectorises it.
Its arithmetic is PyTorch's single-tensor Adam's, term by term (lerp as torch rounds
it, ``v * beta2 + (1 - beta2) * g * g``, ``sqrt(v) / sqrt(1 - beta2^t) + eps``); the
C++ compiler may fuse a multiply and an add, so the last bit can differ from the
ufunc path. tests/test_fused_adam.py holds both to PyTorch's Adam.
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

// The options are selects on values computed either way, so that the loop vectorises.
template <bool AMSGRAD>
static void adam(std::intptr_t n, T* __restrict p, const T* __restrict g, T* __restrict m,
                 T* __restrict v, T* __restrict top, T lr, T beta1, T beta2, T weight_decay,
                 T eps, T step_size, T bias_correction2_sqrt, bool maximize, bool decoupled) {
    const T sign = maximize ? -1 : 1, weight = 1 - beta1, rest = 1 - beta2;
    const T decay = 1 - lr * weight_decay;
    const bool shrink = decoupled && weight_decay != 0, l2 = !decoupled && weight_decay != 0;
    const bool near = weight < (T)0.5;  // torch's lerp: from the nearer end
#pragma omp simd
    for (std::intptr_t k = 0; k < n; ++k) {
        T param = p[k], grad = sign * g[k];
        grad = l2 ? grad + param * weight_decay : grad;
        param = shrink ? param * decay : param;
        T diff = grad - m[k];
        T avg = near ? m[k] + weight * diff : grad - diff * (1 - weight);
        T sq = v[k] * beta2 + rest * grad * grad;
        m[k] = avg;
        v[k] = sq;
        if (AMSGRAD) { sq = top[k] > sq ? top[k] : sq; top[k] = sq; }
        p[k] = param - step_size * (avg / (std::sqrt(sq) / bias_correction2_sqrt + eps));
    }
}
}  // namespace

// p, g, m, v and (amsgrad) vmax: one row each, same length. Returns the refused one, 1-5.
extern "C" int minigrad_adam(const void* ndarray, const char* p, const char* g, const char* m,
                             const char* v, const char* vmax, double lr, double beta1,
                             double beta2, double weight_decay, double eps, double step_size,
                             double bias_correction2_sqrt, int flags) {
    using namespace minigrad_kernel;
    const char* given[5] = {p, g, m, v, vmax};
    T* data[5] = {};
    std::intptr_t stride, shape[3] = {-1, 0, 0};
    bool amsgrad = flags & 1, maximize = flags & 2, decoupled = flags & 4;
    for (int k = 0; k < (amsgrad ? 5 : 4); ++k) {
        char* d;
        if (!view(ndarray, given[k], k != 1, d, stride, shape) || shape[1] != 1) return k + 1;
        data[k] = (T*)d;
    }
    (amsgrad ? adam<true> : adam<false>)(shape[2], data[0], data[1], data[2], data[3], data[4],
                                          lr, beta1, beta2, weight_decay, eps, step_size,
                                          bias_correction2_sqrt, maximize, decoupled);
    return 0;
}
"""


@functools.cache
def _compiled_adam(dtype: numpy.dtype) -> Any:
    adam = compiled_kernel._build(compiled_kernel.typed_source(SOURCE, dtype), "minigrad_adam")
    adam.argtypes = (ctypes.c_void_p,) * 6 + (ctypes.c_double,) * 7 + (ctypes.c_int,)
    adam.restype = ctypes.c_int
    return adam


def compiled_adam(p: Any, g: Any, m: Any, v: Any, vmax: Any, hyper: dict) -> bool:
    """The compiled update, if it applies (NumPy arrays of one float dtype, contiguous,
    one shape, compiled kernels on): True when done, False to leave it to the ufuncs."""
    arrays = (p, g, m, v) + ((vmax,) if vmax is not None else ())
    dtype = p.dtype
    if not (type(p) is numpy.ndarray and dtype in compiled_kernel._TYPES
            and all(type(a) is numpy.ndarray and a.dtype == dtype and a.shape == p.shape
                    and a.flags.c_contiguous for a in arrays)
            and compiled_kernel.available()):
        return False
    rows = [a.reshape(1, -1) for a in arrays]  # contiguous: views
    flags = (vmax is not None) | 2 * bool(hyper["maximize"]) | 4 * bool(hyper["decoupled"])
    refused = _compiled_adam(dtype)(
        _NDARRAY, *map(id, rows[:4]), id(rows[4]) if vmax is not None else None,
        hyper["lr"], hyper["beta1"], hyper["beta2"], hyper["weight_decay"], hyper["eps"],
        hyper["step_size"], hyper["bias_correction2_sqrt"], flags)
    if refused:
        raise RuntimeError(f"minigrad_adam: the compiled code refused argument {refused}")
    return True


def ufunc_adam(xp: Any, p: Any, g: Any, m: Any, v: Any, vmax: Any, hyper: dict) -> None:
    """The same update with the array library's ufuncs, in place (any backend)."""
    lr, weight_decay, beta1, beta2 = (hyper[k] for k in ("lr", "weight_decay", "beta1", "beta2"))
    if hyper["maximize"]:
        g = -g
    if weight_decay != 0:
        if hyper["decoupled"]:
            p *= 1 - lr * weight_decay
        else:
            g = g + p * weight_decay
    diff = g - m
    weight = 1 - beta1
    if weight < 0.5:
        diff *= weight
        m += diff
    else:
        diff *= 1 - weight
        xp.subtract(g, diff, out=m)
    v *= beta2
    xp.multiply(g, 1 - beta2, out=diff)
    diff *= g
    v += diff
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
    xp.sqrt(v if vmax is None else vmax, out=diff)
    diff /= hyper["bias_correction2_sqrt"]
    diff += hyper["eps"]
    xp.divide(m, diff, out=diff)
    diff *= -hyper["step_size"]
    p += diff


_NDARRAY = compiled_kernel._NDARRAY  # the ndarray type the kernels check for
