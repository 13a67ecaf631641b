"""``minigrad.distributed``: data-parallel training over MPI (CPUs) or NCCL (GPUs),
with ``torch.distributed``'s names.

    import minigrad.distributed as dist
    dist.init_process_group("mpi")          # launched as: mpiexec -n 4 python train.py
    dist.all_reduce(t, op=dist.ReduceOp.AVG)

Nothing here imports mpi4py or CuPy until ``init_process_group`` asks for them.
"""
from .collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_reduce,
                          broadcast, broadcast_object_list, reduce_scatter,
                          reduce_scatter_tensor)
from .process_group import (barrier, destroy_process_group, get_backend, get_rank,
                            get_world_size, init_process_group, is_available, is_initialized,
                            is_mpi_available, is_nccl_available)
from .reduce_op import ReduceOp
from .work import Work

__all__ = ["ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_gather_object",
           "all_reduce", "barrier", "broadcast", "broadcast_object_list",
           "destroy_process_group", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "is_available", "is_initialized", "is_mpi_available",
           "is_nccl_available", "reduce_scatter", "reduce_scatter_tensor"]
