"""The MPI backend: collectives on host arrays through mpi4py's non-blocking calls.

Rank and world size are MPI's (``mpiexec -n 4 python train.py``). mpi4py is
imported only here, so ``import minigrad`` never needs it. Tensors on a GPU are
copied to the host and back (this MPI is not assumed CUDA-aware): use the NCCL
backend there.
"""
from __future__ import annotations

from typing import Any

import numpy

from .reduce_op import ReduceOp

__all__ = ["MpiGroup"]

INSTALL_HINT = ("the 'mpi' backend needs mpi4py and an MPI library: "
                "pip install -e '.[distributed]' (installs mpi4py and the mpich wheel)")


def import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:  # mpi4py missing, or its MPI library cannot be loaded
        raise RuntimeError(f"{INSTALL_HINT} ({exc})") from exc
    return MPI


class Pending:
    """A started MPI collective and the host arrays it reads and writes. mpi4py's
    non-blocking collectives keep no reference to their buffers, and a buffer made for
    the call (a GPU tensor's host copy, a non-contiguous tensor's packed copy) has no
    other owner: freed early, its memory is reused while MPI still reads it (seen on a
    GPU with Open MPI: garbage gradients under DDP). Held here until the request is done."""

    __slots__ = ("request", "buffers")

    def __init__(self, request: Any, *buffers: numpy.ndarray) -> None:
        self.request = request
        self.buffers = buffers


class MpiGroup:
    """One communicator (a duplicate of COMM_WORLD, so user MPI traffic never mixes
    with ours) and the collectives on contiguous host arrays, each returning a Pending."""

    name = "mpi"

    def __init__(self) -> None:
        MPI = import_mpi()
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                     ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}

    # -- moving tensors' bytes: the host is where MPI reads and writes ------------
    @staticmethod
    def buffer(tensor: Any) -> numpy.ndarray:
        """A contiguous host array with ``tensor``'s values (its own memory on the CPU
        when already contiguous: read-only use)."""
        return numpy.ascontiguousarray(tensor.detach().numpy())

    @staticmethod
    def empty(shape: tuple, like: Any) -> numpy.ndarray:
        return numpy.empty(shape, dtype=like.dtype)

    # -- collectives (non-blocking; each returns a Pending) ------------------------
    def all_reduce(self, send: Any, recv: Any, op: ReduceOp) -> "Pending":
        return Pending(self.comm.Iallreduce(send, recv, op=self._ops[op]), send, recv)

    def broadcast(self, buf: Any, src: int) -> "Pending":
        return Pending(self.comm.Ibcast(buf, root=src), buf)

    def all_gather(self, send: Any, recv: Any) -> "Pending":
        return Pending(self.comm.Iallgather(send, recv), send, recv)

    def reduce_scatter(self, send: Any, recv: Any, op: ReduceOp) -> "Pending":
        return Pending(self.comm.Ireduce_scatter_block(send, recv, op=self._ops[op]), send, recv)

    @staticmethod
    def wait(pending: "Pending") -> None:
        pending.request.Wait()
        pending.buffers = ()

    @staticmethod
    def test(pending: "Pending") -> bool:
        done = bool(pending.request.Test())
        if done:
            pending.buffers = ()
        return done

    # -- control ------------------------------------------------------------------
    def barrier(self) -> None:
        self.comm.Barrier()

    def all_gather_object(self, obj: Any) -> list:
        return self.comm.allgather(obj)

    def broadcast_object(self, obj: Any, src: int) -> Any:
        return self.comm.bcast(obj, root=src)

    def abort(self, code: int) -> None:
        """End every rank of the job now (the launcher kills the others)."""
        self.MPI.COMM_WORLD.Abort(code)

    def destroy(self) -> None:
        self.comm.Free()
