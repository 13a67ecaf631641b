"""Whether operations are recorded on the tape (``no_grad`` / ``enable_grad``)."""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Optional, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class set_grad_enabled:
    """Turn recording on or off; usable as a call, a context manager or a decorator
    (as a decorator it changes nothing until the decorated function runs)."""

    def __init__(self, mode: bool) -> None:
        self.previous = _mode.enabled
        self.mode = bool(mode)
        _mode.enabled = self.mode

    def __enter__(self) -> None:
        _mode.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self.previous

    def __call__(self, func: F) -> F:
        _mode.enabled = self.previous  # undo the call in __init__: only the function runs in mode
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _mode.enabled
            _mode.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                _mode.enabled = previous

        return wrapper  # type: ignore[return-value]


class _Switch(set_grad_enabled):
    """A fixed mode: ``with cls():``, ``@cls()`` or a bare ``@cls`` decorator."""

    mode: bool

    def __new__(cls, func: Optional[Callable] = None) -> Any:
        switch = super().__new__(cls)
        if func is not None:  # used as a bare decorator: @no_grad
            switch.__init__()
            return switch(func)
        return switch

    def __init__(self, func: Optional[Callable] = None) -> None:
        self.previous = _mode.enabled

    def __enter__(self) -> None:
        self.previous = _mode.enabled
        _mode.enabled = self.mode


class no_grad(_Switch):
    """Record nothing: for inference and for optimizer updates."""

    mode = False


class enable_grad(_Switch):
    """Record again inside a ``no_grad`` region."""

    mode = True


class inference_mode(set_grad_enabled):
    """PyTorch's ``inference_mode``: here exactly ``no_grad`` (or, with ``mode=False``,
    ``enable_grad``). PyTorch also skips version counting inside it for speed; minigrad's
    ``no_grad`` already records nothing, and tensors made inside stay usable outside.
    ``with inference_mode():``, ``@inference_mode()`` or a bare ``@inference_mode``."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # used as a bare decorator
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.previous = _mode.enabled
        self.mode = not mode

    def __enter__(self) -> None:
        self.previous = _mode.enabled
        _mode.enabled = self.mode
