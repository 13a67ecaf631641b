"""DDP over the ranks equals one process on the concatenated batch, after every step.

Usage: ddp_lstm.py float64|float32. Every rank also trains the single-process
reference on the whole batch, starting from rank 0's initial weights (its own replica
starts from other weights, which DDP's broadcast must replace)."""
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn as nn
from lm import batch, build, loss_of, rows

dtype = sys.argv[1]
tol = {"float64": 1e-12, "float32": 1e-6}[dtype]
dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()

reference = build(0, dtype)
replica = build(0 if rank == 0 else 100 + rank, dtype)
model = nn.parallel.DistributedDataParallel(replica, bucket_cap_mb=0.0005)
ref_opt = mg.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9)
opt = mg.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
named = dict(model.module.named_parameters())
worst = 0.0
for step in range(20):
    x, y = batch(step)
    ref_opt.zero_grad()
    loss_of(reference, x, y).backward()
    ref_opt.step()
    opt.zero_grad()
    loss_of(model, rows(x, rank, world), rows(y, rank, world)).backward()
    opt.step()
    for name, p in reference.named_parameters():
        mine = named[name].detach().numpy()
        assert mine.dtype == np.dtype(dtype)
        np.testing.assert_allclose(mine, p.detach().numpy(), rtol=0, atol=tol,
                                   err_msg=f"{name} after step {step}")
        worst = max(worst, float(np.abs(mine - p.detach().numpy()).max()))
print(f"PASS ddp_lstm {dtype} rank {rank}: 20 steps, largest difference {worst:.1e}")
