"""Operations whose results carry no gradient: comparisons, logic, arg-reductions.

They return plain tensors and are never recorded, so they are not primitives.
"""
from typing import Any, Callable

from ..backends import current_backend


def _unrecorded(name: str) -> Callable[..., Any]:
    def apply(*inputs: Any, **params: Any) -> Any:
        from ..tensor import Tensor
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
            else:
                args.append(value)
        backend = backend or current_backend()
        return Tensor._wrap(getattr(backend, name)(*args, **params), backend)

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
