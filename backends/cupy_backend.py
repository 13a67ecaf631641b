"""The GPU backend: CuPy, imported only when asked for."""
from typing import Any, Optional

import numpy

from . import host_sync
from .array_backend import ArrayBackend

INSTALL_HINT = (
    "the 'cupy' backend needs CuPy and an NVIDIA GPU; install it with "
    "`pip install 'minigrad[gpu]'` (CUDA 13 drivers) or `pip install 'minigrad[gpu-cuda12]'` "
    "(CUDA 12); `nvidia-smi` shows which CUDA version the driver supports"
)


class CupyBackend(ArrayBackend):
    """CuPy differs from NumPy only in where the arrays live.

    ``xp`` is CuPy, or the simulated device's stand-in for it (backends/simgpu_array.py),
    and ``cupyx`` its companion module (imported on first use when not given): the same
    code runs on a real GPU and on the simulation.
    """

    def __init__(self, name: str, device: str, xp: Any, cupyx: Optional[Any] = None) -> None:
        super().__init__(name, device, xp)
        self._cupyx = cupyx
        self._deferred: dict = {}  # checks made on the device, read at the next host sync
        self._recurrent: Optional[dict] = None  # fused recurrent steps, built on first use
        # A simulated module counts its own host syncs (all of them, at the array level);
        # on real CuPy they are counted where minigrad converts to the host.
        self._counts_syncs = not getattr(xp, "simulated", False)

    @property
    def cupyx(self) -> Any:
        if self._cupyx is None:
            import cupyx
            import cupyx.scipy.special  # noqa: F401  (erf)
            self._cupyx = cupyx
        return self._cupyx

    def from_numpy(self, array: Any) -> Any:
        return self._upload(array, None)

    def to_numpy(self, array: Any) -> Any:
        if not isinstance(array, self.xp.ndarray):
            return self.xp.asnumpy(array)
        self.host_sync("to_numpy")
        out = self.xp.asnumpy(array)
        self.raise_deferred()
        return out

    def item(self, array: Any) -> Any:
        self.host_sync("item")
        out = array.item()
        self.raise_deferred()
        return out

    def host_sync(self, kind: str) -> None:
        if self._counts_syncs:
            host_sync.record(kind)

    # -- checks that do not stall the GPU -------------------------------------------------
    defers_checks = True

    def defer_error(self, key: str, failed: Any, culprit: Any, error: type) -> None:
        """Remember a check made on the device: ``failed`` (0-d bool) says whether it
        failed, ``culprit`` (0-d) is the value to name; ``error(key with {bad} filled
        in)`` is raised at the next host sync. Repeats of one check fold into one flag
        (the first failure's culprit kept): memory stays flat however long no one syncs."""
        if key in self._deferred:
            before, first, _ = self._deferred[key]
            culprit = self.xp.where(before, first, culprit)
            failed = before | failed
        self._deferred[key] = (failed, culprit, error)

    def raise_deferred(self) -> None:
        """Raise the first deferred check that failed. Called right after a host sync, when
        the GPU has drained its queue: reading the flags then costs no extra wait."""
        if not self._deferred:
            return
        pending, self._deferred = self._deferred, {}
        with host_sync.piggyback():
            for key, (failed, culprit, error) in pending.items():
                if failed.item():
                    raise error(key.replace("{bad}", str(culprit.item())))

    def erf(self, x: Any) -> Any:
        return self.cupyx.scipy.special.erf(x)

    def recurrent_kernels(self, dtype: Any) -> dict:
        """One kernel per time step (backends/recurrent_kernels.py), compiled on first use,
        for float32 and float64; the simulated device has no compiler and keeps the
        generic steps."""
        if getattr(self.xp, "simulated", False) or self.xp.dtype(dtype).char not in "fd":
            return {}
        if self._recurrent is None:
            from .recurrent_kernels import build
            self._recurrent = build(self.xp.ElementwiseKernel)
        return self._recurrent

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        if isinstance(data, self.xp.ndarray):
            return data.astype(dtype, copy=False) if dtype is not None else data
        return self._upload(data, dtype)

    def _upload(self, data: Any, dtype: Any) -> Any:
        """Host data on the GPU. CuPy fills a 0-d array from a host zero with a memset,
        dropping the sign of -0.0 (``1 / -0.0`` would be +inf): a zero goes over as one
        element of a 1-d array."""
        if not getattr(data, "ndim", 0) and data == 0:
            return self.xp.asarray(numpy.asarray(data, dtype=dtype).reshape(1)).reshape(())
        return self.xp.asarray(data, dtype=dtype)


def make_cupy_backend() -> ArrayBackend:
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    return CupyBackend("cupy", "cuda:0", cupy)  # as PyTorch names a GPU tensor's device
