"""Every collective, op and dtype on 2+ ranks, checked against NumPy on the values all
ranks can compute (rank r holds ``base * (r + 1) + r``)."""
import gc
import re
import time
import weakref

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad.distributed.process_group import default_group

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
base = np.array([[1, -2, 3], [4, 5, -6]])


def value(r, dtype):
    return (base * (r + 1) + r).astype(dtype)


everyone = {dt: np.stack([value(r, dt) for r in range(world)]) for dt in
            ("float32", "float64", "int32", "int64")}
expected = {dist.ReduceOp.SUM: lambda a: a.sum(0), dist.ReduceOp.PRODUCT: lambda a: a.prod(0),
            dist.ReduceOp.MIN: lambda a: a.min(0), dist.ReduceOp.MAX: lambda a: a.max(0),
            dist.ReduceOp.AVG: lambda a: a.sum(0) / world}

for dt, stacked in everyone.items():
    for op, reduce in expected.items():
        if op is dist.ReduceOp.AVG and dt.startswith("int"):
            continue
        t = mg.tensor(value(rank, dt))
        dist.all_reduce(t, op=op)
        assert t.dtype == np.dtype(dt), (op, dt, t.dtype)
        np.testing.assert_array_equal(t.numpy(), reduce(stacked).astype(dt), err_msg=str(op))
        t = mg.tensor(value(rank, dt))  # async: the result lands on wait()
        work = dist.all_reduce(t, op=op, async_op=True)
        assert work.wait()
        np.testing.assert_array_equal(t.numpy(), reduce(stacked).astype(dt))
    t = mg.tensor(value(rank, dt))
    dist.broadcast(t, src=world - 1)
    np.testing.assert_array_equal(t.numpy(), stacked[world - 1])
    outs = [mg.zeros(base.shape, dtype=dt) for _ in range(world)]
    dist.all_gather(outs, mg.tensor(value(rank, dt)))
    for r in range(world):
        np.testing.assert_array_equal(outs[r].numpy(), stacked[r])
    stacked_out = mg.zeros((world,) + base.shape, dtype=dt)
    dist.all_gather_into_tensor(stacked_out, mg.tensor(value(rank, dt)))
    np.testing.assert_array_equal(stacked_out.numpy(), stacked)
    concat_out = mg.zeros((world * 2, 3), dtype=dt)
    dist.all_gather_into_tensor(concat_out, mg.tensor(value(rank, dt)))
    np.testing.assert_array_equal(concat_out.numpy(), np.concatenate(list(stacked)))
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX):
        # rank r's input list: world tensors, piece i = value(r) + i
        pieces = [mg.tensor(value(rank, dt) + i) for i in range(world)]
        out = mg.zeros(base.shape, dtype=dt)
        dist.reduce_scatter(out, pieces, op=op)
        want = expected[op](np.stack([value(r, dt) + rank for r in range(world)]))
        np.testing.assert_array_equal(out.numpy(), want.astype(dt))
        out2 = mg.zeros(base.shape, dtype=dt)
        dist.reduce_scatter_tensor(out2, mg.stack(pieces), op=op)
        np.testing.assert_array_equal(out2.numpy(), want.astype(dt))

# async collectives whose host buffers are made for the call (a non-contiguous tensor's
# packed copy here; every GPU tensor's host copy) keep them alive until wait(): mpi4py's
# non-blocking calls hold no reference, and memory freed early is reused while MPI reads it
group = default_group()
send, recv = np.full(4, rank + 1.0), np.empty(4)
sent = weakref.ref(send)
pending = group.all_reduce(send, recv, dist.ReduceOp.SUM)
del send
gc.collect()
assert sent() is not None, "the send buffer was freed before the collective finished"
group.wait(pending)
del pending
assert sent() is None, "the send buffer outlived its collective"
np.testing.assert_array_equal(recv, np.full(4, world * (world + 1) / 2))
for n in (3, 100_000):
    if rank == world - 1:
        time.sleep(0.2)  # the others' calls are still in flight when they scribble
    wide = mg.tensor(np.full((n, 2), rank + 1.0))
    column = wide[:, 0]
    works = [dist.all_reduce(column, async_op=True)]
    scattered = mg.zeros(n)
    works.append(dist.reduce_scatter(scattered, [mg.full((n,), rank + 1.0)] * world,
                                     async_op=True))
    scribbles = [np.full(k, 1e300) for k in (n, world * n) for _ in range(20)]
    for work in works:
        work.wait()
    np.testing.assert_array_equal(column.numpy(), np.full(n, world * (world + 1) / 2))
    np.testing.assert_array_equal(scattered.numpy(), np.full(n, world * (world + 1) / 2))

# in place on a leaf that requires grad: identity, dtype and flag kept
p = mg.tensor(value(rank, "float64"), requires_grad=True)
alias = p
dist.all_reduce(p, op=dist.ReduceOp.AVG)
assert alias is p and p.requires_grad
np.testing.assert_allclose(p.detach().numpy(), everyone["float64"].mean(0))

# errors that name what is wrong
for call, message in [
        (lambda: dist.all_reduce(mg.tensor([1, 2]), op=dist.ReduceOp.AVG),
         "AVG needs a floating-point tensor, got int64"),
        (lambda: dist.all_reduce(mg.tensor([1.0]), op="sum"), "must be a .*ReduceOp"),
        (lambda: dist.all_gather([mg.zeros(2)], mg.zeros(2)),
         f"has 1 tensors but the world size is {world}"),
        (lambda: dist.all_gather([mg.zeros(3)] * world, mg.zeros(2)),
         r"tensor_list\[0\] is \(3,\)"),
        (lambda: dist.broadcast(mg.zeros(2), src=world), f"src={world} is not a rank"),
        (lambda: dist.all_gather_into_tensor(mg.zeros(5), mg.zeros(2)), "cannot hold"),
        (lambda: dist.init_process_group("mpi"), "twice")]:
    try:
        call()
    except (TypeError, ValueError, RuntimeError) as exc:
        assert re.search(message, str(exc)), (message, str(exc))
    else:
        raise AssertionError(f"no error for {message}")

objs = [None] * world
dist.all_gather_object(objs, {"rank": rank})
assert objs == [{"rank": r} for r in range(world)]
dist.barrier()
dist.destroy_process_group()
assert not dist.is_initialized()
try:
    dist.get_rank()
except RuntimeError as exc:
    assert "not initialized" in str(exc)
try:
    dist.init_process_group("gloo")
except ValueError as exc:
    assert "unknown backend 'gloo'; choose one of ('mpi', 'nccl')" in str(exc), exc
print(f"PASS collectives rank {rank}")
