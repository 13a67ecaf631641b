"""The backend registry: which array library runs minigrad's operations.

Backends are created lazily by name, so importing minigrad never imports CuPy.
Register a new one with ``register_backend(name, factory)``.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable, Iterator, Optional, Union

from .allocator import keep_freed_memory
from .array_backend import ArrayBackend, is_basic_index
from .cupy_backend import make_cupy_backend
from .numpy_backend import make_numpy_backend
from .simgpu_backend import make_simgpu_backend

__all__ = [
    "ArrayBackend", "register_backend", "get_backend", "set_backend", "use_backend",
    "current_backend", "available_backends", "is_basic_index", "default_backend_name",
    "BACKEND_CHOICES", "seed_all",
]

# What a command line offers: the CPU, the GPU, and the simulated GPU (CuPy's rules on NumPy).
BACKEND_CHOICES = ("numpy", "cupy", "simgpu")

_factories: dict[str, Callable[[], ArrayBackend]] = {}
_instances: dict[str, ArrayBackend] = {}
_DEVICE_ALIASES = {"cpu": "numpy", "cuda": "cupy", "gpu": "cupy"}
_seed: Optional[int] = None  # the last seed_all's, given to backends made after it
keep_freed_memory(os.environ)  # a step's large temporaries are reused, not re-mapped


class _State(threading.local):
    def __init__(self) -> None:
        self.active: ArrayBackend | None = None


_state = _State()


def register_backend(name: str, factory: Callable[[], ArrayBackend]) -> None:
    """Make ``factory()`` available as backend ``name`` (created on first use)."""
    _factories[name] = factory
    _instances.pop(name, None)


def available_backends() -> list[str]:
    return sorted(_factories)


def get_backend(name: Union[str, ArrayBackend]) -> ArrayBackend:
    """The backend called ``name`` (or whose device is ``name``, e.g. "cuda"). An index
    (``"cuda:1"``) must be the backend's own device: one process drives one GPU, device 0
    (pick which physical GPU that is with ``CUDA_VISIBLE_DEVICES``)."""
    if isinstance(name, ArrayBackend):
        return name
    key, colon, index = name.lower().partition(":")
    by_device = [b for b in _instances.values() if b.device in (name, key)]
    if key not in _factories and by_device:
        backend = by_device[0]
    else:
        key = key if key in _factories else _DEVICE_ALIASES.get(key, key)
        if key not in _factories:
            raise ValueError(
                f"unknown backend or device {name!r}; known backends: {available_backends()}")
        if key not in _instances:
            _instances[key] = _factories[key]()
            if _seed is not None:  # as torch seeds a GPU it has not initialised yet
                _instances[key].manual_seed(_seed)
        backend = _instances[key]
    if colon and index != str(backend.device.index or 0):
        raise ValueError(
            f"device {name!r} is not available: minigrad drives one device per backend, "
            f"{backend.device.type}:{backend.device.index or 0} (for another GPU, start the "
            f"process with CUDA_VISIBLE_DEVICES=<its number>, as distributed runs do)")
    return backend


def seed_all(seed: int) -> None:
    """Seed every backend's generator, and each one made later with the same seed, so a
    seeded program draws the same numbers on a device first used after the seeding."""
    global _seed
    _seed = seed
    for backend in _instances.values():
        backend.manual_seed(seed)


def default_backend_name() -> str:
    """The backend asked for by ``MINIGRAD_BACKEND`` (``numpy`` when unset); examples use
    it as their ``--backend`` default, so the environment selects theirs too."""
    return os.environ.get("MINIGRAD_BACKEND") or "numpy"


def current_backend() -> ArrayBackend:
    if _state.active is None:
        _state.active = get_backend(default_backend_name())
    return _state.active


def set_backend(name: Union[str, ArrayBackend]) -> ArrayBackend:
    """Make ``name`` the backend new tensors are created on."""
    _state.active = get_backend(name)
    return _state.active


@contextlib.contextmanager
def use_backend(name: Union[str, ArrayBackend]) -> Iterator[ArrayBackend]:
    """Create tensors on backend ``name`` inside the ``with`` block."""
    previous = current_backend()
    try:
        yield set_backend(name)
    finally:
        _state.active = previous


register_backend("numpy", make_numpy_backend)
register_backend("cupy", make_cupy_backend)
register_backend("simgpu", make_simgpu_backend)
