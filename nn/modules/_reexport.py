"""The lookup behind every ``minigrad.nn.modules.<name>``: PyTorch's class names served
from ``minigrad.nn`` when asked (PEP 562), so a class added to ``minigrad.nn`` later
appears in its namespace module without an edit here."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def reexport(module_name: str, names: tuple) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """A module-level ``__getattr__`` and ``__dir__`` serving ``names`` from minigrad.nn;
    ``__all__`` lists those minigrad has now (so ``import *`` works)."""

    def available() -> list:
        nn = importlib.import_module("minigrad.nn")
        return [n for n in names if hasattr(nn, n)]

    def __getattr__(name: str) -> Any:
        if name == "__all__":
            return available()
        if name in names:
            nn = importlib.import_module("minigrad.nn")
            if hasattr(nn, name):
                return getattr(nn, name)
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}: "
                                 f"PyTorch has it there, minigrad.nn has no {name}")
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list:
        return available()

    return __getattr__, __dir__
