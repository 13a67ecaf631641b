"""``mg.autograd``: the engine's public face, as ``torch.autograd``.

``backward`` / ``grad`` run the tape (engine.py); ``Function`` defines new
differentiable operations without touching the primitive registry (function.py);
``functional`` computes Jacobians, Hessians and their products (functional.py);
``detect_anomaly`` finds the operation whose backward made a nan or inf
(anomaly.py). A tensor's ``grad_fn`` is the recorded node itself
(:class:`minigrad.primitive.Node`), with ``name()`` and ``next_functions``.
"""
from ..gradcheck import gradcheck, gradgradcheck
from ..primitive import AccumulateGrad, Node
from . import functional
from .anomaly import (detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled,
                      set_detect_anomaly)
from .engine import FREED_MESSAGE, backward, grad, run_backward, unbroadcast
from .function import Function, FunctionCtx

__all__ = ["backward", "grad", "Function", "FunctionCtx", "functional", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "Node", "AccumulateGrad", "gradcheck", "gradgradcheck"]
