"""Bucketing, no_sync accumulation and unused parameters under DDP."""
import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn as nn
from lm import batch, build, loss_of, rows

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
DDP = nn.parallel.DistributedDataParallel


def grads(model):
    return {n: None if p.grad is None else p.grad.numpy().copy()
            for n, p in model.named_parameters()}


# -- bucket sizes from one tensor per bucket to one bucket for all: identical gradients
x, y = batch(0)
results, counts = [], []
n_params = len(list(build(0, "float64").parameters()))
for cap in (1e-9, 0.0005, 0.002, 1000):
    model = DDP(build(0, "float64"), bucket_cap_mb=cap)
    counts.append(len(model._buckets))
    loss_of(model, rows(x, rank, world), rows(y, rank, world)).backward()
    results.append(grads(model.module))
assert counts[0] == n_params and counts[-1] == 1 and counts[1] > counts[2] > 1, counts
for other in results[1:]:  # equal up to the order of a GPU's atomic adds (embedding)
    for name, g in results[0].items():
        np.testing.assert_allclose(other[name], g, rtol=1e-14, atol=0, err_msg=name)
reference = build(0, "float64")
loss_of(reference, x, y).backward()
for name, g in grads(reference).items():
    np.testing.assert_allclose(results[0][name], g, rtol=0, atol=1e-12, err_msg=name)

# -- overlap: the head's buckets are averaging before backward reaches the embedding
events = []
all_reduce = dist.all_reduce


def recording_all_reduce(tensor, *args, **kwargs):
    events.append("all_reduce")
    return all_reduce(tensor, *args, **kwargs)


dist.all_reduce = recording_all_reduce
model = DDP(build(0, "float64"), bucket_cap_mb=1e-9)


def note_embedding(module, inputs, out):
    out.register_hook(lambda g: events.append("embedding"))


model.module.embed.register_forward_hook(note_embedding)
loss_of(model, rows(x, rank, world), rows(y, rank, world)).backward()
dist.all_reduce = all_reduce
started_before = events.index("embedding")
assert started_before >= 3 and events.count("all_reduce") == n_params, events  # head + LSTM

# -- no_sync: two local micro-batches, then a synced one, equal the big-batch gradient
model = DDP(build(0, "float64"), bucket_cap_mb=0.001)
reference = build(0, "float64")
for k in range(3):
    x, y = batch(10 + k)
    loss_of(reference, x, y).backward()
    if k < 2:
        with model.no_sync():
            loss_of(model, rows(x, rank, world), rows(y, rank, world)).backward()
    else:
        loss_of(model, rows(x, rank, world), rows(y, rank, world)).backward()
for name, g in grads(reference).items():
    np.testing.assert_allclose(grads(model.module)[name], g, rtol=0, atol=1e-12, err_msg=name)


# -- unused parameters: 'extra' is used on rank 0 only, 'never' on no rank
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 3).double()
        self.extra = nn.Linear(3, 3).double()
        self.never = nn.Linear(3, 3).double()

    def forward(self, x, use_extra):
        h = self.body(x)
        return self.extra(h) if use_extra else h


mg.manual_seed(0)
model = DDP(Branchy(), find_unused_parameters=True, bucket_cap_mb=1e-9)
inputs = mg.tensor(np.arange(6.0).reshape(2, 3) + rank)
model(inputs, use_extra=rank == 0).sum().backward()
g = grads(model.module)
assert g["never.weight"] is None and g["never.bias"] is None, "globally unused: grad stays None"
mg.manual_seed(0)
solo = Branchy()
solo(mg.tensor(np.arange(6.0).reshape(2, 3)), use_extra=True).sum().backward()
np.testing.assert_allclose(g["extra.weight"], solo.extra.weight.grad.numpy() / world, atol=1e-12)

# -- without find_unused_parameters the next forward names what got no gradient
mg.manual_seed(0)
model = DDP(Branchy())
model(inputs, use_extra=True).sum().backward()
try:
    model(inputs, use_extra=True)
except RuntimeError as exc:
    assert "gave no gradient to ['never.weight', 'never.bias']" in str(exc), exc
    assert "find_unused_parameters=True" in str(exc), exc
else:
    raise AssertionError("an unused parameter went unnoticed")

# -- a second backward through one forward is refused (its gradients would not be averaged)
mg.manual_seed(0)
model = DDP(nn.Linear(3, 1).double())
out = model(inputs).sum()
out.backward(retain_graph=True)
try:
    out.backward()
except RuntimeError as exc:
    assert "got a gradient twice in one iteration" in str(exc), exc
else:
    raise AssertionError("a second backward went unnoticed")

# -- buffers follow rank 0 at construction and before each forward
bn = nn.BatchNorm1d(3).double() if hasattr(nn, "BatchNorm1d") else None
if bn is not None:
    with mg.no_grad():
        bn.running_mean.fill_(float(rank))
    model = DDP(bn)
    assert float(model.module.running_mean.sum().item()) == 0.0
print(f"PASS ddp_buckets rank {rank}")
