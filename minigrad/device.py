"""``mg.device``: where a tensor lives, spelled as PyTorch spells it.

A device is a ``str`` ("cpu", "cuda", "cuda:1"), so every ``t.device == "cpu"`` comparison
and every f-string keeps working, and it carries PyTorch's ``.type`` and ``.index``.
"""
from __future__ import annotations

import operator
from typing import Any, Optional

# Device types that mean something here: the CPU, the GPU, and any device a registered
# backend declares (a backend may run on a device of its own, e.g. a simulated one).
_known_types = {"cpu", "cuda"}


class device(str):
    """``device("cuda:0")``, ``device("cuda", 0)``, ``device("cpu")`` or ``device(0)``."""

    _type: str
    _index: Optional[int]

    def __new__(cls, type: Any, index: Any = None) -> "device":
        if isinstance(type, device) and index is None:
            return type
        kind, parsed = _parse(type)
        if parsed is not None and index is not None:
            raise ValueError(f"device {type!r} already has an index; "
                             f"cannot also pass index={index!r}")
        if kind not in _known_types:
            raise ValueError(f"unknown device {type!r}: expected one of "
                             f"{', '.join(repr(t) for t in sorted(_known_types))} "
                             "(optionally with an index, as in 'cuda:0')")
        return cls._make(kind, parsed if index is None else _as_index(index, type))

    @classmethod
    def _make(cls, kind: str, index: Optional[int]) -> "device":
        out = super().__new__(cls, kind if index is None else f"{kind}:{index}")
        out._type, out._index = kind, index
        return out

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> Optional[int]:
        return self._index

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type={self._type!r})"
        return f"device(type={self._type!r}, index={self._index})"

    def __reduce__(self) -> tuple:
        return (_restore, (str(self),))


def _restore(text: str) -> device:
    """Unpickle without the known-type check: the backend that made it may not exist yet."""
    return device._make(*_parse(text))


def _parse(spec: Any) -> tuple:
    """``"cuda:1"`` -> ("cuda", 1); ``"cpu"`` -> ("cpu", None); ``0`` -> ("cuda", 0)."""
    if isinstance(spec, str):
        kind, colon, number = spec.partition(":")
        return kind, (_as_index(number, spec) if colon else None)
    try:
        return "cuda", _as_index(spec, spec)
    except ValueError:
        raise TypeError(f"a device is a string such as 'cpu' or 'cuda:0', or a GPU index; "
                        f"got {spec!r} ({type(spec).__name__})") from None


def _as_index(value: Any, spec: Any) -> int:
    try:
        index = int(value) if isinstance(value, str) else operator.index(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid device index in {spec!r}: {value!r}") from None
    if index < 0:
        raise ValueError(f"device index must be non-negative, got {index} in {spec!r}")
    return index


def backend_device(spec: str) -> device:
    """The device of a backend; its type becomes a known device type (``mg.device`` accepts it)."""
    kind, index = _parse(spec)
    _known_types.add(kind)
    return device._make(kind, index)
