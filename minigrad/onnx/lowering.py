"""What a lowering sees: one recorded operation, in both traces, with its operands resolved.

The exporter runs the forward pass twice (see export.py): once on the given inputs (trace
A) and once with every dynamic axis grown (trace B). A dimension or parameter that differs
between the two depends on a dynamic axis; one that agrees is static. Lowerings read
trace A's values and compare with trace B's to express the difference (``shape`` and
``shape_b`` of each operand, ``params`` and ``params_b`` of the operation).
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

import minigrad as mg

from .errors import OnnxExporterError, UnsupportedOperatorError
from .graph import Graph

__all__ = ["Operand", "PrimitiveOp", "ModuleOp", "same_values"]


def same_values(a: Any, b: Any) -> bool:
    """Whether two constants are the same in both traces (shape, dtype and values)."""
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


class Operand:
    """A graph value (``name``), or a constant known at export time (``const``, with its
    trace-B twin ``const_b``: a constant that differs between the traces depends on the
    input and cannot be exported; ``origin`` says where it came from for that error)."""

    def __init__(self, graph: Graph, shape: tuple, shape_b: tuple, dtype: Any,
                 name: Optional[str] = None, const: Any = None, const_b: Any = None,
                 origin: str = "", weak: bool = False) -> None:
        self.graph = graph
        self.shape, self.shape_b = tuple(shape), tuple(shape_b)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.const, self.const_b = const, const_b
        self.origin = origin
        self.weak = weak    # a Python number: takes the other operand's dtype

    @classmethod
    def constant(cls, graph: Graph, a: Any, b: Any, origin: str, weak: bool = False
                 ) -> "Operand":
        a, b = np.asarray(a), np.asarray(b)
        return cls(graph, a.shape, b.shape, a.dtype, const=a, const_b=b, origin=origin,
                   weak=weak)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_const(self) -> bool:
        return self.name is None

    def varies(self, axis: int) -> bool:
        """Whether this value's size along ``axis`` depends on a dynamic axis."""
        return self.shape[axis] != self.shape_b[axis]

    def value(self) -> np.ndarray:
        """The constant's value (the same in both traces, or an error saying why not)."""
        if not self.is_const:
            raise OnnxExporterError(f"minigrad.onnx.export: {self.origin} must be a constant, "
                                    "but it is computed from the inputs")
        if not same_values(self.const, self.const_b):
            if self.weak:
                raise OnnxExporterError(
                    f"minigrad.onnx.export: {self.origin} is the Python number "
                    f"{self.const.item()!r}, which became {self.const_b.item()!r} when the "
                    "inputs changed (a dynamic axis "
                    "grew or the input values differed): it was computed from the inputs "
                    "outside the tape (.item(), a size, NumPy) and cannot be written as a "
                    "constant")
            what = "shape" if np.shape(self.const) != np.shape(self.const_b) else "values"
            raise OnnxExporterError(
                f"minigrad.onnx.export: {self.origin} is a tensor made outside the tape (a "
                "factory like mg.tensor, .numpy(), NumPy, .item()...) whose "
                f"{what} changed when the inputs changed (a dynamic axis grew or the input "
                "values differed), so it cannot be written as a constant; compute it from "
                "the inputs with minigrad operations, or export with fixed shapes")
        return np.asarray(self.const)

    def ref(self, dtype: Any = None, scope: str = "") -> str:
        """This operand in the graph, as ``dtype`` (default: its own). A Python integer
        that follows the dynamic axes (the count of a mean over the batch) becomes the
        runtime size it equals."""
        target = self.dtype if dtype is None else np.dtype(dtype)
        if not self.is_const:
            return self.graph.cast(self.name, self.dtype, target, scope)
        if self.weak and not same_values(self.const, self.const_b) and \
                self.dtype.kind in "iu" and self.const > 0 and self.const_b > 0:
            size = self.graph.size_scalar(int(self.const), int(self.const_b), target, scope)
            if size is not None:
                return size
        return self.graph.const(self.value().astype(target))


class _Op:
    """Shared by both kinds of operation: the graph, the scope, errors."""

    graph: Graph
    scope: str
    title: str

    def node(self, op_type: str, inputs: Sequence[Optional[str]], outputs: int = 1,
             **attributes: Any) -> Any:
        return self.graph.node(op_type, inputs, outputs, scope=self.scope, **attributes)

    def where(self) -> str:
        return f"{self.title}" + (f" in module '{self.scope}'" if self.scope else "")

    def fail(self, message: str, unsupported: bool = False) -> None:
        error = UnsupportedOperatorError if unsupported else OnnxExporterError
        raise error(f"minigrad.onnx.export: {self.where()}: {message}")


class PrimitiveOp(_Op):
    """One primitive application: ``inputs`` (Operands, None for an omitted one),
    ``params`` / ``params_b`` as recorded, the recorded ``output`` / ``output_b`` and
    its ``shape`` / ``shape_b`` and ``dtype``. ``resolve(a, b, what)`` turns a Tensor or
    array found in the parameters (an index array) into an Operand."""

    def __init__(self, graph: Graph, name: str, scope: str, inputs: list, params: dict,
                 params_b: dict, output: Any, output_b: Any,
                 resolve: Callable[[Any, Any, str], Operand]) -> None:
        self.graph, self.name, self.scope = graph, name, scope
        self.title = f"{'primitive' if name in mg.primitives else 'operation'} '{name}'"
        self.inputs, self.params, self.params_b = inputs, params, params_b
        self.output, self.output_b = output, output_b
        self.shape, self.shape_b = tuple(output.shape), tuple(output_b.shape)
        self.dtype = np.dtype(output.dtype)
        self._resolve = resolve

    def input(self, i: int, dtype: Any = None) -> str:
        return self.inputs[i].ref(dtype, self.scope)

    def resolve(self, a: Any, b: Any, what: str) -> Operand:
        return self._resolve(a, b, f"{self.where()}: {what}")

    def static(self, param: str) -> Any:
        """A parameter that must not depend on a dynamic axis."""
        a, b = self.params.get(param), self.params_b.get(param)
        if a != b:
            self.fail(f"its parameter {param}={a!r} changes with the dynamic axes "
                      f"({param}={b!r} in the trace with grown axes); this cannot be exported "
                      "with those axes dynamic")
        return a


class ModuleOp(_Op):
    """One call of a module exported as a whole: its ``args`` / ``kwargs`` and ``output``
    in both traces. ``value(a, b)`` resolves a tensor argument; ``bind(a, b, name)`` says
    which graph value an output tensor is."""

    def __init__(self, graph: Graph, module: Any, scope: str, args: tuple, args_b: tuple,
                 kwargs: dict, kwargs_b: dict, output: Any, output_b: Any,
                 resolve: Callable[[Any, Any, str], Operand],
                 bind: Callable[[Any, Any, str], None]) -> None:
        self.graph, self.module, self.scope = graph, module, scope
        self.title = f"{type(module).__name__}"
        self.args, self.args_b, self.kwargs, self.kwargs_b = args, args_b, kwargs, kwargs_b
        self.output, self.output_b = output, output_b
        self._resolve, self._bind = resolve, bind

    def argument(self, index: int, keyword: str) -> tuple:
        """The forward's argument ``keyword`` (passed positionally at ``index`` or by name)
        in both traces; (None, None) when not given."""
        if len(self.args) > index:
            return self.args[index], self.args_b[index]
        return self.kwargs.get(keyword), self.kwargs_b.get(keyword)

    def value(self, a: Any, b: Any, what: str) -> Operand:
        return self._resolve(a, b, f"{self.where()}: {what}")

    def parameter(self, name: str, dtype: Any = None) -> str:
        """The module's parameter ``name`` as a graph value (its initializer)."""
        tensor = getattr(self.module, name)
        return self.value(tensor, tensor, name).ref(dtype, self.scope)

    def bind(self, a: Any, b: Any, name: str) -> None:
        self._bind(a, b, name)
