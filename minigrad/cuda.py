"""``mg.cuda``: is there a GPU, and its generator, as ``torch.cuda`` answers.

Nothing here imports CuPy until asked, and nothing here raises for want of a GPU:
a missing or broken CuPy, a driver that fails, or no device all read as "no GPU".
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

from .backends import ArrayBackend, current_backend, get_backend
from .backends.cupy_backend import CupyBackend
from .backends.host_sync import HostSyncError, SyncCounter

__all__ = ["device_count", "is_available", "manual_seed", "manual_seed_all", "synchronize",
           "sync_counter", "HostSyncError", "check_range"]


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or without a working GPU)."""
    try:
        with warnings.catch_warnings():  # a CuPy without CUDA warns on import
            warnings.simplefilter("ignore")
            import cupy
            return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001  (any failure of CuPy or the driver means no GPU)
        return 0


def is_available() -> bool:
    """True only when CuPy imports and at least one GPU is visible."""
    return device_count() > 0


def _gpu_backend() -> Optional[ArrayBackend]:
    """The backend whose generator GPU tensors draw from, if there is one: the active
    backend when it runs on a CUDA device (CuPy, or a simulated GPU), else CuPy's."""
    active = current_backend()
    if active.device.type == "cuda" or isinstance(active, CupyBackend):
        return active
    return get_backend("cupy") if is_available() else None


def manual_seed(seed: int) -> None:
    """Seed the GPU backend's generator; a no-op without a GPU."""
    backend = _gpu_backend()
    if backend is not None:
        backend.manual_seed(int(seed) % 2 ** 64)


manual_seed_all = manual_seed  # one GPU backend: seeding "all" seeds it


def synchronize(device: Any = None) -> None:
    """Wait for the GPU's queued work to finish (for timing), and raise what a deferred
    device check found (an out-of-range index); a no-op without a GPU. On the simulated
    GPU only the checks are read. ``device`` is accepted for PyTorch's signature: there
    is one GPU."""
    backend = _gpu_backend()
    if backend is None:
        return
    cupy_cuda = getattr(backend.xp, "cuda", None)  # None on the simulated GPU
    if cupy_cuda is not None:
        cupy_cuda.runtime.deviceSynchronize()
    backend.raise_deferred()


def sync_counter(strict: bool = False) -> SyncCounter:
    """Count the host synchronisations inside a ``with`` block::

        with mg.cuda.sync_counter() as syncs:
            train_step()
        assert syncs.count == 0, syncs.by_site()

    On the simulated GPU (``MINIGRAD_BACKEND=simgpu``) every sync is counted, wherever it
    comes from; on CuPy, those that pass through minigrad's conversions (``.item()``,
    ``float()``/``int()``/``bool()``, ``.numpy()``, ``.tolist()``, printing). With
    ``strict=True`` the first one raises :class:`HostSyncError` naming its line."""
    return SyncCounter(strict=strict)


def check_range(t: Any, low: int, high: int, message: str, error: type = IndexError) -> None:
    """Check that every element of the integer tensor ``t`` lies in [low, high); if one
    does not, raise ``error(message)`` with ``{bad}`` in ``message`` replaced by it.

    On the CPU the check runs at once. On a GPU it runs on the device without waiting for
    it: the error is raised at the next host sync (``.item()``, ``.numpy()``, printing,
    ``mg.cuda.synchronize()``), so a training step keeps the GPU busy while a bad index
    still raises, at the next logging point, instead of wrapping around silently."""
    if not t.numel():
        return
    backend = t.backend
    if not backend.defers_checks:
        lo, hi = int(t.min().item()), int(t.max().item())
        if lo < low or hi >= high:
            raise error(message.replace("{bad}", str(lo if lo < low else hi)))
        return
    flat = t.detach().reshape(-1)._data
    outside = (flat < low) | (flat >= high)
    backend.defer_error(message, outside.any(), flat[backend.argmax(outside)], error)
