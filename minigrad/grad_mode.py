"""Whether operations are recorded on the tape (``no_grad`` / ``enable_grad``)."""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class set_grad_enabled:
    """Turn recording on or off; usable as a call, a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        self.previous = _mode.enabled
        self.mode = bool(mode)
        _mode.enabled = self.mode

    def __enter__(self) -> None:
        _mode.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self.previous

    def __call__(self, func: F) -> F:
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


class no_grad(set_grad_enabled):
    """Record nothing: for inference and for optimizer updates."""

    def __init__(self) -> None:
        self.previous = _mode.enabled
        self.mode = False

    def __enter__(self) -> None:
        self.previous = _mode.enabled
        _mode.enabled = False


class enable_grad(set_grad_enabled):
    """Record again inside a ``no_grad`` region."""

    def __init__(self) -> None:
        self.previous = _mode.enabled
        self.mode = True

    def __enter__(self) -> None:
        self.previous = _mode.enabled
        _mode.enabled = True
