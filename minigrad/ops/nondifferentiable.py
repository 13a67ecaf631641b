"""Operations whose results carry no gradient: comparisons, logic, arg-reductions.

They return plain tensors and are never recorded, so they are not primitives.
"""
from numbers import Number
from typing import Any, Callable

from ..backends import current_backend
from ..primitive import renamed


def _unrecorded(name: str) -> Callable[..., Any]:
    def apply(*inputs: Any, **params: Any) -> Any:
        backend = None
        args = []
        for value in inputs:
            if isinstance(value, Tensor):
                if backend is None:
                    backend = value._backend
                elif value._backend is not backend:
                    raise RuntimeError(
                        "Expected all tensors to be on the same device, but found at least "
                        f"two devices, {backend.device} and {value._backend.device}! "
                        f"(when checking arguments for {name})")
                args.append(value._data)
            elif isinstance(value, (Number, list, tuple)) or hasattr(value, "dtype"):
                args.append(value)
            else:
                raise TypeError(f"{name}: expected tensors or numbers as inputs, got "
                                f"{type(value).__name__} {value!r}")
        if backend is None:  # numbers only: as tensors, in mg.tensor's dtypes
            backend = current_backend()
            args = [tensor(a)._data for a in args]
        args = [backend.operand(a) for a in args]  # host arrays: to the tensors' device
        try:
            return Tensor._wrap(getattr(backend, name)(*args, **params), backend)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            raise renamed(name, exc) from exc

    apply.__name__ = name
    apply.__doc__ = f"NumPy's ``{name}`` on tensors (no gradient)."
    return apply


less = _unrecorded("less")
less_equal = _unrecorded("less_equal")
greater = _unrecorded("greater")
greater_equal = _unrecorded("greater_equal")
equal = _unrecorded("equal")
not_equal = _unrecorded("not_equal")
logical_and = _unrecorded("logical_and")
logical_or = _unrecorded("logical_or")
logical_not = _unrecorded("logical_not")
bitwise_and = _unrecorded("bitwise_and")
bitwise_or = _unrecorded("bitwise_or")
bitwise_xor = _unrecorded("bitwise_xor")
invert = _unrecorded("invert")
isfinite = _unrecorded("isfinite")
isnan = _unrecorded("isnan")
isinf = _unrecorded("isinf")
sign = _unrecorded("sign")
floor = _unrecorded("floor")
ceil = _unrecorded("ceil")
round = _unrecorded("round")
argmax = _unrecorded("argmax")
argmin = _unrecorded("argmin")
argsort = _unrecorded("argsort")


from ..tensor import Tensor, tensor  # noqa: E402  (defined before the ops load)
