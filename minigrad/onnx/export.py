"""``minigrad.onnx.export``: trace a forward pass and write it as a standard ONNX model.

How it works (PyTorch's tracing exporter, with one twist):

1. The model runs on ``args`` in evaluation mode, with gradients enabled on its float
   parameters and inputs, while :class:`~minigrad.onnx.trace.Recorder` logs every
   primitive application (and every call of a module exported whole, see modules.py).
2. It runs a second time with each dynamic axis grown (by one, two... per named
   dimension) and other input values (shuffled, floats scaled). The two recordings must be the same
   sequence of operations; where a shape or parameter differs, it depends on a dynamic
   axis and is written relative to the runtime sizes (shapes.py). A constant that
   differs depends on the inputs through something the tape does not see (a comparison,
   ``.item()``, NumPy) and is refused rather than frozen into a wrong graph.
3. Walking back from the outputs, each needed operation is written with its table entry
   (ops.py) or its module lowering (modules.py); parameters and buffers become
   initializers named by their module path (``decoder.weight``), constants computed from
   constants only are folded, and the ONNX checker validates the result.
"""
from __future__ import annotations

import enum
import io
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

import minigrad as mg

from .errors import OnnxExporterError, UnsupportedOperatorError, require_onnx
from .graph import Graph
from .lowering import ModuleOp, Operand, PrimitiveOp
from .modules import lowering_for
from .ops import CREATIONS, LOWERINGS
from .trace import ModuleCall, Recorder, host, is_array, key, write_stamp

__all__ = ["export", "TrainingMode", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 14

_FUSED = ("lstm_sequence", "gru_sequence", "rnn_tanh_sequence", "rnn_relu_sequence",
          "lstm_cell")


class TrainingMode(enum.IntEnum):
    """As ``torch.onnx.TrainingMode``: export in eval mode (default), as the model is, or
    in training mode (dropout then draws random masks, which cannot be exported)."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def export(model: Any, args: Any = (), f: Union[str, "os.PathLike[str]", io.IOBase, None] = None,
           *, kwargs: Optional[Mapping[str, Any]] = None, verbose: Optional[bool] = None,
           input_names: Optional[Sequence[str]] = None,
           output_names: Optional[Sequence[str]] = None, opset_version: Optional[int] = None,
           dynamo: bool = False, export_params: bool = True,
           keep_initializers_as_inputs: bool = False,
           dynamic_axes: Optional[Mapping[str, Any]] = None,
           training: TrainingMode = TrainingMode.EVAL, do_constant_folding: bool = True) -> Any:
    """Write ``model`` run on ``args`` as ONNX to ``f`` (a path or a binary file; None:
    write nothing) and return the ``onnx.ModelProto``. PyTorch's signature.

    ``args``: a tensor or a tuple of positional arguments (nested tuples and lists of
    tensors are flattened into graph inputs, in order; a trailing dict holds keyword
    arguments, as in PyTorch; a tensor passed twice is one input). ``input_names`` /
    ``output_names`` name the flattened inputs and outputs (default ``input_0``...,
    ``output_0``...). ``dynamic_axes`` maps a name to the axes that may vary, as a list
    (``{"x": [0, 1]}``) or with dimension names (``{"x": {0: "batch", 1: "seq"}}``);
    axes with one name grow together in the second trace, so give the batch axis of every
    input the same name. ``opset_version``: 14 up to the installed onnx's newest (default
    17). Parameters (and buffers) are initializers named as in ``named_parameters()``;
    ``export_params=False`` makes them graph inputs instead,
    ``keep_initializers_as_inputs=True`` lists them as both. ``dynamo`` and
    ``do_constant_folding`` are accepted for PyTorch's signature: there is one exporter
    (this tracer), and it always folds constants.
    Raises :class:`~minigrad.onnx.UnsupportedOperatorError` naming a primitive or module
    with no ONNX mapping, :class:`~minigrad.onnx.OnnxExporterError` for anything else
    that cannot be written faithfully.
    """
    onnx = require_onnx()
    opset = _opset(onnx, opset_version)
    if not isinstance(model, mg.nn.Module):
        raise TypeError(f"minigrad.onnx.export: model must be an nn.Module, got "
                        f"{type(model).__name__}")
    if not isinstance(training, TrainingMode):
        raise TypeError(f"minigrad.onnx.export: training must be a TrainingMode, got "
                        f"{training!r}")
    call_args, call_kwargs = _split_args(args, kwargs)
    inputs = _distinct_tensors((call_args, call_kwargs))
    in_names = _names(input_names, len(inputs), "input", "input_names")
    axes = _dynamic_axes(dynamic_axes, in_names, [tuple(t.shape) for t in inputs])
    with _export_mode(model, training):   # lowerings read the modules' modes too
        runs = _run_twice(model, call_args, call_kwargs, inputs, in_names, axes)
        out_names = _names(output_names, len(runs["outputs"][0]), "output", "output_names")
        unknown = set(axes["given"]) - set(in_names) - set(out_names)
        if unknown:
            raise ValueError(f"minigrad.onnx.export: dynamic_axes names {sorted(unknown)}, "
                             f"which are neither input_names {list(in_names)} nor "
                             f"output_names {list(out_names)}")
        builder = _Builder(Graph(opset), model)
        for name, a, b in zip(in_names, *runs["inputs"]):
            builder.add_input(name, a, b)
        for name in out_names:
            builder.graph.reserve(name)
        builder.lower(*runs["events"], *runs["outputs"])
        graph = builder.finish(*runs["outputs"], out_names, in_names, axes, export_params,
                               bool(keep_initializers_as_inputs))
    return _write(onnx, graph, opset, f, bool(verbose))


def _run_twice(model: Any, args: tuple, kwargs: dict, inputs: list, in_names: list,
               axes: dict) -> dict:
    """Both traces: {"inputs", "events", "outputs"}, each a pair (trace A, trace B)."""
    growth = _growth(axes)
    copies_a = {id(t): _leaf(t, host(t)) for t in inputs}
    copies_b = {id(t): _leaf(t, _grown(host(t), growth.get(name, {}), seed))
                for seed, (t, name) in enumerate(zip(inputs, in_names))}
    events_a, out_a = _trace(model, _replace(args, copies_a), _replace(kwargs, copies_a))
    try:
        events_b, out_b = _trace(model, _replace(args, copies_b), _replace(kwargs, copies_b))
    except (ValueError, TypeError, IndexError, RuntimeError) as exc:
        raise OnnxExporterError(
            "minigrad.onnx.export: the model failed when run again with the dynamic axes "
            f"grown ({_describe(growth)}) and other input values: {exc}. Check that "
            "dynamic_axes names every axis that must change together (the batch axis of "
            "each input with the same name) and that the model accepts other sizes") from exc
    outputs_a, outputs_b = _flat_outputs(out_a), _flat_outputs(out_b)
    if len(outputs_a) != len(outputs_b) or len(events_a) != len(events_b):
        raise OnnxExporterError(
            "minigrad.onnx.export: the model ran differently when the dynamic axes grew "
            f"({len(events_a)} vs {len(events_b)} operations, {len(outputs_a)} vs "
            f"{len(outputs_b)} outputs): a Python loop or branch over a dynamic size "
            "cannot be exported with that axis dynamic")
    return {"inputs": ([copies_a[id(t)] for t in inputs], [copies_b[id(t)] for t in inputs]),
            "events": (events_a, events_b), "outputs": (outputs_a, outputs_b)}


def _write(onnx: Any, graph: Any, opset: int, f: Any, verbose: bool) -> Any:
    """Make the model, check it, write it to ``f`` (a path, a binary file or None) and
    return it."""
    model = onnx.helper.make_model(graph, producer_name="minigrad",
                                   producer_version=mg.__version__,
                                   opset_imports=[onnx.helper.make_opsetid("", opset)])
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import),
                                                           ignore_unknown=True)
    onnx.checker.check_model(model)
    if verbose:
        printer = getattr(onnx, "printer", None)
        print(printer.to_text(model.graph) if printer is not None
              else onnx.helper.printable_graph(model.graph))
    if hasattr(f, "write"):
        f.write(model.SerializeToString())
    elif f is not None:
        with open(os.fspath(f), "wb") as out:
            out.write(model.SerializeToString())
    return model


# -- arguments -----------------------------------------------------------------------------

def _opset(onnx: Any, opset_version: Optional[int]) -> int:
    newest = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"minigrad.onnx.export: opset_version must be an int from {MIN_OPSET} "
                         f"to {newest} (the installed onnx's newest), got {opset_version!r}")
    return opset


def _split_args(args: Any, kwargs: Optional[Mapping[str, Any]]) -> tuple:
    """(positional, keyword) arguments of the forward, as PyTorch reads ``args``."""
    if not isinstance(args, tuple):
        args = (args,)
    extra: dict = {}
    if args and isinstance(args[-1], dict):
        args, extra = args[:-1], dict(args[-1])
    if kwargs:
        extra.update(kwargs)
    return args, extra


def _walk(structure: Any) -> list:
    """The tensors in nested tuples / lists / dicts, in order."""
    if isinstance(structure, mg.Tensor):
        return [structure]
    if isinstance(structure, (tuple, list)):
        return [t for item in structure for t in _walk(item)]
    if isinstance(structure, dict):
        return [t for item in structure.values() for t in _walk(item)]
    return []


def _distinct_tensors(structure: Any) -> list:
    seen: dict = {}
    for t in _walk(structure):
        seen.setdefault(id(t), t)
    return list(seen.values())


def _replace(structure: Any, copies: dict) -> Any:
    """``structure`` with each input tensor replaced by its traced copy."""
    if isinstance(structure, mg.Tensor):
        return copies[id(structure)]
    if isinstance(structure, (tuple, list)):
        items = [_replace(item, copies) for item in structure]
        if hasattr(structure, "_fields"):      # a NamedTuple (PackedSequence...)
            return type(structure)(*items)
        return tuple(items) if isinstance(structure, tuple) else items
    if isinstance(structure, dict):
        return {k: _replace(v, copies) for k, v in structure.items()}
    return structure


def _names(given: Optional[Sequence[str]], count: int, stem: str, what: str) -> list:
    names = list(given or [])
    if len(names) > count:
        raise ValueError(f"minigrad.onnx.export: {what} has {len(names)} names for {count} "
                         f"{stem}s")
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"minigrad.onnx.export: {what} must be distinct non-empty strings, "
                         f"got {names!r}")
    taken = set(names)
    for i in range(len(names), count):
        name = f"{stem}_{i}"
        while name in taken:
            name += "_"
        names.append(name)
        taken.add(name)
    return names


def _dynamic_axes(dynamic_axes: Optional[Mapping[str, Any]], in_names: list,
                  in_shapes: list) -> dict:
    """{"given": {name: {axis: dim name}}, "labels": {(input, axis): growth group}}."""
    given: dict = {}
    for name, spec in (dynamic_axes or {}).items():
        if isinstance(spec, Mapping):
            entries = {a: str(n) for a, n in spec.items()}
        elif isinstance(spec, (list, tuple)):
            entries = {a: f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(spec)}
        else:
            raise TypeError(f"minigrad.onnx.export: dynamic_axes[{name!r}] must be a list of "
                            f"axes or a dict axis -> name, got {spec!r}")
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in entries):
            raise TypeError(f"minigrad.onnx.export: dynamic_axes[{name!r}] has a non-integer "
                            f"axis: {spec!r}")
        if name in in_names:
            ndim = len(in_shapes[in_names.index(name)])
            if any(not -ndim <= a < ndim for a in entries):
                raise ValueError(f"minigrad.onnx.export: dynamic_axes[{name!r}] = {spec!r} "
                                 f"is out of range for an input of {ndim} dimensions")
            entries = {a % ndim: n for a, n in entries.items()}
        given[name] = {"entries": entries, "named": isinstance(spec, Mapping)}
    labels: dict = {}
    for name, shape in zip(in_names, in_shapes):
        spec = given.get(name)
        for axis, dim in (spec["entries"].items() if spec else ()):
            labels[(name, axis)] = dim if spec["named"] else ("size", shape[axis])
    return {"given": {n: s["entries"] for n, s in given.items()}, "labels": labels}


def _growth(axes: dict) -> dict:
    """{input name: {axis: how much the second trace grows it}}: one amount per group."""
    amounts: dict = {}
    growth: dict = {}
    for (name, axis), label in axes["labels"].items():
        amount = amounts.setdefault(label, len(amounts) + 1)
        growth.setdefault(name, {})[axis] = amount
    return growth


def _describe(growth: dict) -> str:
    parts = [f"{name}[{axis}] +{n}" for name, g in growth.items() for axis, n in g.items()]
    return ", ".join(parts) or "no dynamic axes"


def _grown(array: np.ndarray, growth: dict, seed: int) -> np.ndarray:
    """The second trace's input: values shuffled (floats also scaled by up to 1 %, keeping
    their signs), each dynamic axis grown by repeating its leading entries (so indices
    stay valid)."""
    rng = np.random.default_rng(seed)
    out = array.reshape(-1)[rng.permutation(array.size)].reshape(array.shape)
    if out.dtype.kind in "fc":
        out = (out * (1 + 0.01 * rng.uniform(-1, 1, out.shape))).astype(array.dtype)
    for axis, amount in growth.items():
        n = out.shape[axis]
        if n == 0:
            raise ValueError(f"minigrad.onnx.export: a dynamic axis of size 0 (axis {axis} of "
                             f"an input of shape {array.shape}) cannot be traced")
        out = np.take(out, np.arange(n + amount) % n, axis=axis)
    return out


def _leaf(like: mg.Tensor, array: np.ndarray) -> mg.Tensor:
    """A fresh input tensor on ``like``'s device; float ones require grad (so in-place
    operations on what they feed are recorded by the tape)."""
    t = mg.tensor(array, dtype=like.dtype, device=like.backend)
    if t.dtype.kind == "f":
        t.requires_grad_(True)
    return t


class _export_mode:
    """The model in the requested training mode, its float parameters requiring grad;
    afterwards its modes, flags and buffers (running statistics the two traces may have
    moved) are as they were."""

    def __init__(self, model: Any, training: TrainingMode) -> None:
        self.model, self.training = model, training

    def __enter__(self) -> None:
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.frozen = [p for p in self.model.parameters()
                       if not p.requires_grad and p.dtype.kind == "f"]
        self.buffers = [(b, host(b).copy()) for b in self.model.buffers() if b is not None]
        if self.training != TrainingMode.PRESERVE:
            self.model.train(self.training == TrainingMode.TRAINING)
        for p in self.frozen:
            p.requires_grad_(True)

    def __exit__(self, *exc: Any) -> None:
        for m, mode in self.modes:
            object.__setattr__(m, "training", mode)
        for p in self.frozen:
            p.requires_grad_(False)
        with mg.no_grad():
            for b, values in self.buffers:
                if not np.array_equal(host(b), values, equal_nan=True):
                    b.copy_(mg.tensor(values, device=b.backend))


def _trace(model: Any, args: tuple, kwargs: dict) -> tuple:
    backends = {id(t.backend): t.backend
                for t in _walk((args, kwargs)) + list(model.parameters())}
    backends.setdefault(id(mg.current_backend()), mg.current_backend())
    with mg.enable_grad(), Recorder(model, lambda m: lowering_for(m) is not None,
                                    list(backends.values())) as rec:
        out = model(*args, **kwargs)
    return rec.events, out


def _flat_outputs(out: Any) -> list:
    outputs = _walk(out)
    if not outputs:
        raise OnnxExporterError(f"minigrad.onnx.export: the model returned no tensor "
                                f"({type(out).__name__})")
    return outputs


# -- building the graph ----------------------------------------------------------------------

def _keys(value: Any) -> list:
    """Keys of the tensors and arrays in an operand or a parameter structure."""
    if isinstance(value, mg.Tensor) or is_array(value):
        return [key(value)]
    if isinstance(value, (tuple, list)):
        return [k for v in value for k in _keys(v)]
    if isinstance(value, dict):
        return [k for v in value.values() for k in _keys(v)]
    return []


def _event_io(event: Any) -> tuple:
    """(keys read, keys written) by an event of trace A."""
    if isinstance(event, ModuleCall):
        return _keys((event.args, event.kwargs)), _keys(event.output)
    return _keys((event.inputs, event.params)), [key(event.output)]


class _Builder:
    """Resolves the traced values to graph values while the events are lowered."""

    def __init__(self, graph: Graph, model: Any) -> None:
        self.graph = graph
        self.values: dict = {}      # key in trace A -> Operand
        self.values_b: dict = {}    # key in trace B -> the same Operand
        self.named: dict = {}       # key -> (module path, tensor): parameters and buffers
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t is not None:
                self.named.setdefault(key(t), (name, t))
        self.parameters: list = []  # (name, dtype, shape) of the parameters used

    def add_input(self, name: str, a: mg.Tensor, b: mg.Tensor) -> None:
        self.graph.reserve(name)
        operand = Operand(self.graph, a.shape, b.shape, a.dtype, name=name)
        self.graph.sources.append(operand)
        self._set(a, b, operand)

    def _set(self, a: Any, b: Any, operand: Operand) -> None:
        self.values[key(a)] = operand
        self.values_b[key(b)] = operand

    def bind(self, a: Any, b: Any, name: str) -> None:
        operand = Operand(self.graph, a.shape, b.shape, a.dtype, name=name)
        self.graph.values.append(operand)
        self._set(a, b, operand)

    def resolve(self, a: Any, b: Any, what: str) -> Optional[Operand]:
        """The Operand for a tensor, array or constant seen at the same place of both
        traces."""
        if a is None and b is None:
            return None
        if isinstance(a, mg.Tensor) or is_array(a):
            k = key(a)
            if k in self.values:
                if not (isinstance(b, mg.Tensor) or is_array(b)) or \
                        self.values_b.get(key(b)) is not self.values[k]:
                    raise OnnxExporterError(
                        f"minigrad.onnx.export: {what} is a different value when the dynamic "
                        "axes grow: the model's data flow depends on the input sizes")
                return self.values[k]
            if k in self.named and key(b) == k:
                return self._initializer(a, b)
            return Operand.constant(self.graph, host(a), host(b) if b is not None else None,
                                    what)
        if isinstance(a, (bool, int, float)):
            return Operand.constant(self.graph, a, b, what, weak=True)
        if isinstance(a, (np.number, np.bool_, list, tuple)):
            return Operand.constant(self.graph, np.asarray(a), np.asarray(b), what)
        if getattr(type(a), "backward_state", False):
            return None  # what a forward leaves for its backward: no value of the graph
        raise OnnxExporterError(f"minigrad.onnx.export: {what} is a {type(a).__name__}, "
                                "which cannot be exported")

    def _initializer(self, a: Any, b: Any) -> Operand:
        name, tensor = self.named[key(a)]
        self.graph.reserve(name)
        self.graph.initializer(name, host(tensor))
        self.parameters.append((name, tensor.dtype, tuple(tensor.shape)))
        operand = Operand(self.graph, tensor.shape, tensor.shape, tensor.dtype, name=name)
        self._set(a, b, operand)
        return operand

    def lower(self, events_a: list, events_b: list, outputs_a: list, outputs_b: list) -> None:
        needed = {key(t) for t in outputs_a}
        keep = []
        for event in reversed(events_a):
            reads, writes = _event_io(event)
            if needed.intersection(writes):
                keep.append(True)
                needed.update(reads)
            else:
                keep.append(False)
        keep.reverse()
        for event_a, event_b, wanted in zip(events_a, events_b, keep):
            if wanted:
                self._lower_event(event_a, event_b)

    def _lower_event(self, a: Any, b: Any) -> None:
        if type(a) is not type(b) or (isinstance(a, ModuleCall) and a.module is not b.module) \
                or (not isinstance(a, ModuleCall) and a.name != b.name):
            raise OnnxExporterError(
                f"minigrad.onnx.export: the model ran different operations when the dynamic "
                f"axes grew ({_title(a)} vs {_title(b)} at the same point): a Python branch "
                "over a dynamic size cannot be exported with that axis dynamic")
        if isinstance(a, ModuleCall):
            op = ModuleOp(self.graph, a.module, a.scope, a.args, b.args, a.kwargs, b.kwargs,
                          a.output, b.output, self.resolve, self.bind)
            lowering = lowering_for(a.module)
            assert lowering is not None
            lowering(op)
            for t in _walk(a.output):
                if key(t) not in self.values:
                    op.fail("an output of this module is not supported by its lowering",
                            unsupported=True)
            return
        where = f"operand {{}} of {_title(a)}" + (f" in module '{a.scope}'" if a.scope else "")
        lowering = LOWERINGS.get(a.name)
        if lowering is None and any(
                k in self.named or k in self.values and not self.values[k].is_const
                for k in _keys((a.inputs, a.params))):
            hint = (" (recurrent layers are exported whole through nn.RNN/LSTM/GRU and their "
                    "cells: call the module)" if a.name in _FUSED else "")
            raise UnsupportedOperatorError(
                f"minigrad.onnx.export: {_title(a)}"
                + (f" in module '{a.scope}'" if a.scope else "")
                + f" has no ONNX mapping{hint}")
        inputs = [self.resolve(x, y, where.format(i))
                  for i, (x, y) in enumerate(zip(a.inputs, b.inputs))]
        for i, (operand, x, stamp) in enumerate(zip(inputs, a.inputs, a.stamps)):
            if operand is not None and operand.is_const and write_stamp(x) != stamp:
                raise OnnxExporterError(
                    f"minigrad.onnx.export: {where.format(i)} was written in place after it "
                    "was used, so its values at that point are gone; write the forward "
                    "without changing that tensor in place")
        live_params = any(k in self.named or k in self.values and not self.values[k].is_const
                          for k in _keys(a.params))
        folds = not (a.name in CREATIONS and tuple(a.output.shape) != tuple(b.output.shape))
        if all(o is None or o.is_const for o in inputs) and not live_params and folds:
            self._set(a.output, b.output, Operand.constant(
                self.graph, host(a.output), host(b.output),
                f"the result of {_title(a)} on constants"
                + (f" in module '{a.scope}'" if a.scope else "")))
            return
        op = PrimitiveOp(self.graph, a.name, a.scope, inputs, a.params, b.params,
                         a.output, b.output, self.resolve)
        self.bind(a.output, b.output, lowering(op))

    def finish(self, outputs_a: list, outputs_b: list, out_names: list, in_names: list,
               axes: dict, export_params: bool, initializers_as_inputs: bool) -> Any:
        """The GraphProto: outputs named, inputs and outputs typed with their dimension
        names, parameters as initializers and/or inputs."""
        self._name_outputs(outputs_a, outputs_b, out_names)
        known = {}     # (size in A, size in B) -> the dimension name an input gave it
        for name, operand in zip(in_names, self.graph.sources):
            for axis, dim in axes["given"].get(name, {}).items():
                known[(operand.shape[axis], operand.shape_b[axis])] = dim
        inputs = [self._info(name, o.shape, o.shape_b, o.dtype, axes["given"].get(name, {}),
                             known) for name, o in zip(in_names, self.graph.sources)]
        outputs = [self._info(name, a.shape, b.shape, a.dtype,
                              {ax % max(a.ndim, 1): n
                               for ax, n in axes["given"].get(name, {}).items()}, known)
                   for a, b, name in zip(outputs_a, outputs_b, out_names)]
        helper = self.graph.onnx.helper
        params = {name for name, _, _ in self.parameters}
        initializers = [i for i in self.graph.initializers
                        if export_params or i.name not in params]
        if not export_params or initializers_as_inputs:
            inputs += [helper.make_tensor_value_info(name, self.graph.tensor_type(dtype), shape)
                       for name, dtype, shape in self.parameters]
        return helper.make_graph(self.graph.nodes, "minigrad", inputs, outputs, initializers)

    def _name_outputs(self, outputs_a: list, outputs_b: list, out_names: list) -> None:
        """Give each output its name: the node making it is renamed, or (an input, a
        constant, a value already named) an Identity copies it."""
        sources = [self.resolve(a, b, f"output '{name}'").ref()
                   for a, b, name in zip(outputs_a, outputs_b, out_names)]
        produced = {o for node in self.graph.nodes for o in node.output}
        renamed: dict = {}
        for source, name in zip(sources, out_names):
            if source in produced and source not in renamed:
                renamed[source] = name
            else:
                self.graph.node("Identity", [source])
                self.graph.nodes[-1].output[0] = name
        for node in self.graph.nodes:
            for field in (node.input, node.output):
                for i, n in enumerate(field):
                    field[i] = renamed.get(n, n)

    def _info(self, name: str, shape: tuple, shape_b: tuple, dtype: Any, given: dict,
              known: dict) -> Any:
        """A typed graph input or output: a dimension named in ``dynamic_axes``, or one
        that changed between the traces (named after the input dimension it equals), is
        symbolic; the others are fixed."""
        dims: list = []
        for axis, (n, n_b) in enumerate(zip(tuple(shape), tuple(shape_b))):
            if axis in given:
                dims.append(given[axis])
            elif n != n_b:
                dims.append(known.get((n, n_b), f"{name}_dim_{axis}"))
            else:
                dims.append(int(n))
        return self.graph.onnx.helper.make_tensor_value_info(
            name, self.graph.tensor_type(dtype), dims)


def _title(event: Any) -> str:
    """How errors name an event: module X, primitive 'x', or operation 'x' (one without
    gradient, such as a comparison)."""
    if isinstance(event, ModuleCall):
        return f"module {type(event.module).__name__}"
    kind = "primitive" if event.name in mg.primitives else "operation"
    return f"{kind} '{event.name}'"
