"""The default process group: which backend moves the bytes, who we are, how many.

``init_process_group("mpi")`` takes rank and world size from the MPI launcher
(``mpiexec -n 2 python train.py``); ``"nccl"`` does the same for GPUs. From then on an
uncaught exception on any rank ends the whole job, with a message naming that rank,
instead of leaving the other ranks waiting forever in their next collective.
"""
from __future__ import annotations

import importlib.util
import sys
import traceback
from datetime import timedelta
from typing import Any, Optional

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "is_mpi_available", "is_nccl_available", "get_rank", "get_world_size",
           "get_backend", "barrier", "default_group"]

BACKENDS = ("mpi", "nccl")
_state: dict = {"group": None, "excepthook": None}


def is_available() -> bool:
    """Whether collectives can be used at all (the package itself is pure Python)."""
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py is installed (without importing it: that would start MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    """Whether CuPy is installed (its NCCL module is checked when the group starts)."""
    return importlib.util.find_spec("cupy") is not None


def is_initialized() -> bool:
    return _state["group"] is not None


def default_group() -> Any:
    """The backend object of the default group; an error naming the fix when there is none."""
    group = _state["group"]
    if group is None:
        raise RuntimeError("the default process group is not initialized; call "
                           "minigrad.distributed.init_process_group('mpi') first (and launch "
                           "with mpiexec -n N python ...)")
    return group


def _check_group(group: Any) -> Any:
    if group is not None and group is not _state["group"]:
        raise ValueError("only the default process group (group=None) is supported")
    return default_group()


def init_process_group(backend: str = "mpi", init_method: Optional[str] = None,
                       timeout: Optional[timedelta] = None, world_size: int = -1,
                       rank: int = -1, **kwargs: Any) -> None:
    """Join the job the launcher started: ``backend`` is ``"mpi"`` (CPUs; any device via the
    host) or ``"nccl"`` (GPUs). ``world_size``/``rank``, if given, must match the launcher's.
    ``init_method``, ``timeout`` and other PyTorch arguments are accepted and unused: the
    launcher does the rendezvous."""
    if _state["group"] is not None:
        raise RuntimeError("trying to initialize the default process group twice; call "
                           "destroy_process_group() first")
    name = str(backend).lower()
    if name == "mpi":
        from .mpi_backend import MpiGroup
        group = MpiGroup()
    elif name == "nccl":
        from .nccl_backend import NcclGroup
        group = NcclGroup()
    else:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    for what, asked, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if asked not in (-1, None) and asked != actual:
            group.destroy()
            raise ValueError(f"init_process_group: {what}={asked} was asked for, but the "
                             f"launcher started this process with {what} {actual}")
    _state["group"] = group
    _state["excepthook"] = sys.excepthook
    sys.excepthook = _end_all_ranks


def _end_all_ranks(kind: type, error: BaseException, trace: Any) -> None:
    """An uncaught exception on one rank: report it with the rank, then end every rank."""
    group = _state["group"]
    traceback.print_exception(kind, error, trace)
    if group is None:
        return
    sys.stderr.write(f"minigrad.distributed: rank {group.rank} of {group.size} failed with "
                     f"{kind.__name__}: {error}; ending all ranks\n")
    sys.stderr.flush()
    sys.stdout.flush()
    group.abort(1)


def destroy_process_group(group: Any = None) -> None:
    """Leave the group; collectives are refused afterwards until the next init."""
    current = _check_group(group)
    current.destroy()
    _state["group"] = None
    sys.excepthook = _state["excepthook"] or sys.__excepthook__


def get_rank(group: Any = None) -> int:
    return _check_group(group).rank


def get_world_size(group: Any = None) -> int:
    return _check_group(group).size


def get_backend(group: Any = None) -> str:
    return _check_group(group).name


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> None:
    """Wait until every rank has reached this call."""
    _check_group(group).barrier()
