"""Gradient flow through time: record ||dL/dh_t|| for every step t of a recurrent forward.

Vanishing and exploding gradients are the central problem of training recurrent
nets; this makes them visible. A tensor hook (``Tensor.register_hook``) on each
step's hidden state sees the *total* gradient reaching it during backward (from
its output and from every later step); nothing about the computation changes.

Layers (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``, also inside a bigger model)::

    with nn.utils.gradient_flow(model) as flow:
        output, h_n = model(x)
        loss_fn(output).backward()
    flow.norms()                    # [||dL/dh_0||, ..., ||dL/dh_(T-1)||], layer 0, forward
    flow.norms(layer=1, direction=1)

Hand-written loops over a cell watch each state themselves::

    flow = nn.utils.GradientFlowRecorder()
    for t in range(T):
        h = cell(x[t], h)
        flow.watch(h, t)
    loss_fn(h).backward()
    flow.norms()

Norms are kept as tensors until read, so recording adds no device-to-host sync
to backward. Each forward overwrites the steps it records; ``clear()`` empties.
"""
from __future__ import annotations

from typing import Optional

import minigrad as mg

from ..module import Module
from ..rnn import RNNBase

__all__ = ["GradientFlowRecorder", "gradient_flow"]

Key = tuple  # (module name, layer, direction)


class GradientFlowRecorder:
    """Collects the gradient norm reaching each time step's hidden state.

    Attach it to a module (every recurrent layer inside is watched) as a context
    manager, or call :meth:`watch` on hidden states of your own loop.
    """

    def __init__(self, module: Optional[Module] = None) -> None:
        self._module = module
        self._norms: dict = {}
        self._handles: list = []

    # -- attaching --------------------------------------------------------------------
    def __enter__(self) -> "GradientFlowRecorder":
        if self._module is None:
            raise ValueError("gradient_flow: pass the module to watch, e.g. "
                             "gradient_flow(model), to use it as a context manager")
        layers = [(name, m) for name, m in self._module.named_modules()
                  if isinstance(m, RNNBase)]
        if not layers:
            raise ValueError(f"gradient_flow: {type(self._module).__name__} contains no "
                             "recurrent layer (nn.RNN, nn.LSTM or nn.GRU)")
        for name, layer in layers:
            self._handles.append(layer.register_step_hook(self._step_hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _step_hook(self, name: str):
        def hook(module: RNNBase, layer: int, direction: int, t: int, h: mg.Tensor) -> None:
            self.watch(h, t, layer, direction, module=name)
        return hook

    def watch(self, h: mg.Tensor, step: int, layer: int = 0, direction: int = 0,
              module: str = "") -> None:
        """Record the norm of the gradient that will reach ``h`` (time step ``step``)."""
        if not h.requires_grad:
            return  # under no_grad, or nothing upstream is learnable: no gradient will come
        slots = self._norms.setdefault((module, layer, direction), {})
        slots[step] = None

        def record(grad: mg.Tensor) -> None:
            with mg.no_grad():  # observing must not extend a create_graph backward
                slots[step] = (grad * grad).sum().sqrt()

        h.register_hook(record)

    # -- reading ----------------------------------------------------------------------
    def keys(self) -> list:
        """The recorded (module name, layer, direction) triples."""
        return sorted(self._norms)

    def norms(self, layer: int = 0, direction: int = 0,
              module: Optional[str] = None) -> list:
        """||dL/dh_t|| for t = 0..T-1 (``None`` where no gradient arrived yet)."""
        if module is None:
            names = sorted({k[0] for k in self._norms})
            if len(names) > 1:
                raise ValueError(f"gradient_flow: several recurrent modules were recorded "
                                 f"({names}); say which with module=")
            module = names[0] if names else ""
        key = (module, layer, direction)
        if key not in self._norms:
            raise KeyError(f"gradient_flow: nothing recorded for module {module!r}, layer "
                           f"{layer}, direction {direction}; recorded: {self.keys()}")
        slots = self._norms[key]
        return [None if slots.get(t) is None else float(slots[t].item())
                for t in range(max(slots) + 1)]

    def clear(self) -> None:
        self._norms = {}


def gradient_flow(module: Module) -> GradientFlowRecorder:
    """A recorder for every recurrent layer in ``module``; use it with ``with``."""
    return GradientFlowRecorder(module)
