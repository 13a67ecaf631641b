"""Rank 1 raises while rank 0 waits in a collective: the job must end, naming rank 1."""
import minigrad as mg
import minigrad.distributed as dist

dist.init_process_group("mpi")
dist.barrier()
if dist.get_rank() == 1:
    raise ZeroDivisionError("rank 1's data was bad")
dist.all_reduce(mg.ones(3))  # rank 0 would wait here forever without the abort
print("unreachable")
