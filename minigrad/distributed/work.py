"""``Work``: the handle an ``async_op=True`` collective returns, as in PyTorch.

A collective is started by the backend and finished by ``wait()``, which runs the
step that makes the result visible in the caller's tensor (a copy back, a division
for AVG). Until then the tensor must not be read or written.
"""
from __future__ import annotations

from typing import Callable, Optional

__all__ = ["Work"]


class Work:
    """A started collective: ``wait()`` blocks until it is done and its tensor holds the
    result; ``is_completed()`` asks without blocking (and helps MPI make progress)."""

    def __init__(self, wait: Callable[[], None], finish: Optional[Callable[[], None]] = None,
                 test: Optional[Callable[[], bool]] = None) -> None:
        self._wait, self._finish, self._test = wait, finish, test
        self._done = False

    def is_completed(self) -> bool:
        if self._done:
            return True
        return bool(self._test()) if self._test is not None else False

    def wait(self, timeout: Optional[float] = None) -> bool:
        if not self._done:
            self._wait()
            if self._finish is not None:
                self._finish()
            self._done = True
        return True
