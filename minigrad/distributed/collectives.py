"""Collectives on Tensors, in place, with ``torch.distributed``'s signatures.

Each call hands contiguous arrays to the backend (host arrays for MPI, device arrays
for NCCL) and writes the result back into the caller's tensor with ``copy_`` under
``no_grad``: the tensor keeps its identity, device and dtype, and the engine sees the
write (a tensor saved for backward and then reduced in place is reported, not silently
wrong). With ``async_op=True`` the call returns a :class:`Work` at once and the result
lands on ``wait()``. Collectives are not recorded on the tape (as in PyTorch).
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy

import minigrad as mg
from .process_group import _check_group
from .reduce_op import ReduceOp
from .work import Work

__all__ = ["all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
           "reduce_scatter_tensor", "all_gather_object", "broadcast_object_list"]


def _op(op: Any, tensor: Any, name: str) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a minigrad.distributed.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and tensor.dtype.kind not in "fc":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {tensor.dtype}")
    return op


def _as_tensor(array: Any, like: Any) -> Any:
    """``array`` (host or device) as a Tensor on ``like``'s device."""
    if isinstance(array, numpy.ndarray):
        out = mg.from_numpy(array)
        return out if like.device.type == "cpu" else out.to(like.device)
    return mg.tensor(array, device=like.device)


def _write(tensor: Any, array: Any) -> None:
    with mg.no_grad():
        tensor.copy_(_as_tensor(array, tensor).reshape(tuple(tensor.shape)))


def _finish(group: Any, request: Any, finish: Any, async_op: bool) -> Optional[Work]:
    work = Work(lambda: group.wait(request), finish, lambda: group.test(request))
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Any, op: ReduceOp = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Optional[Work]:
    """Every rank's ``tensor`` becomes the reduction (``op``) of all ranks' tensors."""
    g = _check_group(group)
    op = _op(op, tensor, "all_reduce")
    send = g.buffer(tensor)
    recv = g.empty(send.shape, send)

    def finish() -> None:
        if op is ReduceOp.AVG:
            recv[...] /= g.size
        _write(tensor, recv)
    return _finish(g, g.all_reduce(send, recv, op), finish, async_op)


def broadcast(tensor: Any, src: int, group: Any = None, async_op: bool = False) -> Optional[Work]:
    """Every rank's ``tensor`` becomes rank ``src``'s."""
    g = _check_group(group)
    if not 0 <= src < g.size:
        raise ValueError(f"broadcast: src={src} is not a rank of a world of size {g.size}")
    buf = g.buffer(tensor) if g.rank == src else g.empty(tuple(tensor.shape), tensor)
    finish = None if g.rank == src else (lambda: _write(tensor, buf))
    return _finish(g, g.broadcast(buf, src), finish, async_op)


def _check_like(name: str, what: str, tensors: Sequence[Any], like: Any, size: int) -> None:
    if len(tensors) != size:
        raise ValueError(f"{name}: {what} has {len(tensors)} tensors but the world size is {size}")
    for i, t in enumerate(tensors):
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(f"{name}: {what}[{i}] is {tuple(t.shape)} {t.dtype} but must match "
                             f"{tuple(like.shape)} {like.dtype}")


def _stacked_shape(name: str, big: Any, small: Any, size: int) -> tuple:
    """The (size, *small.shape) view of ``big``: it must be ``size`` copies of ``small``
    stacked (a new first dim) or concatenated (along dim 0)."""
    stacked = (size,) + tuple(small.shape)
    concat = small.ndim > 0 and \
        tuple(big.shape) == (size * small.shape[0],) + tuple(small.shape[1:])
    if (tuple(big.shape) != stacked and not concat) or big.dtype != small.dtype:
        raise ValueError(f"{name}: a tensor of {tuple(big.shape)} {big.dtype} cannot hold {size} "
                         f"ranks' {tuple(small.shape)} {small.dtype} (stacked or along dim 0)")
    return stacked


def all_gather(tensor_list: List[Any], tensor: Any, group: Any = None,
               async_op: bool = False) -> Optional[Work]:
    """``tensor_list[i]`` becomes rank i's ``tensor``."""
    g = _check_group(group)
    _check_like("all_gather", "tensor_list", tensor_list, tensor, g.size)
    send = g.buffer(tensor)
    recv = g.empty((g.size,) + tuple(tensor.shape), send)

    def finish() -> None:
        for i, out in enumerate(tensor_list):
            _write(out, recv[i])
    return _finish(g, g.all_gather(send, recv), finish, async_op)


def all_gather_into_tensor(output_tensor: Any, input_tensor: Any, group: Any = None,
                           async_op: bool = False) -> Optional[Work]:
    """``output_tensor`` becomes all ranks' ``input_tensor``, in rank order, stacked
    ((world, ...)) or concatenated along dim 0, whichever shape it has."""
    g = _check_group(group)
    send = g.buffer(input_tensor)
    recv = g.empty(_stacked_shape("all_gather_into_tensor", output_tensor, input_tensor, g.size),
                   send)
    return _finish(g, g.all_gather(send, recv), lambda: _write(output_tensor, recv), async_op)


def reduce_scatter(output: Any, input_list: List[Any], op: ReduceOp = ReduceOp.SUM,
                   group: Any = None, async_op: bool = False) -> Optional[Work]:
    """``output`` on rank i becomes the reduction over ranks of their ``input_list[i]``."""
    g = _check_group(group)
    op = _op(op, output, "reduce_scatter")
    _check_like("reduce_scatter", "input_list", input_list, output, g.size)
    with mg.no_grad():
        send = g.buffer(mg.stack([t.detach() for t in input_list]))
    return _reduce_scatter(g, send, output, op, async_op)


def reduce_scatter_tensor(output: Any, input: Any, op: ReduceOp = ReduceOp.SUM,
                          group: Any = None, async_op: bool = False) -> Optional[Work]:
    """As :func:`reduce_scatter`, with the inputs stacked or concatenated in one tensor."""
    g = _check_group(group)
    op = _op(op, output, "reduce_scatter_tensor")
    _stacked_shape("reduce_scatter_tensor", input, output, g.size)
    return _reduce_scatter(g, g.buffer(input), output, op, async_op)


def _reduce_scatter(g: Any, send: Any, output: Any, op: ReduceOp,
                    async_op: bool) -> Optional[Work]:
    recv = g.empty(tuple(output.shape), send)

    def finish() -> None:
        if op is ReduceOp.AVG:
            recv[...] /= g.size
        _write(output, recv)
    return _finish(g, g.reduce_scatter(send, recv, op), finish, async_op)


def all_gather_object(object_list: List[Any], obj: Any, group: Any = None) -> None:
    """``object_list[i]`` becomes rank i's ``obj`` (any picklable object)."""
    g = _check_group(group)
    if len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} entries but the "
                         f"world size is {g.size}")
    object_list[:] = g.all_gather_object(obj)


def broadcast_object_list(object_list: List[Any], src: int = 0, group: Any = None) -> None:
    """Every rank's ``object_list`` entries become rank ``src``'s."""
    g = _check_group(group)
    object_list[:] = g.broadcast_object(list(object_list), src)
