"""The exporter's errors, named as PyTorch's ``torch.onnx.errors``.

Both are RuntimeErrors, so code that catches what ``torch.onnx.export`` raises keeps working.
"""
from __future__ import annotations

from typing import Any

__all__ = ["OnnxExporterError", "UnsupportedOperatorError", "require_onnx"]


class OnnxExporterError(RuntimeError):
    """The model cannot be written as ONNX as traced (the message says which operation and
    why)."""


class UnsupportedOperatorError(OnnxExporterError):
    """A recorded primitive (or module) has no ONNX mapping."""


def require_onnx() -> Any:
    """The ``onnx`` package, imported on first use: the core of minigrad never needs it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("minigrad.onnx.export needs the onnx package, an optional extra: "
                          "pip install 'minigrad[formats]' (or pip install onnx)") from None
    return onnx
