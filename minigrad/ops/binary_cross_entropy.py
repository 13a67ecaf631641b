"""Binary cross-entropy of probabilities as one primitive, so that its gradient is PyTorch's.

The loss is -[y·log x + (1 - y)·log(1 - x)] with each logarithm floored at -100, as PyTorch
floors it, so a probability of exactly 0 or 1 gives a finite loss. Composed from floored
logarithms, its gradient would be the floors' own: 0 from a floored term. PyTorch's backward
is one formula instead, (x - y) / max(x (1 - x), 1e-12): where a term is floored (a sigmoid
saturated on the wrong side) it still pushes back, with ±1e12, and where the input already
equals a target of 0 or 1 it is 0. A PyTorch program trains the same here only with the same
formula, so this rule is it. The target's gradient is PyTorch's too: -logit(x), unfloored
(±inf where x is 0 or 1).
"""
from __future__ import annotations

from typing import Any

from ..primitive import primitive

LOG_FLOOR = -100.0
EPSILON = 9.999999960041972e-13  # PyTorch's floor under x (1 - x): 1e-12 as a float32


def _floored(xp: Any, logs: Any, defined: Any) -> Any:
    return xp.maximum(xp.where(defined, logs, LOG_FLOOR), LOG_FLOOR)


def _log(xp: Any, x: Any) -> Any:
    """max(log x, -100), never evaluating log 0 (no -inf, no NumPy warning)."""
    defined = x > 0
    return _floored(xp, xp.log(xp.where(defined, x, 1.0)), defined)


def _log_complement(xp: Any, x: Any) -> Any:
    """max(log(1 - x), -100), as ``log1p(-x)`` (exact for tiny x, as PyTorch's)."""
    defined = x < 1
    return _floored(xp, xp.log1p(-xp.where(defined, x, 0.0)), defined)


def _negative_logit(xp: Any, x: Any) -> Any:
    """-log(x / (1 - x)), +inf at x = 0 and -inf at 1, without NumPy's warnings."""
    inside = (x > 0) & (x < 1)
    odds = xp.where(inside, x, 0.5) / xp.where(inside, 1 - x, 0.5)
    return xp.where(inside, -xp.log(odds), xp.where(x > 0, -float("inf"), float("inf")))


binary_cross_entropy = primitive(
    "binary_cross_entropy",
    lambda xp, x, y: -(y * _log(xp, x) + (1 - y) * _log_complement(xp, x)),
    lambda xp, g, out, x, y: g * (x - y) / xp.maximum((1 - x) * x, EPSILON),
    lambda xp, g, out, x, y: g * _negative_logit(xp, x),
    saves_output=False)
