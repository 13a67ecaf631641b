"""``DistributedDataParallel``: one model replica per rank, gradients averaged in backward.

    dist.init_process_group("mpi")            # mpiexec -n 4 python train.py
    model = nn.parallel.DistributedDataParallel(model)
    loss_fn(model(x_of_this_rank), y_of_this_rank).backward()   # .grad: the average
    optimizer.step()                           # every rank takes the same step

At construction every rank checks that all ranks built the same parameters and
buffers (names, shapes, dtypes), then takes rank 0's values, so replicas start equal
and, averaging the same gradients, stay equal. See :mod:`.reducer` for the buckets.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, List, Optional

import minigrad as mg
import minigrad.distributed as dist
from ..module import Module
from .reducer import Round, assign_buckets

__all__ = ["DistributedDataParallel"]


def _tensors_in(value: Any) -> Iterator[Any]:
    if isinstance(value, mg.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v)


def _reachable_leaves(output: Any) -> set:
    """ids of the leaf tensors the output's graph reaches (through ``grad_fn``)."""
    found, seen = set(), set()
    stack = []
    for t in _tensors_in(output):
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad:
            found.add(id(t))
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for upstream, _ in fn.next_functions:
            variable = getattr(upstream, "variable", None)
            if variable is not None:
                found.add(id(variable))
            elif upstream is not None:
                stack.append(upstream)
    return found


def _check_same_model(named: List[tuple]) -> None:
    """Refuse, on every rank, a model whose parameters or buffers differ from rank 0's."""
    mine = [(kind, name, tuple(t.shape), str(t.dtype)) for kind, name, t in named]
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    reference = {(kind, name): (shape, dtype) for kind, name, shape, dtype in everyone[0]}
    for rank, theirs in enumerate(everyone[1:], start=1):
        seen = {(kind, name): (shape, dtype) for kind, name, shape, dtype in theirs}
        for key in list(reference) + [k for k in seen if k not in reference]:
            kind, name = key
            if key not in seen or key not in reference:
                has, lacks = (0, rank) if key not in seen else (rank, 0)
                raise ValueError(f"DistributedDataParallel: {kind} '{name}' exists on rank {has} "
                                 f"but not on rank {lacks}; every rank must build the same model")
            if seen[key] != reference[key]:
                (shape, dtype), (shape0, dtype0) = seen[key], reference[key]
                raise ValueError(f"DistributedDataParallel: {kind} '{name}' is {shape} {dtype} on "
                                 f"rank {rank} but {shape0} {dtype0} on rank 0; every rank must "
                                 f"build the same model")


class DistributedDataParallel(Module):
    """Data parallelism over the default process group, with PyTorch's arguments.

    ``find_unused_parameters=True`` lets a forward leave some parameters out of the
    loss (found by walking the output's graph); ``broadcast_buffers`` re-sends rank 0's
    buffers before each forward; ``bucket_cap_mb`` sizes the gradient buckets.
    ``device_ids``/``output_device`` are accepted for PyTorch's signature: the module
    stays on the device it is on.
    """

    def __init__(self, module: Module, device_ids: Optional[list] = None,
                 output_device: Any = None, dim: int = 0, broadcast_buffers: bool = True,
                 process_group: Any = None, bucket_cap_mb: float = 25,
                 find_unused_parameters: bool = False, **kwargs: Any) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel needs the default process group: call "
                               "minigrad.distributed.init_process_group('mpi') first")
        if process_group is not None:
            raise ValueError("only the default process group (process_group=None) is supported")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        _check_same_model([("parameter", n, p) for n, p in module.named_parameters()] +
                          [("buffer", n, b) for n, b in module.named_buffers()])
        self._sync_from_rank0(list(module.parameters()) + list(module.buffers()))
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._buckets = assign_buckets(self._params, bucket_cap_mb * 1024 * 1024)
        self._round: Optional[Round] = None
        self._handles = [p.register_hook(self._hook_for(i)) for i, p in enumerate(self._params)]

    @staticmethod
    def _sync_from_rank0(tensors: List[Any]) -> None:
        if dist.get_world_size() > 1:
            for t in tensors:
                dist.broadcast(t, 0)

    def _hook_for(self, i: int) -> Any:
        def hook(grad: Any) -> Optional[Any]:
            return None if self._round is None else self._round.hook(i, grad)
        return hook

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        previous = self._round
        if previous is not None and not previous.done:
            missing = previous.unfinished()
            if missing:
                raise RuntimeError(
                    f"DistributedDataParallel: the previous backward gave no gradient to "
                    f"{missing}, so its gradients were not averaged; pass "
                    "find_unused_parameters=True if some parameters sit out of the loss")
            previous.drain()
        if self.broadcast_buffers:
            self._sync_from_rank0(list(self.module.buffers()))
        sync = mg.is_grad_enabled() and self.require_backward_grad_sync
        self._round = Round(self._params, self._names, self._buckets) if sync else None
        output = self.module(*inputs, **kwargs)
        if self._round is not None and self.find_unused_parameters:
            self._round.mark_unused(_reachable_leaves(output))
        return output

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forwards inside only accumulate ``.grad`` locally; the first synced backward
        after averages the accumulated sum."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous
