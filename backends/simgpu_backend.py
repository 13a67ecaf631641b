"""The simulated GPU: the CuPy backend's own code, running on a CPU stand-in for CuPy.

``MINIGRAD_BACKEND=simgpu`` (or ``mg.set_backend("simgpu")``, ``t.to("simgpu")``) puts
tensors on it. Nothing in minigrad knows it is not a GPU: the :class:`CupyBackend` is
built with the simulated array module in place of ``cupy``, so every rule CuPy enforces
(no implicit host conversion, no host operands, 0-d results, index wrap-around) holds,
and every host synchronisation is counted (``mg.cuda.sync_counter()``) or, with
``MINIGRAD_SIMGPU_STRICT=1``, raises. CI runs the whole suite on it.
"""
from .array_backend import ArrayBackend
from .cupy_backend import CupyBackend


def make_simgpu_backend() -> ArrayBackend:
    from . import simgpu_array
    return CupyBackend("simgpu", "simgpu", simgpu_array.module, cupyx=simgpu_array.cupyx)
