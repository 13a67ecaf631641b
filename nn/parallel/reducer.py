"""Gradient averaging in buckets, driven by the parameters' gradient hooks.

Parameters are grouped, in reverse order of registration (roughly the order their
gradients arrive in backward), into buckets of at most ``bucket_cap_mb`` (one
parameter per bucket at the least, one dtype and device per bucket). Each
iteration a :class:`Round` collects every parameter's local gradient (its ``.grad``
so far plus this backward's, so ``no_sync`` accumulation is included) as its hook
fires; a bucket whose gradients are all in is flattened and its average started at
once, non-blocking, while the remaining hooks run. Buckets start in index order on
every rank, whatever order the hooks fire in, because MPI and NCCL need every rank
to issue collectives in the same order. The last hook waits for all of them and
writes the averages into ``.grad``.

A leaf's hook fires once per backward, on its summed gradient (the engine runs it
as soon as no node still to run contributes to the leaf), so a weight used at every
time step is reduced once, and early buckets average while backward goes on.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import minigrad as mg
import minigrad.distributed as dist

__all__ = ["assign_buckets", "Round"]


def assign_buckets(params: Sequence[Any], cap_bytes: float) -> List[List[int]]:
    """Indices into ``params``, grouped into buckets: walk the parameters from the last
    one, start a new bucket when the next one would pass ``cap_bytes`` or has another
    dtype or device."""
    buckets: List[List[int]] = []
    size = 0.0
    for i in reversed(range(len(params))):
        p = params[i]
        nbytes = p.numel() * p.dtype.itemsize
        last = params[buckets[-1][0]] if buckets else None
        if last is None or size + nbytes > cap_bytes or last.dtype != p.dtype or \
                last.device != p.device:
            buckets.append([])
            size = 0.0
        buckets[-1].append(i)
        size += nbytes
    return buckets


class Round:
    """One iteration's reduction: which gradients are in, which buckets are started."""

    def __init__(self, params: Sequence[Any], names: Sequence[str],
                 buckets: List[List[int]]) -> None:
        self.params, self.names, self.buckets = params, names, buckets
        self.bucket_of = {i: b for b, members in enumerate(buckets) for i in members}
        self.local: List[Optional[Any]] = [None] * len(params)  # until its bucket starts
        self.arrived_flags = [False] * len(params)
        self.missing = [len(members) for members in buckets]
        self.flat: List[Optional[Any]] = [None] * len(buckets)
        self.works: List[Any] = []
        self.next_bucket = 0
        self.arrived = 0           # parameters whose gradient is in
        self.hooked = 0            # of those, how many came through a hook
        self.used: Optional[Any] = None   # per parameter: 1 where some rank used it
        self.used_work: Any = None
        self.done = False

    def mark_unused(self, reachable: set) -> None:
        """``find_unused_parameters``: the parameters the forward's graph does not reach
        contribute their ``.grad`` so far (or zeros) now, and every rank learns which
        parameters any rank used (a parameter no rank used keeps ``.grad`` as it was)."""
        flags = [1 if id(p) in reachable else 0 for p in self.params]
        self.used = mg.tensor(flags, dtype=mg.int32)
        self.used_work = dist.all_reduce(self.used, async_op=True)
        for i, p in enumerate(self.params):
            if not flags[i]:
                self.arrive(i, p.grad if p.grad is not None else mg.zeros_like(p))

    def hook(self, i: int, grad: Any) -> Optional[Any]:
        """Parameter ``i``'s gradient from this backward; returns what the engine should
        accumulate into ``.grad`` (None: the gradient as it is)."""
        p = self.params[i]
        if self.done or self.arrived_flags[i]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter '{self.names[i]}' got a gradient twice in "
                "one iteration (a second backward through the same forward, or a use of the "
                "parameter outside the module's forward); run the forward again for each "
                "backward, or accumulate inside no_sync()")
        self.hooked += 1
        with mg.no_grad():
            self.arrive(i, grad if p.grad is None else p.grad + grad)
        if self.arrived < len(self.params):
            return None
        self.finish(skip=i)
        p.grad = None  # the engine stores the returned average as the new .grad
        return self.average(i)

    def arrive(self, i: int, local: Any) -> None:
        self.local[i] = local
        self.arrived_flags[i] = True
        self.arrived += 1
        b = self.bucket_of[i]
        self.missing[b] -= 1
        for w in self.works:  # let MPI make progress on what is in flight
            w.is_completed()
        while self.next_bucket < len(self.buckets) and self.missing[self.next_bucket] == 0:
            self.start(self.next_bucket)
            self.next_bucket += 1

    def start(self, b: int) -> None:
        members = self.buckets[b]
        with mg.no_grad():
            flat = mg.cat([self.local[i].reshape(-1) for i in members])
        for i in members:
            self.local[i] = None
        self.flat[b] = flat
        self.works.append(dist.all_reduce(flat, op=dist.ReduceOp.AVG, async_op=True))

    def average(self, i: int) -> Any:
        """Parameter ``i``'s slice of its bucket's averaged buffer, in its shape."""
        members = self.buckets[self.bucket_of[i]]
        offset = 0
        for j in members:
            if j == i:
                break
            offset += self.params[j].numel()
        p = self.params[i]
        return self.flat[self.bucket_of[i]][offset:offset + p.numel()].reshape(tuple(p.shape))

    def finish(self, skip: int) -> None:
        """Wait for every bucket and write the averages into ``.grad`` (all but ``skip``)."""
        for w in self.works:
            w.wait()
        if self.used_work is not None:
            self.used_work.wait()
        used = None if self.used is None else self.used.tolist()
        for i, p in enumerate(self.params):
            if i == skip or (used is not None and not used[i] and p.grad is None):
                continue
            p.grad = self.average(i)
        self.done = True

    def unfinished(self) -> List[str]:
        """Names of the parameters whose gradient never came, if a backward began."""
        if self.done or self.hooked == 0:
            return []
        return [n for n, arrived in zip(self.names, self.arrived_flags) if not arrived]

    def drain(self) -> None:
        """A forward that had no backward: let its started collectives complete."""
        for w in self.works:
            w.wait()
        if self.used_work is not None:
            self.used_work.wait()
