"""Matrix products (NumPy's matmul: 1-d, 2-d and broadcast batches)."""
from numbers import Number
from typing import Any

from ..backends.threads import tick
from ..primitive import primitive


def _matmul_grad_a(xp, g, y, a, b):
    if a.ndim == 1 and b.ndim == 1:       # inner product
        return g * b
    if b.ndim == 1:                       # (..., k) @ (k,) -> (...): outer product with b
        return xp.expand_dims(g, -1) * b
    if a.ndim == 1:                       # (k,) @ (..., k, n) -> (..., n)
        return xp.squeeze(xp.matmul(xp.expand_dims(g, -2), xp.swapaxes(b, -1, -2)), -2)
    return xp.matmul(g, xp.swapaxes(b, -1, -2))


def _matmul_grad_b(xp, g, y, a, b):
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:                       # (k,) @ (..., k, n): outer product with a
        return xp.expand_dims(a, -1) * xp.expand_dims(g, -2)
    if b.ndim == 1:                       # (..., m, k) @ (k,) -> (..., m)
        return xp.squeeze(xp.matmul(xp.swapaxes(a, -1, -2), xp.expand_dims(g, -1)), -1)
    return xp.matmul(xp.swapaxes(a, -1, -2), g)


def _accumulate_weight(total, g, y, a, b):
    """A 2-d weight reused over many products gets its a.T @ g terms batched into few GEMMs."""
    if a.ndim != 2 or g.ndim != 2 or not a.dtype == g.dtype == total.dtype:
        return False
    total.add_outer(a, g)
    return True


_matmul = primitive("matmul", lambda xp, a, b: xp.matmul(a, b), _matmul_grad_a, _matmul_grad_b,
                    saves=(0, 1), saves_output=False)
_matmul.accumulators = {1: _accumulate_weight}
_matmul.promotes = (0, 1)


def matmul(a: Any, b: Any) -> Any:
    """Matrix product; shape mismatches name both shapes."""
    for operand in (a, b):
        if not hasattr(operand, "shape") and not isinstance(operand, Number):
            raise TypeError(f"matmul: expected tensors as operands, got "
                            f"{type(operand).__name__} {operand!r}")
    a_shape, b_shape = tuple(getattr(a, "shape", ())), tuple(getattr(b, "shape", ()))
    if not a_shape or not b_shape:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes "
                         f"{a_shape} and {b_shape}")
    k_a = a_shape[-1]
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a_shape} and {b_shape} are not aligned "
                         f"({k_a} != {k_b})")
    tick()  # BLAS threads follow the machine's load (backends/threads.py)
    return _matmul(a, b)


def _addmm_forward(xp, c, a, b):
    return xp.matmul_plus(c, a, b)


def _addmm_grad_a(xp, g, y, c, a, b):
    return xp.matmul(g, b.T)


def _addmm_grad_b(xp, g, y, c, a, b):
    return xp.matmul(a.T, g)


def _accumulate_addmm_weight(total, g, y, c, a, b):
    return _accumulate_weight(total, g, y, a, b)


_addmm = primitive("addmm", _addmm_forward, lambda xp, g, y, c, a, b: g, _addmm_grad_a,
                   _addmm_grad_b, saves=(1, 2), saves_output=False)
_addmm.accumulators = {2: _accumulate_addmm_weight}
_addmm.promotes = (0, 1, 2)


def addmm(input: Any, mat1: Any, mat2: Any) -> Any:
    """``input + mat1 @ mat2`` for 2-d ``mat1`` (m, k) and ``mat2`` (k, n), ``input``
    broadcastable to (m, n): one node and one temporary instead of two (as torch.addmm)."""
    a_shape, b_shape = tuple(getattr(mat1, "shape", ())), tuple(getattr(mat2, "shape", ()))
    if len(a_shape) != 2 or len(b_shape) != 2 or a_shape[1] != b_shape[0]:
        raise ValueError(f"addmm: needs matrices (m, k) and (k, n), got shapes {a_shape} and "
                         f"{b_shape}")
    tick()
    return _addmm(input, mat1, mat2)
