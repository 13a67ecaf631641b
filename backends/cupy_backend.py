"""The GPU backend: CuPy, imported only when asked for."""
from typing import Any

from .array_backend import ArrayBackend

INSTALL_HINT = (
    "the 'cupy' backend needs CuPy and an NVIDIA GPU; install it with "
    "`pip install 'minigrad[gpu]'` (or `pip install cupy-cuda12x`)"
)


class CupyBackend(ArrayBackend):
    """CuPy differs from NumPy only in where the arrays live."""

    def from_numpy(self, array: Any) -> Any:
        return self.xp.asarray(array)

    def to_numpy(self, array: Any) -> Any:
        return self.xp.asnumpy(array)

    def erf(self, x: Any) -> Any:
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        if isinstance(data, self.xp.ndarray):
            return data.astype(dtype, copy=False) if dtype is not None else data
        return self.xp.asarray(data, dtype=dtype)


def make_cupy_backend() -> ArrayBackend:
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    return CupyBackend("cupy", "cuda", cupy)
