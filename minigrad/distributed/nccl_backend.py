"""The NCCL backend: collectives between GPUs through CuPy's ``cupy.cuda.nccl``.

Every array stays on its GPU: NCCL reads and writes device memory, on the current
CUDA stream, so a collective is ordered after the kernels that produced its input and
before those that use its result, with no host round trip and no host wait.
Rank and world size come from the MPI launcher (``mpiexec -n 8 python train.py
--backend cupy``), which also carries rank 0's NCCL id to the others; a single process
without a launcher is world size 1. Each rank uses GPU ``local rank % device count``, and
no two ranks may share one (refused with the reason before NCCL starts).

Not exercised by CI (there is no GPU there); see docs/scaling.md for the smoke test.
"""
from __future__ import annotations

import os
import socket
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .reduce_op import ReduceOp

__all__ = ["NcclGroup"]

_LOCAL_RANK_VARIABLES = ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK",
                         "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID")


def _local_rank(rank: int) -> int:
    for name in _LOCAL_RANK_VARIABLES:
        if name in os.environ:
            return int(os.environ[name])
    return rank


def shared_gpus(placements: Sequence[Tuple[str, int]]) -> Optional[str]:
    """Why NCCL cannot start over these ranks, or None: ``placements[r]`` is rank r's
    (host, GPU index). NCCL needs a GPU of its own per rank; given two ranks on one GPU
    it fails with a bare ``NCCL_ERROR_INVALID_USAGE``."""
    users: Dict[Tuple[str, int], List[int]] = {}
    for rank, place in enumerate(placements):
        users.setdefault(tuple(place), []).append(rank)
    for (host, gpu), ranks in users.items():
        if len(ranks) > 1:
            return (f"the 'nccl' backend needs a GPU of its own for each rank, but ranks "
                    f"{', '.join(map(str, ranks))} all use GPU {gpu} of host '{host}': start "
                    "no more ranks per host than it has GPUs, or use the 'mpi' backend "
                    "(through the host)")
    return None


def _device_array(tensor: Any) -> Any:
    """The CuPy array behind a GPU tensor (minigrad has no public accessor for it yet)."""
    if tensor.device.type != "cuda":
        raise RuntimeError(f"the 'nccl' backend works on GPU tensors, got one on {tensor.device}; "
                           "move it with .to('cuda') or use the 'mpi' backend")
    return tensor.detach()._data


class NcclGroup:
    """An NCCL communicator over all ranks, plus the MPI communicator (if launched by
    MPI) for set-up and for the object collectives."""

    name = "nccl"

    def __init__(self) -> None:
        try:
            import cupy
            from cupy.cuda import nccl
        except ImportError as exc:
            raise RuntimeError("the 'nccl' backend needs CuPy built with NCCL: "
                               f"pip install -e '.[gpu,distributed]' ({exc})") from exc
        self.cupy, self.nccl = cupy, nccl
        self.mpi = self._launcher_comm()
        self.rank = 0 if self.mpi is None else self.mpi.Get_rank()
        self.size = 1 if self.mpi is None else self.mpi.Get_size()
        gpu = _local_rank(self.rank) % cupy.cuda.runtime.getDeviceCount()
        if self.mpi is not None:
            problem = shared_gpus(self.mpi.allgather((socket.gethostname(), gpu)))
            if problem:
                raise RuntimeError(problem)
        cupy.cuda.Device(gpu).use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        if self.mpi is not None:
            uid = self.mpi.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.AVG: nccl.NCCL_SUM,
                     ReduceOp.PRODUCT: nccl.NCCL_PROD, ReduceOp.MIN: nccl.NCCL_MIN,
                     ReduceOp.MAX: nccl.NCCL_MAX}
        self._types = {"float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
                       "float64": nccl.NCCL_FLOAT64, "int8": nccl.NCCL_INT8,
                       "uint8": nccl.NCCL_UINT8, "int32": nccl.NCCL_INT32,
                       "int64": nccl.NCCL_INT64}

    @staticmethod
    def _launcher_comm() -> Any:
        """MPI's COMM_WORLD when mpi4py is installed (a singleton without a launcher)."""
        try:
            from mpi4py import MPI
        except ImportError:
            return None
        return MPI.COMM_WORLD.Dup()

    def _type(self, array: Any) -> int:
        try:
            return self._types[array.dtype.name]
        except KeyError:
            raise TypeError(f"NCCL cannot reduce {array.dtype.name} arrays; "
                            f"supported: {sorted(self._types)}") from None

    @property
    def _stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr

    # -- arrays: device memory, never the host ------------------------------------
    def buffer(self, tensor: Any) -> Any:
        return self.cupy.ascontiguousarray(_device_array(tensor))

    def empty(self, shape: tuple, like: Any) -> Any:
        return self.cupy.empty(shape, dtype=like.dtype)

    # -- collectives: queued on the current stream, so "wait" has nothing to do ------
    def all_reduce(self, send: Any, recv: Any, op: ReduceOp) -> None:
        self.comm.allReduce(send.data.ptr, recv.data.ptr, send.size, self._type(send),
                            self._ops[op], self._stream)

    def broadcast(self, buf: Any, src: int) -> None:
        self.comm.bcast(buf.data.ptr, buf.size, self._type(buf), src, self._stream)

    def all_gather(self, send: Any, recv: Any) -> None:
        self.comm.allGather(send.data.ptr, recv.data.ptr, send.size, self._type(send),
                            self._stream)

    def reduce_scatter(self, send: Any, recv: Any, op: ReduceOp) -> None:
        self.comm.reduceScatter(send.data.ptr, recv.data.ptr, recv.size, self._type(send),
                                self._ops[op], self._stream)

    @staticmethod
    def wait(request: Any) -> None:
        """Nothing to wait for on the host: later kernels on the stream come after."""

    @staticmethod
    def test(request: Any) -> bool:
        return True

    # -- control ------------------------------------------------------------------
    def barrier(self) -> None:
        self.cupy.cuda.get_current_stream().synchronize()
        if self.mpi is not None:
            self.mpi.Barrier()

    def all_gather_object(self, obj: Any) -> list:
        return [obj] if self.mpi is None else self.mpi.allgather(obj)

    def broadcast_object(self, obj: Any, src: int) -> Any:
        return obj if self.mpi is None else self.mpi.bcast(obj, root=src)

    def abort(self, code: int) -> None:
        if self.mpi is not None:
            from mpi4py import MPI
            MPI.COMM_WORLD.Abort(code)

    def destroy(self) -> None:
        self.comm.destroy()
        if self.mpi is not None:
            self.mpi.Free()
