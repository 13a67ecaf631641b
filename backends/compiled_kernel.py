"""``cupy.ElementwiseKernel``'s contract on the CPU: the body compiled by the C++ compiler.

Why: NumPy does a recurrent step's gate math in about ten passes forward and twenty
back, each a ufunc call whose overhead outweighs its arithmetic on a small batch. The
GPU already does a step in one kernel (backends/recurrent_kernels.py); compiled for the
CPU, the same bodies do it in one loop, so CPU and GPU share one source. Each body is
compiled once per dtype and machine and cached on disk (``MINIGRAD_KERNEL_CACHE``,
default ``~/.cache/minigrad/kernels``). Where there is no compiler, or
``MINIGRAD_CPU_KERNELS=0``, :func:`available` is False and the backend keeps NumPy's
generic path: the compiler is optional, like the GPU.

float32 bodies see an ``exp`` and a ``tanh`` written as plain arithmetic (Cephes's
single-precision ones: range reduction and a polynomial, within three units in the last
place, tested) so the compiler can vectorise the loop; float64 bodies see the C library's.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy

# Where a body may call exp and tanh: in this namespace they hide the C library's, so a
# float32 body gets the vectorisable ones and a float64 body the library's.
PRELUDE = r"""
#include <cmath>
#include <cstdint>
#include <cstring>
namespace minigrad_kernel {
static inline float exp(float x) {
    float y = x > 88.72f ? 88.72f : x;              // e^x of float range; outside, the limits
    y = y < -103.9f ? -103.9f : y;
    y = y == y ? y : 0.0f;                          // NaN: any finite k, fixed up below
    float k = (y * 1.44269504089f + 12582912.0f) - 12582912.0f;  // round(y / ln 2)
    float r = y - k * 0.693359375f + k * 2.12194440e-4f;         // y - k ln 2, in two parts
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f; p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f; p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;                       // e^r on [-ln2/2, ln2/2]
    int32_t whole = (int32_t)k, half = whole / 2;   // 2^k as two factors, so that neither
    int32_t bits_a = (half + 127) << 23;            // overflows the exponent field
    int32_t bits_b = (whole - half + 127) << 23;
    float a, b;
    std::memcpy(&a, &bits_a, 4);
    std::memcpy(&b, &bits_b, 4);
    float e = p * a * b;
    e = x > 88.72f ? INFINITY : e;
    e = x < -103.9f ? 0.0f : e;
    return x == x ? e : x;
}
static inline float tanh(float x) {
    float z = std::fabs(x);
    float e = exp(-2.0f * z);
    float big = (1.0f - e) / (1.0f + e);            // tanh |x| = (1 - e^-2|x|) / (1 + e^-2|x|)
    float s = x * x;                                // near 0 that cancels: an odd polynomial
    float small = ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s
                    + 1.33314422036e-1f) * s - 3.33332819422e-1f) * s * z + z;
    return std::copysign(z < 0.625f ? small : big, x);
}
static inline double exp(double x) { return std::exp(x); }
static inline double tanh(double x) { return std::tanh(x); }
"""

# Reads an argument's fields (see _Layout) and checks it: an ndarray of type T, at most
# two dimensions, the shape of the first, unit stride along the last, writeable if an
# output. Returns false to refuse it; Python then says why.
VIEW = r"""
struct array_fields {
    char* data; int nd; std::intptr_t* dims; std::intptr_t* strides; void* base;
    const char* descr; int flags;
};
static bool view(const void* ndarray, const char* obj, bool output, char*& data,
                 std::intptr_t& stride, std::intptr_t* shape) {
    if (*(const void* const*)(obj + HEAD - sizeof(void*)) != ndarray) return false;
    const array_fields* a = (const array_fields*)(obj + HEAD);
    if (*(const int*)(a->descr + HEAD + 12) != TYPE_NUM || a->nd > 2) return false;
    if (output && !(a->flags & 0x0400)) return false;
    std::intptr_t rows = a->nd == 2 ? a->dims[0] : 1, cols = a->nd ? a->dims[a->nd - 1] : 1;
    if (shape[0] < 0) { shape[0] = a->nd; shape[1] = rows; shape[2] = cols; }
    else if (shape[0] != a->nd || shape[1] != rows || shape[2] != cols) return false;
    if (a->nd && cols > 1 && a->strides[a->nd - 1] != (std::intptr_t)sizeof(T)) return false;
    if (a->nd == 2 && a->strides[0] % (std::intptr_t)sizeof(T)) return false;
    stride = a->nd == 2 ? a->strides[0] / (std::intptr_t)sizeof(T) : 0;
    data = a->data;
    return true;
}
"""

FLAGS = ("-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-pthread", "-shared",
         "-fPIC")
_TYPES = {numpy.dtype(numpy.float32): "float", numpy.dtype(numpy.float64): "double"}
_lock = threading.Lock()
_works: Optional[bool] = None
_cache: Optional[Path] = None


def compiler() -> Optional[str]:
    """The C++ compiler: ``$CXX``, else the first of c++, g++, clang++ on the PATH."""
    named = os.environ.get("CXX")
    if named:
        return shutil.which(named)
    return next(filter(None, map(shutil.which, ("c++", "g++", "clang++"))), None)


# NumPy aligns its arrays' data to 16 bytes only. A kernel's vector load from an address
# that is not a multiple of the vector's size spans two cache lines and costs two loads:
# the packed LSTM loops ran 8-12 % faster at H 256 on 64-byte aligned panels (AVX-512;
# measured in the fifth session, the loops alone, aligned and not in one process).
ALIGNMENT = 64


def aligned_empty(shape: Any, dtype: Any) -> numpy.ndarray:
    """``numpy.empty(shape, dtype)`` (C order) whose data starts on a 64-byte boundary."""
    dtype = numpy.dtype(dtype)
    count = int(numpy.prod(shape, dtype=numpy.int64))
    raw = numpy.empty(count + ALIGNMENT // dtype.itemsize, dtype)
    # the address from the array interface: with .ctypes, tracemalloc saw small objects
    # from this line stay alive, about one per call, for hundreds of training steps
    skip = (-raw.__array_interface__["data"][0] % ALIGNMENT) // dtype.itemsize
    return raw[skip:skip + count].reshape(shape)


def available() -> bool:
    """Whether CPU kernels work here (a compiler that builds, arrays laid out as
    expected) and are not switched off; checked once per process."""
    global _works
    if os.environ.get("MINIGRAD_CPU_KERNELS", "1").strip().lower() in ("0", "false", "no"):
        return False
    if _works is None:
        try:
            _build("extern \"C\" int minigrad_probe() { return 1; }\n", "minigrad_probe")
            _works = _layout() is not None
        except (OSError, RuntimeError, subprocess.SubprocessError):
            _works = False
    return _works


def _cache_dir() -> Path:
    global _cache
    if _cache is None:
        named = os.environ.get("MINIGRAD_KERNEL_CACHE")
        _cache = Path(named) if named else Path.home() / ".cache" / "minigrad" / "kernels"
        try:
            _cache.mkdir(parents=True, exist_ok=True)
        except OSError:  # a read-only home: a private folder for this process
            _cache = Path(tempfile.mkdtemp(prefix="minigrad-kernels-"))
    return _cache


def _machine() -> str:
    """What a library built with -march=native depends on: the CPU's features."""
    try:
        with open("/proc/cpuinfo") as info:
            return next((line for line in info if line.startswith(("flags", "Features"))),
                        platform.processor())
    except OSError:
        return platform.machine() + platform.processor()


def _build(source: str, name: str) -> Any:
    """The compiled ``source``'s function ``name``, from the cache or built now."""
    return getattr(_library(source, name), name)


def _library(source: str, tag: str) -> ctypes.CDLL:
    """The compiled ``source`` as one library (its functions share its static state),
    from the cache or built now. Built into a temporary file and renamed, so processes
    compiling at once do not collide."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler (c++, g++ or clang++) on the PATH")
    with _lock:
        for march in (("-march=native",), ()):  # some compilers lack -march=native
            flags = FLAGS + march
            key = hashlib.sha256("\0".join((source, cxx, *flags, _machine())).encode())
            library = _cache_dir() / f"{tag}-{key.hexdigest()[:16]}.so"
            if not library.exists():
                with tempfile.TemporaryDirectory(dir=library.parent) as scratch:
                    cpp, built = Path(scratch, "kernel.cpp"), Path(scratch, "kernel.so")
                    cpp.write_text(source)
                    done = subprocess.run([cxx, *flags, "-o", str(built), str(cpp)],
                                          capture_output=True, text=True, timeout=120)
                    if done.returncode != 0:
                        error = done.stderr.strip()
                        continue
                    os.replace(built, library)
            return ctypes.CDLL(str(library))
    raise RuntimeError(f"{cxx} could not compile {tag}: {error}")


def typed_source(source: str, dtype: Any) -> str:
    """A kernel source written for any T, filled in for ``dtype``: its ``%(T)s``, ``%(HEAD)d``,
    ``%(TYPE_NUM)d``, ``%(VIEW)s`` and ``%(PRELUDE)s`` (which opens the namespace the
    source must close)."""
    layout = _layout()
    if layout is None:
        raise RuntimeError("this NumPy lays out arrays in a way CPU kernels do not know "
                           "(see compiled_kernel.available())")
    dtype = numpy.dtype(dtype)
    return source % dict(T=_TYPES[dtype], HEAD=layout.head, TYPE_NUM=layout.type_nums[dtype],
                         VIEW=VIEW, PRELUDE=PRELUDE)


def _parameters(params: str, where: str) -> list[str]:
    names = []
    for param in filter(None, (p.strip() for p in params.split(","))):
        kind, _, name = param.partition(" ")
        if kind != "T" or not name.strip().isidentifier():
            raise ValueError(f"{where}: CPU kernels take only 'T name' parameters, "
                             f"got {param!r}")
        names.append(name.strip())
    return names


class _Layout(NamedTuple):
    """Where an ndarray keeps its fields, so a kernel reads its arguments straight from
    the Python objects (``a.ctypes.data`` costs a microsecond per argument, more than a
    small step's arithmetic). NumPy's ABI fixes the order of the fields after the object
    header; :func:`_layout` checks every offset on real arrays before one is used."""
    head: int           # sizeof(PyObject): data, nd, dims, strides, base, descr, flags follow
    type_nums: dict     # dtype -> NumPy's type number, read from the descriptor


_FIELDS = {"data": 0, "nd": 8, "dims": 16, "strides": 24, "descr": 40, "flags": 48}
_WRITEABLE = 0x0400     # NPY_ARRAY_WRITEABLE


@functools.cache
def _layout() -> Optional[_Layout]:
    """The checked layout, or None where this NumPy or Python lays arrays out otherwise."""
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    head = object.__basicsize__

    def field(a: Any, name: str, ctype: Any) -> Any:
        return ctype.from_address(id(a) + head + _FIELDS[name]).value

    type_nums = {}
    for dtype in _TYPES:
        whole = numpy.zeros((4, 9), dtype)
        for a in (whole, whole[1:, 2:7], whole[::-2, 3], whole[2, 1:4], numpy.float64(0) + whole):
            read_only = a.copy()
            read_only.flags.writeable = False
            nd = field(a, "nd", ctypes.c_int)
            dims = (ctypes.c_ssize_t * max(nd, 1)).from_address(field(a, "dims", ctypes.c_void_p))
            strides = (ctypes.c_ssize_t * max(nd, 1)).from_address(
                field(a, "strides", ctypes.c_void_p))
            type_num = ctypes.c_int.from_address(field(a, "descr", ctypes.c_void_p) + head + 12)
            if (ctypes.c_void_p.from_address(id(a) + head - 8).value != id(numpy.ndarray)
                    or field(a, "data", ctypes.c_void_p) != a.ctypes.data or nd != a.ndim
                    or tuple(dims[:nd]) != a.shape or tuple(strides[:nd]) != a.strides
                    or not field(a, "flags", ctypes.c_int) & _WRITEABLE
                    or field(read_only, "flags", ctypes.c_int) & _WRITEABLE
                    or type_num.value != a.dtype.num):
                return None
            type_nums[a.dtype] = type_num.value
    return _Layout(head, type_nums)


class ElementwiseKernel:
    """A body over same-shaped arrays, run element by element in one compiled loop.

    Called as CuPy's: inputs first, then the outputs, which the body may read and
    must write. All arguments share one dtype (float32 or float64). The fast path takes
    NumPy arrays of one shape of at most two dimensions with unit stride along the last
    (row views of a larger array are fine), checked by the compiled code itself before
    it touches an element; anything else is conformed in Python first (inputs broadcast,
    as CuPy's do) or refused with the reason."""

    def __init__(self, in_params: str, out_params: str, operation: str, name: str) -> None:
        self.name = name
        self.inputs = _parameters(in_params, name)
        self.outputs = _parameters(out_params, name)
        self.operation = operation
        self._compiled: dict = {}

    def _source(self, dtype: numpy.dtype, layout: _Layout) -> str:
        names = self.inputs + self.outputs
        count = len(names)
        rows = [f"{'const ' * (k < len(self.inputs))}T* {n}_row = "
                f"(T*)(data[{k}]) + r * stride[{k}];" for k, n in enumerate(names)]
        loads = [f"const T {n} = {n}_row[j];" for n in self.inputs]
        loads += [f"T& {n} = {n}_row[j];" for n in self.outputs]
        params = ", ".join(f"const char* a{k}" for k in range(count))
        return (f"{PRELUDE}\ntypedef {_TYPES[dtype]} T;\n"
                f"static const long HEAD = {layout.head}, TYPE_NUM = {layout.type_nums[dtype]};\n"
                f"{VIEW}\n"
                f"static void body(std::intptr_t rows, std::intptr_t cols, char** data, "
                f"const std::intptr_t* stride) {{\n"
                f"  for (std::intptr_t r = 0; r < rows; ++r) {{\n    {' '.join(rows)}\n"
                f"#pragma omp simd\n"
                f"    for (std::intptr_t j = 0; j < cols; ++j) {{\n      {' '.join(loads)}\n"
                f"      {self.operation}\n    }}\n  }}\n}}\n}}  // namespace\n"
                f'extern "C" int {self.name}(const void* ndarray, {params}) {{\n'
                f"  const char* given[{count}] = {{{', '.join(f'a{k}' for k in range(count))}}};\n"
                f"  char* data[{count}]; std::intptr_t stride[{count}], shape[3] = {{-1, 0, 0}};\n"
                f"  for (int k = 0; k < {count}; ++k)\n"
                f"    if (!minigrad_kernel::view(ndarray, given[k], k >= {len(self.inputs)}, "
                f"data[k], stride[k], shape)) return k + 1;\n"
                f"  minigrad_kernel::body(shape[1], shape[2], data, stride);\n"
                f"  return 0;\n}}\n")

    def _function(self, dtype: numpy.dtype) -> Any:
        function = self._compiled.get(dtype)
        if function is None:
            if dtype not in _TYPES:
                raise TypeError(f"{self.name}: CPU kernels take float32 or float64, "
                                f"got {dtype}")
            layout = _layout()
            if layout is None:
                raise RuntimeError(f"{self.name}: this NumPy lays out arrays in a way "
                                   f"CPU kernels do not know (see available())")
            function = _build(self._source(dtype, layout), self.name)
            count = len(self.inputs) + len(self.outputs)
            function.argtypes = (ctypes.c_void_p,) * (count + 1)
            function.restype = ctypes.c_int
            self._compiled[dtype] = function
        return function

    def __call__(self, *args: Any) -> None:
        if len(args) != len(self.inputs) + len(self.outputs):
            raise TypeError(f"{self.name}: expected {len(self.inputs)} inputs and "
                            f"{len(self.outputs)} outputs, got {len(args)} arguments")
        first = args[0] if isinstance(args[0], numpy.ndarray) else \
            next((a for a in args if isinstance(a, numpy.ndarray)), numpy.asarray(args[0]))
        function = self._function(first.dtype)
        if function(_NDARRAY, *map(id, args)):  # refused: broadcast inputs, or say why
            args = self._conform(args, first.dtype)
            refused = function(_NDARRAY, *map(id, args))
            if refused:
                raise RuntimeError(f"{self.name}: the compiled code refused argument "
                                   f"{refused - 1} after conforming it")

    def _conform(self, args: tuple, dtype: numpy.dtype) -> tuple:
        """The arguments as the compiled code takes them: inputs (numbers too) broadcast
        to the common shape and made contiguous, as CuPy broadcasts them; outputs must
        already be right, as they are written in place. Raises, naming the argument, if
        they can't be."""
        names = self.inputs + self.outputs
        args = tuple(a if isinstance(a, numpy.ndarray) or k >= len(self.inputs)
                     else numpy.asarray(a, dtype) for k, a in enumerate(args))
        for k, a in enumerate(args):  # inputs are arrays by now; outputs must be plain ones
            if k >= len(self.inputs) and type(a) is not numpy.ndarray:
                raise TypeError(f"{self.name}: argument {k} ({names[k]}) is a "
                                f"{type(a).__name__}, not a plain NumPy array")
            if a.dtype != dtype:
                raise TypeError(f"{self.name}: argument {k} ({names[k]}) has dtype {a.dtype}, "
                                f"not {dtype}: all must match")
        try:
            shape = numpy.broadcast_shapes(*(a.shape for a in args))
        except ValueError:
            raise ValueError(f"{self.name}: the arguments' shapes "
                             f"{', '.join(str(a.shape) for a in args)} do not broadcast") from None
        if len(shape) > 2:
            raise ValueError(f"{self.name}: arguments of shape {shape}: CPU kernels take at "
                             f"most two dimensions")
        for k, a in enumerate(args[len(self.inputs):], len(self.inputs)):
            where = f"{self.name}: output {k} ({names[k]})"
            if a.shape != shape:
                raise ValueError(f"{where} has shape {a.shape}, not the arguments' {shape}")
            if not a.flags.writeable:
                raise ValueError(f"{where} is read-only")
            if a.ndim and a.shape[-1] > 1 and a.strides[-1] != a.itemsize:
                raise ValueError(f"{where} (strides {a.strides}) needs unit stride along "
                                 f"its last dimension")
        inputs = [numpy.ascontiguousarray(numpy.broadcast_to(a, shape))
                  for a in args[:len(self.inputs)]]
        return (*inputs, *args[len(self.inputs):])


_NDARRAY = id(numpy.ndarray)
