"""The ONNX graph under construction: unique names, nodes, constants and initializers.

Lowerings (ops.py, modules.py) add nodes through :meth:`Graph.node` with ONNX operator
names and attributes; nothing else in them needs the ``onnx`` package. Small constants are
shared (one initializer for every ``1.0`` of a dtype), and casts and shape lookups are
made once per value.
"""
from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Optional, Sequence, Union

import numpy as np

from .errors import require_onnx

__all__ = ["Graph", "INT64_MAX", "INT64_MIN"]

INT64_MAX = np.iinfo(np.int64).max   # "to the end" for Slice
INT64_MIN = np.iinfo(np.int64).min   # "past the beginning" for a backwards Slice


class Graph:
    """Nodes and initializers of one exported graph, for ONNX opset ``opset``."""

    def __init__(self, opset: int) -> None:
        self.onnx = require_onnx()
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._names: set = set()
        self._counts: dict = {}
        self._shared: dict = {}     # (dtype, shape, bytes) -> initializer name
        self._casts: dict = {}      # (name, dtype) -> name
        self._shapes: dict = {}     # name -> its Shape
        self.memo: dict = {}        # values made once per graph (runtime sizes,
                                    # restacked recurrent weights)
        # Operands whose runtime sizes may express a dynamic size (shapes.py): the graph
        # inputs, and every value made since
        self.sources: list = []
        self.values: list = []

    # -- names ---------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A name not used yet in this graph, built from ``hint``."""
        hint = hint or "value"
        if hint not in self._names:
            self._names.add(hint)
            return hint
        n = self._counts.get(hint, 0)
        while f"{hint}.{n}" in self._names:
            n += 1
        self._counts[hint] = n + 1
        self._names.add(f"{hint}.{n}")
        return f"{hint}.{n}"

    def reserve(self, name: str) -> None:
        """Claim ``name`` (a graph input's or a parameter's) so no other value takes it."""
        if name in self._names:
            raise ValueError(f"minigrad.onnx.export: the name {name!r} is used twice")
        self._names.add(name)

    # -- nodes ---------------------------------------------------------------------------
    def node(self, op_type: str, inputs: Sequence[Optional[str]], outputs: int = 1,
             scope: str = "", **attributes: Any) -> Union[str, list]:
        """Add an ``op_type`` node; returns its output name (a list when ``outputs`` > 1).
        A None input is an omitted optional input; None attributes are left out."""
        prefix = "/" + scope.replace(".", "/") + "/" if scope else "/"
        names = [self.fresh(f"{prefix}{op_type}_output_{i}") for i in range(outputs)]
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(
            op_type, ["" if i is None else i for i in inputs], names,
            name=self.fresh(f"{prefix}{op_type}"), **attributes))
        return names[0] if outputs == 1 else names

    # -- constants -----------------------------------------------------------------------
    def initializer(self, name: str, array: np.ndarray) -> str:
        """Add ``array`` as an initializer named exactly ``name``."""
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def const(self, value: Any, dtype: Any = None) -> str:
        """A constant initializer holding ``value`` (as ``dtype``); small ones are shared."""
        array = np.asarray(value, dtype=dtype)
        if array.dtype == object:
            raise TypeError(f"cannot make an ONNX constant from {value!r:.60}")
        array = array.copy(order="C")   # (np.ascontiguousarray would make 0-d 1-d)
        if array.size > 64:
            return self.initializer(self.fresh("const"), array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._shared:
            self._shared[key] = self.initializer(self.fresh("const"), array)
        return self._shared[key]

    def ints(self, values: Sequence[int]) -> str:
        """A 1-d int64 constant (axes, shapes, starts...)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    # -- conversions ---------------------------------------------------------------------
    def tensor_type(self, dtype: Any) -> int:
        """ONNX's element type for a NumPy dtype."""
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def cast(self, name: str, source: Any, target: Any, scope: str = "") -> str:
        """``name`` (of dtype ``source``) as ``target``: itself when they agree."""
        if np.dtype(source) == np.dtype(target):
            return name
        cache = (name, np.dtype(target).str)
        if cache not in self._casts:
            self._casts[cache] = self.node("Cast", [name], scope=scope,
                                           to=self.tensor_type(target))
        return self._casts[cache]

    def find_dim(self, a: int, b: int, near: Sequence[Any] = ()) -> Optional[tuple]:
        """(value name, axis) of a value whose size is ``a`` in trace A and ``b`` in trace
        B: among ``near`` first, then the graph inputs, then every value made so far."""
        for source in list(near) + self.sources + self.values:
            if source.is_const:
                continue
            for axis, (n_a, n_b) in enumerate(zip(source.shape, source.shape_b)):
                if n_a == a and n_b == b:
                    return source.name, axis
        return None

    def size_scalar(self, a: int, b: int, dtype: Any, scope: str = "") -> Optional[str]:
        """A number that follows the dynamic axes (the count ``n`` of a mean over the batch,
        ``x.sum(axes) / n``) as a runtime 0-d value: the product of some sizes of one value
        (the latest first) that is ``a`` in trace A and ``b`` in trace B; None if none is."""
        for source in list(reversed(self.values)) + self.sources:
            if source.is_const:
                continue
            sizes = list(enumerate(zip(source.shape, source.shape_b)))
            for r in range(1, len(sizes) + 1):
                for chosen in combinations(sizes, r):
                    if math.prod(n for _, (n, _) in chosen) == a and \
                            math.prod(n for _, (_, n) in chosen) == b:
                        axes = [axis for axis, _ in chosen]
                        picked = self.node("Gather", [self.shape(source.name, scope),
                                                      self.ints(axes)], scope=scope, axis=0)
                        count = self.reduce("ReduceProd", picked, [0], False, scope)
                        return self.cast(count, np.int64, dtype, scope)
        return None

    def shape(self, name: str, scope: str = "") -> str:
        """The runtime shape of value ``name`` (1-d int64), made once."""
        if name not in self._shapes:
            self._shapes[name] = self.node("Shape", [name], scope=scope)
        return self._shapes[name]

    def dim(self, name: str, axis: int, scope: str = "") -> str:
        """The runtime size of ``name`` along ``axis``, as a 1-element int64 tensor."""
        cache = ("dim", name, axis)
        if cache not in self.memo:
            self.memo[cache] = self.node("Gather", [self.shape(name, scope), self.ints([axis])],
                                         scope=scope, axis=0)
        return self.memo[cache]

    def reduce(self, op_type: str, name: str, axes: Optional[Sequence[int]], keepdims: bool,
               scope: str = "") -> str:
        """A Reduce* node over ``axes`` (None: all): axes are an input from opset 18 on
        (13 for ReduceSum), an attribute before."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if axes is None:
            return self.node(op_type, [name], scope=scope, keepdims=int(keepdims))
        if as_input:
            return self.node(op_type, [name, self.ints(axes)], scope=scope,
                             keepdims=int(keepdims))
        return self.node(op_type, [name], scope=scope, axes=list(axes), keepdims=int(keepdims))

    def unsqueeze(self, name: str, axes: Sequence[int], scope: str = "") -> str:
        return self.node("Unsqueeze", [name, self.ints(axes)], scope=scope)

    def squeeze(self, name: str, axes: Sequence[int], scope: str = "") -> str:
        return self.node("Squeeze", [name, self.ints(axes)], scope=scope)
