"""A CPU stand-in for ``cupy.ElementwiseKernel``: the same body compiled as C++ with g++.

It follows CuPy's contract for non-raw parameters: arguments broadcast to one shape,
inputs are read-only values, outputs are references that the body may read and must
write, given outputs are written in place. Only float64 (``T`` = double). This lets the
GPU's fused recurrent steps (backends/recurrent_kernels.py) be checked where no GPU is.
"""
from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

COMPILER = shutil.which("g++")
_BUILD = Path(tempfile.mkdtemp(prefix="minigrad-kernels-"))


def _names(params: str) -> list[str]:
    names = []
    for param in filter(None, (p.strip() for p in params.split(","))):
        kind, name = param.split()
        if kind != "T":
            raise ValueError(f"the stand-in takes only 'T name' parameters, got {param!r}")
        names.append(name)
    return names


class CpuElementwiseKernel:
    def __init__(self, in_params: str, out_params: str, operation: str, name: str) -> None:
        self.inputs, self.outputs = _names(in_params), _names(out_params)
        lines = [f"const T& {n} = in_[{k}][_i];" for k, n in enumerate(self.inputs)]
        lines += [f"T& {n} = out_[{k}][_i];" for k, n in enumerate(self.outputs)]
        source = ("#include <cmath>\nusing std::exp; using std::tanh;\ntypedef double T;\n"
                  f'extern "C" void {name}(long size, const T** in_, T** out_) {{\n'
                  f"  for (long _i = 0; _i < size; ++_i) {{ {' '.join(lines)} {operation} }}\n}}\n")
        digest = hashlib.sha1(source.encode()).hexdigest()[:12]
        path = _BUILD / f"{name}_{digest}"
        if not path.with_suffix(".so").exists():
            path.with_suffix(".cpp").write_text(source)
            subprocess.run([COMPILER, "-O1", "-shared", "-fPIC", "-o", str(path) + ".so",
                            str(path) + ".cpp"], check=True, capture_output=True)
        self._fn = getattr(ctypes.CDLL(str(path) + ".so"), name)

    def __call__(self, *args: Any) -> None:
        if len(args) != len(self.inputs) + len(self.outputs):
            raise TypeError(f"expected {len(self.inputs)} inputs and {len(self.outputs)} "
                            f"outputs, got {len(args)} arguments")
        if any(a.dtype != np.float64 for a in args):
            raise TypeError("the stand-in is float64 only")
        shape = np.broadcast_shapes(*(a.shape for a in args))
        given = args[len(self.inputs):]
        if any(o.shape != shape for o in given):
            raise ValueError(f"outputs must have the broadcast shape {shape}")
        ins = [np.ascontiguousarray(np.broadcast_to(a, shape)) for a in args[:len(self.inputs)]]
        outs = [np.array(o, order="C") for o in given]  # the body may read them

        def table(arrays: list) -> Any:
            return (ctypes.c_void_p * len(arrays))(*(a.ctypes.data for a in arrays))
        self._fn(ctypes.c_long(int(np.prod(shape))), table(ins), table(outs))
        for o, buffer in zip(given, outs):
            o[...] = buffer
