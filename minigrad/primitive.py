"""Primitives: each declared once, forward beside its vector-Jacobian products.

A primitive is a forward function ``forward(xp, *inputs, **params)`` and one
gradient rule per differentiable input, ``rule(xp, g, out, *inputs, **params)``
returning that input's share of the gradient. ``xp`` is NumPy-like: the backend's
array module when backward records nothing (fast, no Tensor objects), or
``minigrad.ops`` when ``create_graph=True``, so the very same rule is recorded
on the tape and can be differentiated again. Broadcasting is undone centrally
by the tape (:func:`minigrad.autograd.unbroadcast`), never in a rule.

A recorded :class:`Node` is also what ``Tensor.grad_fn`` shows: named after its
primitive (``multiply`` -> ``MultiplyBackward``), with ``next_functions`` as in
PyTorch; a leaf appears there as an :class:`AccumulateGrad`.
"""
from __future__ import annotations

from functools import lru_cache
import inspect
import weakref
from itertools import count
from numbers import Number
from types import MappingProxyType
from typing import Any, Callable, Optional, Sequence

from . import grad_mode
from .backends import current_backend
from .promotion import promote

Rule = Callable[..., Any]
_new = object.__new__
_new_list = list.__new__
_grad_mode = grad_mode._mode  # per thread: whether ops are recorded
# Shared by every node that has none of these: one object less per recorded op (each
# one allocated makes Python's cyclic garbage collector run sooner; see Node).
NO_PARAMS: Any = MappingProxyType({})
_NONES = ((), (None,), (None, None), (None, None, None))
_NOTHING = object()  # "no such input" (None is a legitimate optional input)

REGISTRY: dict[str, "Primitive"] = {}

# One clock orders the tape and stamps in-place changes: a node records the time it
# was made, and an in-place write records the time it happened against the array that
# owns the memory written (views included), so "changed after it was saved" is a
# comparison of two times (see autograd.engine._check_saved).
clock = count(1)
writes: dict = {}  # id(memory-owning array) -> clock time of its latest in-place write
last_write = 0     # the latest of those times: a node made after it needs no check


def memory_owner(array: Any) -> Any:
    """The array that owns ``array``'s memory (itself, or the base of a view)."""
    base = getattr(array, "base", None)
    return array if base is None else base


def note_inplace_write(array: Any) -> int:
    """Record an in-place write to ``array``'s memory; returns the time stamp."""
    global last_write
    stamp = last_write = next(clock)
    owner = memory_owner(array)
    key = id(owner)
    if key not in writes:
        try:  # forget the entry when the memory goes away (its id may be reused)
            weakref.finalize(owner, writes.pop, key, None)
        except TypeError:
            pass
    writes[key] = stamp
    return stamp


class Spec:
    """Shape and dtype of an input whose values a rule does not need (so none are kept)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, array: Any) -> None:
        self.shape = array.shape
        self.dtype = array.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)


class NodeExtra:
    """What few nodes carry, kept off the common path: a Function's saved Tensors (for
    create_graph), hooks registered on the output, retain_grad's weak reference to the
    output, and the forward traceback under anomaly detection."""

    __slots__ = ("saved", "hooks", "retained", "trace")

    def __init__(self) -> None:
        self.saved = None
        self.hooks = None
        self.retained = None
        self.trace = None


class Node(list):
    """One recorded application of a primitive: what backward needs to revisit it.

    A node holds only what its rules read: the saved inputs, maybe its own output,
    and the edges to the nodes (or leaf tensors) upstream. Intermediate tensors are
    not kept alive by the graph unless a rule needs their values, as in PyTorch.

    Every op records one, so it is kept small: each attribute set costs time, and each
    object that outlives the op counts towards the next run of Python's cyclic garbage
    collector, which then walks the young graph (with 4.6 such objects an op, a sixth of
    the per-op time on a chain of small ops: ``benchmarks/bench_ops.py`` with and without
    ``--no-gc``). Hence the node *is* the list of its edges, one per input (the order
    ``next_functions`` shows), rather than holding a tuple of them; it hashes and
    compares as itself.
    """

    __slots__ = ("prim", "args", "out", "params", "seq", "shape", "dtype",
                 "backend", "extra", "__weakref__")  # a Function's ctx refers back weakly
    __hash__ = object.__hash__  # a node is itself, not the list of its edges
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    def __init__(self, prim: "Primitive", edges: tuple, args: Any, out: Any,
                 params: Any, backend: Any, shape: tuple, dtype: Any) -> None:
        self.extend(edges)          # per input: upstream Node, leaf Tensor, or None
        self.prim = prim
        self.args = args            # per input: array/constant the rules read, a Spec, or None
        self.out = out              # this node's output array, if a rule reads it
        self.params = params
        self.seq = next(clock)      # position on the tape
        self.shape = shape          # the output's shape and dtype (for gradient buffers)
        self.dtype = dtype
        self.backend = backend
        self.extra = None           # a NodeExtra, made by more() when one is needed

    @property
    def edges(self) -> "Node":
        """Per input: the upstream Node, the leaf Tensor, or None (the node itself)."""
        return self

    def more(self) -> NodeExtra:
        """This node's :class:`NodeExtra`, made on first use."""
        if self.extra is None:
            self.extra = NodeExtra()
        return self.extra

    # -- the grad_fn view (PyTorch's names) ------------------------------------------
    def _presented(self) -> tuple:
        """(node, output number) as users see it: the output of a multi-output Function
        is shown as the Function's node itself, as PyTorch does."""
        if self.prim.selects_output:
            return self.edges[0], self.params["index"]
        return self, 0

    def name(self) -> str:
        """``MultiplyBackward`` for the primitive ``multiply``; ``MyFnBackward`` for a
        ``mg.autograd.Function`` subclass ``MyFn``."""
        return self._presented()[0].prim.node_name

    @property
    def next_functions(self) -> tuple:
        """Per input, ``(grad_fn, output number)``: the Node that made it, an
        :class:`AccumulateGrad` for a leaf that requires grad, or None."""
        result = []
        for edge in self._presented()[0].edges:
            if edge is None:
                result.append((None, 0))
            elif type(edge) is Node:
                result.append(edge._presented())
            else:
                result.append((AccumulateGrad(edge), 0))
        return tuple(result)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad:
    """A leaf in ``next_functions``: its gradient is accumulated into ``variable.grad``."""

    __slots__ = ("variable",)
    next_functions: tuple = ()

    def __init__(self, variable: "Tensor") -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __eq__(self, other: Any) -> bool:
        return type(other) is AccumulateGrad and other.variable is self.variable

    def __hash__(self) -> int:
        return id(self.variable)

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


@lru_cache(maxsize=4096)
def _cached_constant(value: float, dtype: Any, backend: Any) -> Any:
    return backend.asarray(value, dtype=dtype)


def _constant(value: float, dtype: Any, backend: Any) -> Any:
    """A Python float as a 0-d array of the tensor's dtype: float32 stays float32 under
    any NumPy promotion rules, and NumPy multiplies by a 0-d array twice as fast. Zeros
    are not cached: 0.0 == -0.0 would share one entry, and 1 / -0.0 is -inf."""
    if value == 0.0:
        return backend.asarray(value, dtype=dtype)
    return _cached_constant(value, dtype, backend)


class Primitive:
    """A differentiable operation. Calling it applies it to Tensors and records it.

    ``saves`` names the inputs whose values the rules read (None: all of them),
    ``saves_output`` whether they read the output, ``saves_shapes`` whether they
    need the other inputs' shapes: what is not declared is not kept alive.
    """

    moves_device = False  # True only for the transfer primitive: output on params["target"]
    selects_output = False  # True only for the node picking one output of a Function
    # Type promotion (minigrad/promotion.py): the input positions that take part (None: no
    # promotion; ALL: every input), and whether an integer result becomes a float (true
    # division). Set on the arithmetic primitives right after they are declared.
    promotes: Optional[Sequence[int]] = None
    true_divide = False

    def __init__(self, name: str, forward: Callable[..., Any],
                 vjps: Optional[Sequence[Optional[Rule]]] = None,
                 vjp_all: Optional[Rule] = None, vjp_joint: Optional[Rule] = None,
                 saves: Optional[Sequence[int]] = None,
                 saves_output: bool = True, saves_shapes: bool = False,
                 register: bool = True) -> None:
        if register and name in REGISTRY:
            raise ValueError(f"primitive {name!r} is already registered")
        self.name = name
        self.node_name = "".join(part.capitalize() for part in name.split("_")) + "Backward"
        self.forward = forward
        self.vjps = tuple(vjps) if vjps is not None else None
        self.vjp_all = vjp_all      # variadic primitives: one rule, told which input
        self.vjp_joint = vjp_joint  # one rule returning every input's gradient at once
        self.saves = None if saves is None else frozenset(saves)
        self.saves_output = saves_output
        self.saves_shapes = saves_shapes
        arity = len(self.vjps) if self.vjps is not None else None
        self._keeps_all = saves is None or (
            arity is not None and self.saves.issuperset(range(arity)))
        self._keeps_none = saves is not None and not saves and not saves_shapes
        self.accumulators = None
        if register:  # unregistered: mg.autograd.Function's, which need no gradient test here
            REGISTRY[name] = self

    def __repr__(self) -> str:
        return f"<minigrad primitive {self.name}>"

    @property
    def accumulators(self) -> Optional[dict]:
        """Optional fast paths for plain backward: {input index: fn(gradient_sum, g, out,
        *args, **params) -> bool} adding the contribution straight into a GradientSum."""
        return self._accumulators

    @accumulators.setter
    def accumulators(self, value: Optional[dict]) -> None:
        self._accumulators = value
        # What plain backward runs input by input (None: it takes every share at once).
        self.rule_by_rule = self.vjps if value is None else None

    def _odd_input(self, value: Any) -> TypeError:
        return TypeError(f"{self.name}: expected tensors or numbers as inputs, got "
                         f"{type(value).__name__} {value!r}")

    def _device_error(self, first: Any, second: Any) -> RuntimeError:
        return RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            f"{first.device} and {second.device}! (when checking arguments for {self.name})")

    def _kept(self, inputs: tuple, args: list) -> list:
        """The arrays the rules read when only some inputs are saved: the others leave a
        Spec (their shape) or nothing; constants always stay."""
        kept = list(args)
        for i, v in enumerate(inputs):
            if i not in self.saves and isinstance(v, Tensor):
                kept[i] = Spec(kept[i]) if self.saves_shapes else None
        return kept

    def __call__(self, *inputs: Any, **params: Any) -> "Tensor":
        """Apply to any inputs (tensors, numbers, lists, arrays) and record the result;
        operators and elementwise methods take :meth:`binary` and :meth:`unary` first."""
        backend, args, edges, needs_grad, odd = self._prepare(inputs)
        try:
            out = self.forward(backend, *args, **params) if params else \
                self.forward(backend, *args)
        except (ValueError, TypeError, IndexError, OverflowError, AttributeError) as exc:
            if isinstance(exc, AttributeError) and odd is _NOTHING:
                raise  # not about the inputs: a bug, never relabelled
            raise self._forward_error(exc, backend, args, params, odd) from exc
        if odd is not _NOTHING and getattr(out, "dtype", None) == object:
            raise self._odd_input(odd)  # NumPy made an array of Python objects of it
        if self.moves_device:
            backend = params["target"]
        return self._output(out, backend, args, tuple(edges) if needs_grad else None,
                            params or NO_PARAMS,
                            inputs)

    def unary(self, x: Any) -> "Tensor":
        """``op(x)`` for the elementwise functions and methods (``x.tanh()``, ``-x``): a
        float tensor goes straight to the forward, without :meth:`__call__`'s general
        preparation of any inputs (a third of the op's cost on small tensors)."""
        if type(x) is not Tensor or x._data.dtype.kind not in "fc":
            return self(x)
        return self.float_unary(x)

    def float_unary(self, x: "Tensor") -> "Tensor":
        """:meth:`unary` for a float or complex tensor, for callers that have checked that
        already (``mg.tanh``'s promotion of integers)."""
        backend = x._backend
        a = x._data
        try:
            out = self.forward(backend, a)
        except (ValueError, TypeError, IndexError, OverflowError):
            return self(x)  # the general path says what is wrong, naming the op
        node = x._node
        return self._output(out, backend, (a,), (x if node is None else node,)
                            if x._requires_grad else None, NO_PARAMS, (x,),
                            None if node is None else node.shape)

    def binary(self, x: Any, y: Any) -> "Tensor":
        """``x op y`` for the operators: a float tensor with a tensor of its device and
        dtype, or with a Python float on either side, goes straight to the forward (see
        :meth:`unary`); anything else takes :meth:`__call__`."""
        # like: the node of the result's shape (with a number on one side, the tensor's)
        if type(x) is Tensor:
            backend = x._backend
            a = x._data
            if a.dtype.kind != "f":
                return self(x, y)
            edge_x = (x if x._node is None else x._node) if x._requires_grad else None
            if type(y) is Tensor:
                b = y._data
                if y._backend is not backend or b.dtype is not a.dtype:
                    return self(x, y)
                edge_y = (y if y._node is None else y._node) if y._requires_grad else None
                like = None
            elif type(y) is float:
                b = _constant(y, a.dtype, backend)
                edge_y = None
                like = x._node
            else:
                return self(x, y)
        elif type(x) is float and type(y) is Tensor and y._data.dtype.kind == "f":
            backend = y._backend
            b = y._data
            a = _constant(x, b.dtype, backend)
            edge_x = None
            edge_y = (y if y._node is None else y._node) if y._requires_grad else None
            like = y._node
        else:
            return self(x, y)
        try:
            out = self.forward(backend, a, b)
        except (ValueError, TypeError, IndexError, OverflowError):
            return self(x, y)  # the general path says what is wrong, naming the op
        return self._output(out, backend, (a, b), None if edge_x is None and edge_y is None
                            else (edge_x, edge_y), NO_PARAMS, (x, y),
                            None if like is None else like.shape)

    def _output(self, out: Any, backend: Any, args: Sequence, edges: Optional[tuple],
                params: Any, inputs: tuple, shape: Optional[tuple] = None) -> "Tensor":
        """The forward's result as a Tensor, recorded on the tape (when grad mode is on)
        with ``edges``: per input, the Node or leaf its gradient goes to (None: nothing
        needs a gradient). ``shape``: ``out.shape`` when the caller has it already (an
        elementwise op's input node's, the same tuple: one object less on the tape)."""
        if type(out) is not backend.ndarray:
            out = backend.xp.asarray(out)
        t = _new(Tensor)  # Tensor._wrap, inlined: this runs once per op
        t._data = out
        t._backend = backend
        t.grad = None
        t._version = 0
        t._hooks = None
        if edges is not None and _grad_mode.enabled:
            t._requires_grad = True
            if self._keeps_all:
                kept = args
            elif self._keeps_none:
                kept = _NONES[len(args)] if len(args) < 4 else (None,) * len(args)
            else:
                kept = self._kept(inputs, args)
            t._node = node = _new_list(Node)  # Node(...) inlined: it runs once per op
            node.extend(edges)
            node.prim = self
            node.args = kept
            node.out = out if self.saves_output else None
            node.params = params
            node.seq = next(clock)
            node.shape = out.shape if shape is None else shape
            node.dtype = out.dtype
            node.backend = backend
            node.extra = None
            if anomaly_mode.enabled:
                node.more().trace = forward_trace()
        else:
            t._requires_grad = False
            t._node = None
        return t

    def _prepare(self, inputs: tuple) -> tuple:
        """(backend, arrays, edges, needs_grad, odd input) for any inputs: dtypes promoted
        as PyTorch does, host arrays and lists moved to the tensors' device, numbers alone
        made tensors, and what is neither tensor nor number kept to be named."""
        backend = None
        dtype = None
        args = []
        edges = []
        needs_grad = False
        floats = False
        mixed = False  # operands whose dtypes may need PyTorch's promotion
        odd = _NOTHING  # an input that is neither a tensor nor a number
        for value in inputs:
            if type(value) is Tensor or isinstance(value, Tensor):
                if backend is None:
                    backend = value._backend
                    dtype = value._data.dtype
                elif value._backend is not backend:
                    raise self._device_error(backend, value._backend)
                elif value._data.dtype is not dtype:
                    mixed = True
                args.append(value._data)
                if value._requires_grad:
                    needs_grad = True
                    edges.append(value if value._node is None else value._node)
                else:
                    edges.append(None)
            else:
                if type(value) is float:
                    floats = True
                elif type(value) is complex:
                    mixed = True  # PyTorch's promotion: the default complex dtype
                elif isinstance(value, (list, tuple)):
                    value = tensor(value, device="cpu")._data  # uploaded below
                    mixed = True
                    if value.dtype.kind not in "biufc":
                        raise TypeError(f"{self.name}: a list input must hold numbers, got "
                                        f"dtype {value.dtype}")
                elif type(value) is not int and hasattr(value, "dtype"):
                    mixed = True  # an array or a NumPy scalar
                elif isinstance(value, (str, bytes, dict, set)):  # never an operand
                    raise TypeError(f"{self.name}: expected tensors or numbers as inputs, got "
                                    f"{type(value).__name__} {value!r}")
                elif type(value) is not int and not isinstance(value, Number):
                    odd = value  # None (an absent optional input) or a stranger: see below
                args.append(value)
                edges.append(None)
        if backend is None:  # numbers only: as tensors, in mg.tensor's dtypes (not NumPy's)
            backend = current_backend()
            try:
                if self.promotes is not None:
                    args = promote(args, self.promotes, backend, self.true_divide)
                args = [tensor(a)._data if isinstance(a, Number) else a for a in args]
            except OverflowError as exc:  # a Python int beyond int64
                raise renamed(self.name, exc) from exc
        elif self.promotes is not None and (
                mixed or dtype.kind not in "fc" and (floats or self.true_divide)):
            args = promote(args, self.promotes, backend, self.true_divide)
        elif floats and dtype.kind == "f":
            args = [_constant(a, dtype, backend) if type(a) is float else a for a in args]
        if mixed:  # host arrays (and lists) go to the tensors' device, on every backend alike
            args = [backend.operand(a) for a in args]
        return backend, args, edges, needs_grad, odd

    def _forward_error(self, exc: Exception, backend: Any, args: list, params: dict,
                       odd: Any) -> Exception:
        """The forward's error as the user should see it: naming this op, and what does
        not fit (an odd input, the call's signature, the input shapes)."""
        if odd is not _NOTHING:
            return self._odd_input(odd)
        try:
            inspect.signature(self.forward).bind(backend, *args, **params)
        except TypeError as mismatch:
            return TypeError(f"{self.name}: {mismatch}")
        shapes = " and ".join(str(tuple(a.shape)) for a in args if backend.is_array(a))
        return renamed(self.name, exc, f" (input shapes {shapes})")


# The builtin type an error from inside an op is raised again as (NumPy's own classes,
# such as AxisError or UFuncTypeError, included); an overflow is PyTorch's RuntimeError.
_BUILTIN = (IndexError, TypeError, ValueError, RuntimeError)


def renamed(op: str, exc: Exception, detail: str = "") -> Exception:
    """``exc`` as a builtin exception whose message starts with ``op``'s name."""
    kind = RuntimeError if isinstance(exc, OverflowError) else \
        next(t for t in _BUILTIN if isinstance(exc, t))
    out = kind(f"{op}: {exc}{detail}")
    for note in getattr(exc, "__notes__", ()):  # e.g. anomaly detection's forward traceback
        out.add_note(note)
    return out


def as_input(op: str, value: Any, what: str = "input") -> "Tensor":
    """A tensor input of an op that is not itself a primitive: numbers, lists and arrays
    become tensors as mg.tensor makes them (as a primitive's inputs do); anything else is
    refused with the op's name."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (Number, list, tuple)) or hasattr(value, "dtype"):
        out = tensor(value)
        if out.dtype.kind in "biufc":
            return out
    raise TypeError(f"{op}: {what} must be a tensor, got {type(value).__name__} {value!r}")


def unchanged(xp: Any, g: Any, y: Any, *args: Any, **params: Any) -> Any:
    """The rule of an input whose gradient is the output's as it is (both inputs of add,
    the first of subtract): plain backward hands ``g`` on without calling it."""
    return g


def primitive(name: str, forward: Callable[..., Any], *vjps: Optional[Rule],
              saves: Optional[Sequence[int]] = None, saves_output: bool = True,
              saves_shapes: bool = False) -> Primitive:
    """Declare a primitive with one gradient rule per input (None: not differentiable)
    and what those rules read (see :class:`Primitive`)."""
    return Primitive(name, forward, vjps=vjps, saves=saves, saves_output=saves_output,
                     saves_shapes=saves_shapes)


def joint_primitive(name: str, forward: Callable[..., Any], vjp: Rule,
                    saves: Optional[Sequence[int]] = None, saves_output: bool = True,
                    saves_shapes: bool = False) -> Primitive:
    """Declare a primitive whose inputs' gradients share most of their work: ``vjp``
    returns a tuple with one gradient (or None) per input, computed in one go."""
    return Primitive(name, forward, vjp_joint=vjp, saves=saves, saves_output=saves_output,
                     saves_shapes=saves_shapes)


def variadic_primitive(name: str, forward: Callable[..., Any], vjp: Rule,
                       saves: Optional[Sequence[int]] = None, saves_output: bool = True,
                       saves_shapes: bool = False) -> Primitive:
    """Declare a primitive over any number of inputs; ``vjp`` receives ``index=``."""
    return Primitive(name, forward, vjp_all=vjp, saves=saves, saves_output=saves_output,
                     saves_shapes=saves_shapes)


from .tensor import Tensor, tensor  # noqa: E402  (Tensor methods call primitives)
from .autograd.anomaly import anomaly_mode, forward_trace  # noqa: E402
