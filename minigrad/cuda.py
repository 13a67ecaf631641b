"""``mg.cuda``: is there a GPU, and its generator, as ``torch.cuda`` answers.

Nothing here imports CuPy until asked, and nothing here raises for want of a GPU:
a missing or broken CuPy, a driver that fails, or no device all read as "no GPU".
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

from .backends import ArrayBackend, current_backend, get_backend


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
    if active.device.type == "cuda":
        return active
    return get_backend("cupy") if is_available() else None


def manual_seed(seed: int) -> None:
    """Seed the GPU backend's generator; a no-op without a GPU."""
    backend = _gpu_backend()
    if backend is not None:
        backend.manual_seed(int(seed) % 2 ** 64)


manual_seed_all = manual_seed  # one GPU backend: seeding "all" seeds it


def synchronize(device: Any = None) -> None:
    """Wait for the GPU's queued work to finish (for timing); a no-op without a GPU or on
    a simulated one. ``device`` is accepted for PyTorch's signature: there is one GPU."""
    backend = _gpu_backend()
    cupy_cuda = getattr(getattr(backend, "xp", None), "cuda", None)  # None on NumPy
    if cupy_cuda is not None:
        cupy_cuda.runtime.deviceSynchronize()
