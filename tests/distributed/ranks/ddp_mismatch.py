"""Ranks that built different models are refused at construction, on every rank."""
import minigrad.distributed as dist
import minigrad.nn as nn

dist.init_process_group("mpi")
rank = dist.get_rank()
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 5 if rank == 1 else 4))
try:
    nn.parallel.DistributedDataParallel(model)
except ValueError as exc:
    assert str(exc) == ("DistributedDataParallel: parameter '1.weight' is (5, 4) float32 on "
                        "rank 1 but (4, 4) float32 on rank 0; every rank must build the same "
                        "model"), str(exc)
else:
    raise AssertionError("mismatched shapes were accepted")
extra = nn.Linear(2, 2) if rank == 0 else nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
try:
    nn.parallel.DistributedDataParallel(extra)
except ValueError as exc:
    assert "exists on rank" in str(exc) and "every rank must build the same model" in str(exc)
else:
    raise AssertionError("mismatched parameter names were accepted")
print(f"PASS ddp_mismatch rank {rank}")
