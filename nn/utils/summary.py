"""``nn.utils.summary(model, input)``: each layer's output shape and parameter count.

The model runs once on ``input`` with a forward hook on every sub-module, so each
shape in the table is what that layer's first call returned (``--``: it did not run);
nothing is inferred from the class. Layers are listed as the model's tree, indented by
depth. The run is in eval mode and without recording (the training flags are put back
after), so a summary changes no state: no running statistics, no power-iteration step,
no random draws.

A parameter counts toward the layer that owns it, so the column adds up to the total;
the tensors inside a module's ``parametrizations`` count toward that module (a
weight-normed Linear shows g, v and its bias). A layer called several times (a cell in
a time loop) is one row that says how many calls it had.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import minigrad as mg

from ..module import Module
from .parametrize import is_parametrized

__all__ = ["LayerSummary", "ModelSummary", "summary"]


class LayerSummary(NamedTuple):
    """One row: dotted name ("" for the model), class name, nesting depth, the output
    shape of its first call (tuples for tuple outputs; None if it did not run),
    parameters, calls."""

    name: str
    type: str
    depth: int
    output_shape: Any
    params: int
    trainable_params: int
    calls: int


def _shape(value: Any) -> Any:
    if isinstance(value, mg.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return tuple(_shape(v) for v in value)
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def _format_shape(shape: Any) -> str:
    if shape is None:
        return "--"
    if isinstance(shape, tuple) and all(isinstance(s, int) for s in shape):
        return "[" + ", ".join(str(s) for s in shape) + "]"
    if isinstance(shape, tuple):
        return "(" + ", ".join(_format_shape(s) for s in shape) + ")"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_format_shape(s)}" for k, s in shape.items()) + "}"
    return str(shape)


class ModelSummary:
    """The result of :func:`summary`: ``rows`` (:class:`LayerSummary`), the totals, and
    a printable table (``print(summary(model, x))``)."""

    def __init__(self, rows: list, total_params: int, trainable_params: int) -> None:
        self.rows = rows
        self.total_params = total_params
        self.trainable_params = trainable_params

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #")
        body = []
        for row in self.rows:
            label = f"{row.name} ({row.type})" if row.name else row.type
            if row.calls > 1:
                label += f" [{row.calls} calls]"
            body.append(("  " * row.depth + label, _format_shape(row.output_shape),
                         f"{row.params:,}"))
        widths = [max(len(line[i]) for line in [header] + body) for i in range(3)]
        width = sum(widths) + 4

        def line(cells: tuple) -> str:
            return f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:>{widths[2]}}"

        total, trainable = self.total_params, self.trainable_params
        return "\n".join(["-" * width, line(header), "=" * width]
                         + [line(cells) for cells in body]
                         + ["=" * width, f"Total params: {total:,}",
                            f"Trainable params: {trainable:,}",
                            f"Non-trainable params: {total - trainable:,}", "-" * width])

    __repr__ = __str__


def summary(model: Module, input: Any, **kwargs: Any) -> ModelSummary:
    """Run ``model`` on ``input`` (a tensor, or a tuple of positional arguments; keyword
    arguments are passed on) and tabulate its layers."""
    if not isinstance(model, Module):
        raise TypeError(f"summary takes an nn.Module, got {type(model).__name__}")
    hidden = set()  # parametrizations run when a weight is read: part of their module
    for m in model.modules():
        if is_parametrized(m):
            hidden.update(m.parametrizations.modules())
    named = [(name, m) for name, m in model.named_modules() if m not in hidden]
    calls: dict = {}  # name -> [output shape of the first call, number of calls]

    def hook_for(name: str) -> Any:
        def hook(module: Module, args: tuple, output: Any) -> None:
            calls.setdefault(name, [_shape(output), 0])[1] += 1
        return hook

    modes = [(m, m.training) for m in model.modules()]
    handles = [m.register_forward_hook(hook_for(name)) for name, m in named]
    try:
        model.eval()
        with mg.no_grad():
            if isinstance(input, tuple):
                model(*input, **kwargs)
            else:
                model(input, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    params = {name: [0, 0] for name, _ in named}  # name -> [all, trainable]
    for pname, p in model.named_parameters():
        owner = max((n for n in params if n == "" or pname.startswith(n + ".")), key=len)
        params[owner][0] += p.numel()
        params[owner][1] += p.numel() if p.requires_grad else 0
    rows = []
    for name, m in named:
        shape, count = calls.get(name, (None, 0))
        rows.append(LayerSummary(name, type(m).__name__, name.count(".") + 1 if name else 0,
                                 shape, params[name][0], params[name][1], count))
    return ModelSummary(rows, sum(r.params for r in rows),
                        sum(r.trainable_params for r in rows))
