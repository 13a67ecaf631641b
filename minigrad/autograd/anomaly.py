"""Anomaly detection: find the forward operation whose backward produced nan or inf.

A nan in ``.grad`` says nothing about where it came from. With detection on, every
recorded node keeps the user's stack at the moment its forward ran, and backward
checks each node's gradients as they are produced: the first rule that yields nan or
inf raises an error naming the primitive and showing that forward stack.

Off (the default) it costs one flag check per recorded operation and one per node
visited by backward. On, every recorded operation captures its stack and every
gradient is scanned (a device-to-host sync on a GPU): a debugging tool, not a mode
to train in. The switch is global, as PyTorch's is.
"""
from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Any, Callable, Optional, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _AnomalyMode:
    """The global switch (read by Primitive.__call__ and by backward)."""

    enabled = False     # record each node's forward stack
    check_nan = True    # and check backward's gradients for nan/inf


anomaly_mode = _AnomalyMode()

# Frames from the engine's own files are not the user's code: dropped from the traces.
# minigrad.nn lives in its own folder in a source checkout and is kept either way.
_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NN_DIR = _ENGINE_DIR + "nn" + os.sep


def is_anomaly_enabled() -> bool:
    """Whether backward is checked for nan/inf and forward stacks are recorded."""
    return anomaly_mode.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether backward checks gradients for nan/inf (read once per backward call)."""
    return anomaly_mode.enabled and anomaly_mode.check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off; a call, a context manager or a decorator
    (``mg.autograd.set_detect_anomaly(True)``, as in PyTorch)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.previous = (anomaly_mode.enabled, anomaly_mode.check_nan)
        self.state = (bool(mode), bool(check_nan))
        anomaly_mode.enabled, anomaly_mode.check_nan = self.state

    def __enter__(self) -> None:
        anomaly_mode.enabled, anomaly_mode.check_nan = self.state

    def __exit__(self, *exc: Any) -> None:
        anomaly_mode.enabled, anomaly_mode.check_nan = self.previous

    def __call__(self, func: F) -> F:
        state = self.state

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = (anomaly_mode.enabled, anomaly_mode.check_nan)
            anomaly_mode.enabled, anomaly_mode.check_nan = state
            try:
                return func(*args, **kwargs)
            finally:
                anomaly_mode.enabled, anomaly_mode.check_nan = previous

        return wrapper  # type: ignore[return-value]


class detect_anomaly(set_detect_anomaly):
    """Detection on inside a ``with`` block or a decorated function (``@detect_anomaly()``
    or a bare ``@detect_anomaly``); the previous state comes back afterwards."""

    def __new__(cls, func: Optional[Callable] = None, check_nan: bool = True) -> Any:
        switch = super().__new__(cls)
        if callable(func):  # a bare decorator: @detect_anomaly
            switch.__init__(check_nan=check_nan)
            return switch(func)
        return switch

    def __init__(self, func: Optional[Callable] = None, check_nan: bool = True) -> None:
        # Nothing changes until the block is entered or the function called.
        self.previous = (anomaly_mode.enabled, anomaly_mode.check_nan)
        self.state = (True, bool(check_nan))

    def __enter__(self) -> None:
        self.previous = (anomaly_mode.enabled, anomaly_mode.check_nan)
        anomaly_mode.enabled, anomaly_mode.check_nan = self.state


def forward_trace() -> traceback.StackSummary:
    """The caller's stack without the engine's own frames (source lines read lazily)."""
    frames = traceback.StackSummary.extract(
        traceback.walk_stack(sys._getframe(1)), lookup_lines=False)
    kept = [f for f in reversed(frames)
            if not f.filename.startswith(_ENGINE_DIR) or f.filename.startswith(_NN_DIR)]
    return traceback.StackSummary.from_list(kept)


def _where(node: Any) -> str:
    trace = None if node.extra is None else node.extra.trace
    if trace is None:
        return ("No forward traceback was recorded for it: it ran before anomaly detection "
                "was turned on.")
    return ("Traceback of the forward call that created it (most recent call last):\n"
            + "".join(trace.format()).rstrip())


def check_gradients(node: Any, gradients: Callable[..., tuple], xp: Any, g: Any, out: Any,
                    args: Any, params: dict) -> tuple:
    """Compute ``node``'s input gradients with ``gradients`` and refuse nan/inf in them.

    An error raised by a rule itself gets the forward traceback added as a note.
    """
    name = node.prim.name
    try:
        grads = gradients(node, xp, g, out, args, params)
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"Error in the backward of '{name}'. {_where(node)}")
        raise
    backend = node.backend
    for i, grad in enumerate(grads):
        array = getattr(grad, "_data", grad)  # a Tensor when create_graph=True
        if not backend.is_array(array):
            continue  # None, or a Function's per-output gradients (checked where made)
        if array.dtype.kind not in "fc" or bool(backend.isfinite(array).all()):
            continue
        kind = "nan" if bool(backend.isnan(array).any()) else "inf"
        raise RuntimeError(
            f"Function '{name}' returned {kind} values in its {i}th output (the gradient "
            f"for its input {i}).\n{_where(node)}")
    return grads
