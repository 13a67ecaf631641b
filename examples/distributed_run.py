"""``--distributed`` for examples/char_lstm.py: data parallelism over MPI or NCCL.

Each rank trains the same model on its own block of the batch rows (and carries the
recurrent state of those rows); DistributedDataParallel averages the gradients, so
every rank takes the step one process would take on the whole batch. Rank 0 alone
logs, evaluates, checkpoints and samples; checkpoints hold every row's state, so
``--resume`` works with any number of ranks that divides the batch.

    mpiexec -n 2 python examples/char_lstm.py --distributed                 # CPUs, MPI
    mpiexec -n 8 python examples/char_lstm.py --distributed --backend cupy  # GPUs, NCCL
"""
from __future__ import annotations

import os
import sys
from typing import Any

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn as nn

LAUNCH_HELP = """\
--distributed needs an MPI launcher, which starts one process per rank:
    pip install -e '.[distributed]'          # mpi4py and the MPICH wheel
    mpiexec -n 2 python examples/char_lstm.py --distributed                 # CPUs (MPI)
    mpiexec -n 8 python examples/char_lstm.py --distributed --backend cupy  # GPUs (NCCL)"""

# Variables that MPICH, Open MPI, PMIx and Intel MPI launchers set in every rank.
_LAUNCHER_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID")


class Run:
    """Where this process stands: world size, rank, and the few collectives the training
    loop needs. Without ``--distributed`` it is one rank and every method is a no-op."""

    def __init__(self, distributed: bool, backend: str, batch: int) -> None:
        self.distributed, self.world, self.rank = distributed, 1, 0
        if distributed:
            if not any(name in os.environ for name in _LAUNCHER_VARIABLES):
                raise SystemExit(LAUNCH_HELP)
            dist.init_process_group("nccl" if backend == "cupy" else "mpi")
            self.world, self.rank = dist.get_world_size(), dist.get_rank()
            if batch % self.world:
                raise SystemExit(f"--batch {batch} must be a multiple of the number of "
                                 f"ranks ({self.world}): each rank takes an equal block of rows")
            if self.rank:  # rank 0 speaks for the job
                sys.stdout = open(os.devnull, "w")
        self.is_main = self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train through: a DistributedDataParallel replica, or the model."""
        return nn.parallel.DistributedDataParallel(model) if self.distributed else model

    def _block(self, batch: int) -> slice:
        rows = batch // self.world
        return slice(self.rank * rows, (self.rank + 1) * rows)

    def rows(self, chunk: Any) -> Any:
        """This rank's columns of a (steps, batch) chunk."""
        return chunk if not self.distributed else chunk[:, self._block(chunk.shape[1])]

    def mean(self, value: float) -> float:
        """The mean of ``value`` over ranks (the global batch's loss from the ranks' losses)."""
        if not self.distributed:
            return value
        t = mg.tensor([value], dtype=mg.float64)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        return t.item()

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on some rank (so all ranks stop together)."""
        if not self.distributed:
            return flag
        t = mg.tensor([int(flag)], dtype=mg.int32)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def full_state(self, state: Any) -> Any:
        """The carried state of every row (for a checkpoint), from each rank's rows."""
        if not self.distributed or state is None:
            return state
        parts = state if isinstance(state, tuple) else (state,)
        whole = []
        for s in parts:
            pieces = [mg.zeros_like(s) for _ in range(self.world)]
            dist.all_gather(pieces, s)
            whole.append(mg.cat(pieces, dim=1))
        return tuple(whole) if isinstance(state, tuple) else whole[0]

    def own_state(self, state: Any) -> Any:
        """This rank's rows of a checkpoint's carried state (layers, batch, hidden)."""
        if not self.distributed or state is None:
            return state
        parts = state if isinstance(state, tuple) else (state,)
        mine = tuple(s[:, self._block(s.shape[1])] for s in parts)
        return mine if isinstance(state, tuple) else mine[0]
