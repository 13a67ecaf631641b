"""User-defined differentiable operations: ``mg.autograd.Function``, as in PyTorch.

    class Exp(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            y, = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)

``apply`` runs ``forward`` with recording off and records one node on the tape whose
gradient rule calls ``backward``. Each subclass gets its own *unregistered* primitive:
a Function defined twice, or two of one name in two modules, never collide, and the
registry keeps only the built-in primitives (each of which must have gradient tests).

Saved tensors live on the node exactly as a primitive's saved inputs do: released by
backward unless ``retain_graph=True``, and refused if changed in place after saving.
With ``create_graph=True`` the user's backward runs with recording on, over the saved
tensors themselves (a saved output is re-attached to this node), so its own operations
are recorded and a second derivative flows through it, as in PyTorch.

A Function with several outputs records, besides its node, one small node per output
that hands that output's gradient on as an :class:`OutputGrads` (one slot per output);
the engine sums those like arrays, so ``backward`` still runs once, with every
output's gradient.
"""
from __future__ import annotations

import weakref
from typing import Any, Optional

from .. import grad_mode
from ..primitive import Node, Primitive
from ..tensor import Tensor
from .anomaly import anomaly_mode, forward_trace


class FunctionCtx:
    """The ``ctx`` that a Function's ``forward`` and ``backward`` share.

    Besides the methods below, any attribute may be set on it in forward and read in
    backward (non-Tensor values: shapes, dims, flags). Tensors needed in backward go
    through :meth:`save_for_backward`, so that they are released and version-checked.
    """

    def __init__(self, function: type, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self._function = function
        self._to_save: tuple = ()
        self._non_differentiable: tuple = ()
        self._materialize_grads = True
        self._saved_values: Optional[tuple] = None  # set only while backward runs
        # Filled in by apply() once forward has returned:
        self._node_ref: Any = None          # weakref to the Function's node
        self._single = True                 # forward returned one Tensor (not a tuple)
        self._outputs: tuple = ()           # per output: (shape, dtype), None if not a Tensor
        self._inputs: tuple = ()            # per input: its shape, None if not a Tensor
        self._saved_outputs: dict = {}      # position in save_for_backward -> output number
        self._backend: Any = None

    def save_for_backward(self, *tensors: Optional[Tensor]) -> None:
        """Keep these tensors (inputs, outputs or None) for ``ctx.saved_tensors``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"{self._function.__name__}: save_for_backward takes Tensors or None, but "
                    f"argument {i} is a {type(t).__name__}; keep other values as attributes "
                    "of ctx (ctx.name = value)")
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, in order (readable in backward)."""
        if self._saved_values is None:
            raise RuntimeError(
                f"{self._function.__name__}: ctx.saved_tensors can only be read in backward; "
                "in forward, use the tensors themselves")
        return self._saved_values

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """These outputs get no gradient (e.g. indices): they do not require grad, and
        backward receives zeros for them."""
        self._non_differentiable = outputs

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize_grads = bool(value)


class OutputGrads:
    """The gradients of a multi-output Function's outputs, one slot each (None: none
    arrived yet). The engine keeps and sums it like an array of ``shape``/``dtype``."""

    __slots__ = ("items", "shape", "dtype")

    def __init__(self, items: list) -> None:
        self.items = items
        self.shape = (len(items),)   # the Function node's shape and dtype, so the engine
        self.dtype = None            # never tries to unbroadcast it

    def __add__(self, other: "OutputGrads") -> "OutputGrads":
        return OutputGrads([a if b is None else b if a is None else a + b
                            for a, b in zip(self.items, other.items)])

    def __iadd__(self, other: "OutputGrads") -> "OutputGrads":
        self.items = (self + other).items  # new sums: never writes into a gradient in place
        return self

    def copy(self) -> "OutputGrads":
        return OutputGrads(list(self.items))


def _select_output(xp: Any, g: Any, out: Any, index: int, count: int) -> tuple:
    return (OutputGrads([g if k == index else None for k in range(count)]),)


# Picks output `index` of a Function: its gradient goes on to the Function's node.
_OUTPUT = Primitive("function_output", None, vjp_joint=_select_output, saves_output=False,
                    register=False)
_OUTPUT.selects_output = True


def _output_node(function_node: Node, index: int, count: int, t: Tensor) -> Node:
    return Node(_OUTPUT, (function_node,), (), None, {"index": index, "count": count},
                t._backend, t.shape, t.dtype)


def _expandable(shape: tuple, target: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``target`` (the tape then sums the gradient back)."""
    return len(target) >= len(shape) and all(
        s == t or s == 1 for s, t in zip(reversed(shape), reversed(target)))


def _function_vjp(xp: Any, g: Any, out: Any, *saved: Any, ctx: FunctionCtx) -> tuple:
    """The Function node's gradient rule: call the user's backward, check what it returns."""
    function = ctx._function
    name = function.__name__
    recording = grad_mode._mode.enabled  # only under create_graph=True
    backend = ctx._backend
    node = ctx._node_ref()
    parts = [g] if ctx._single else g.items
    grad_outputs = []
    for part, meta in zip(parts, ctx._outputs):
        if part is None:
            if meta is None or not ctx._materialize_grads:
                grad_outputs.append(None)
                continue
            part = backend.zeros(meta[0], dtype=meta[1])
        grad_outputs.append(part if isinstance(part, Tensor) else Tensor._wrap(part, backend))
    values = []
    for j, value in enumerate(saved):
        if value is not None and not isinstance(value, Tensor):  # an array
            value = Tensor._wrap(value, backend)
            if recording and j in ctx._saved_outputs:  # differentiate through this node again
                k = ctx._saved_outputs[j]
                value._requires_grad = True
                value._node = node if ctx._single else _output_node(
                    node, k, len(ctx._outputs), value)
        values.append(value)
    ctx._saved_values = tuple(values)
    try:
        grads = function.backward(ctx, *grad_outputs)
    finally:
        ctx._saved_values = None
    if not isinstance(grads, tuple):
        grads = (grads,)
    count = len(ctx._inputs)
    if len(grads) < count or any(extra is not None for extra in grads[count:]):
        raise RuntimeError(
            f"{name}.backward returned {len(grads)} gradient(s), but forward took {count} "
            "input(s); return one gradient per input of forward (None for inputs that "
            "need none, such as non-Tensor arguments)")
    result = []
    for i, (grad, shape) in enumerate(zip(grads, ctx._inputs)):
        if grad is None or not ctx.needs_input_grad[i]:
            result.append(None)
            continue
        if not isinstance(grad, Tensor):
            raise TypeError(f"{name}.backward returned a {type(grad).__name__} as the gradient "
                            f"of input {i}; return a Tensor (or None)")
        if grad.shape != shape and not _expandable(shape, grad.shape):
            raise RuntimeError(
                f"{name}.backward returned a gradient of shape {grad.shape} for input {i}, "
                f"which has shape {shape}; a gradient must have its input's shape")
        if recording:
            result.append(grad)
        else:
            array = grad._data
            if any(array is a for a in saved):  # never let .grad alias a saved tensor
                array = array.copy()
            result.append(array)
    return tuple(result)


class Function:
    """Base class of user-defined differentiable operations (see the module docstring).

    Subclasses define ``forward(ctx, *args, **kwargs)`` and ``backward(ctx,
    *grad_outputs)`` as static methods (or ``forward(*args)`` plus ``setup_context(ctx,
    inputs, output)``), and are called as ``MyFn.apply(*args, **kwargs)``. ``backward``
    returns one gradient per positional argument of forward (None where there is none);
    keyword arguments are never differentiated.
    """

    _primitive: Primitive  # each subclass's own, unregistered

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._primitive = Primitive(cls.__name__, cls.forward, vjp_joint=_function_vjp,
                                   saves_output=False, register=False)
        cls._primitive.node_name = cls.__name__ + "Backward"

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define a static forward()")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        raise NotImplementedError("setup_context() is optional; forward(ctx, ...) is the "
                                  "other way to define a Function")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define a static backward()")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward without recording; record one node that calls backward."""
        if cls is Function:
            raise TypeError("apply() is called on a subclass of Function, not on Function")
        recording = grad_mode._mode.enabled
        needs = tuple(recording and isinstance(a, Tensor) and a._requires_grad for a in args)
        ctx = FunctionCtx(cls, needs)
        with grad_mode.no_grad():
            if cls.setup_context is Function.setup_context:
                result = cls.forward(ctx, *args, **kwargs)
            else:
                result = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, result)
        if not any(needs):
            return result
        single = isinstance(result, Tensor)
        if not single and not isinstance(result, tuple):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor or a tuple, "
                            f"not a {type(result).__name__}")
        outputs = [result] if single else list(result)
        differentiable = []
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        for k, o in enumerate(outputs):
            if not isinstance(o, Tensor):
                continue
            marked = any(o is m for m in ctx._non_differentiable)
            if id(o) in inputs or o._node is not None or o._requires_grad:
                o = outputs[k] = Tensor._wrap(o._data, o._backend)  # never re-parent a tensor
            if not marked and o.dtype.kind in "fc":
                differentiable.append(k)
        result = outputs[0] if single else tuple(outputs)
        if not differentiable:
            return result
        backend = outputs[differentiable[0]]._backend
        kept, saved, saved_outputs = [], [], {}
        for j, t in enumerate(ctx._to_save):
            if t is None:
                kept.append(None)
                saved.append(None)
                continue
            kept.append(t._data)
            k = next((k for k in differentiable if outputs[k] is t), None)
            if k is None:
                saved.append(t)
            else:  # an output: re-attached in backward, so the node holds no cycle
                saved.append(None)
                saved_outputs[j] = k
        edges = tuple((a if a._node is None else a._node) if need else None
                      for a, need in zip(args, needs))
        shape, dtype = (outputs[0].shape, outputs[0].dtype) if single else \
            ((len(outputs),), None)
        node = Node(cls._primitive, edges, tuple(kept), None, {"ctx": ctx}, backend, shape,
                    dtype)
        node.more().saved = tuple(saved)
        ctx._node_ref = weakref.ref(node)
        ctx._single = single
        ctx._outputs = tuple((o.shape, o.dtype) if isinstance(o, Tensor) else None
                             for o in outputs)
        ctx._inputs = tuple(a.shape if isinstance(a, Tensor) else None for a in args)
        ctx._saved_outputs = saved_outputs
        ctx._backend = backend
        ctx._to_save = ctx._non_differentiable = ()  # the node holds what backward needs
        trace = forward_trace() if anomaly_mode.enabled else None
        if trace is not None:
            node.more().trace = trace
        for k in differentiable:
            o = outputs[k]
            o._requires_grad = True
            o._node = node if single else _output_node(node, k, len(outputs), o)
            if trace is not None:
                o._node.more().trace = trace
        return result
