"""Reverse-mode differentiation: replaying the tape backwards.

Nodes carry their position on the tape. Backward keeps a heap of the nodes
whose gradient has started to arrive and always expands the latest one, so a
node is visited only after every consumer has added its share (a tensor used
several times receives the sum). The walk is iterative: a 20,000-step unrolled
recurrence is just a long heap, not a deep recursion.
"""
from __future__ import annotations

import heapq
from typing import Any, Optional, Sequence, Union

from .. import grad_mode, primitive
from ..gradient_sum import GradientSum
from ..primitive import Node, Spec, memory_owner, unchanged, writes
from ..tensor import Tensor
from .anomaly import check_gradients, is_anomaly_check_nan_enabled

TensorOrTensors = Union[Tensor, Sequence[Tensor]]

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to use its saved values "
    "after they were freed). Saved values are freed by backward() and grad(); pass "
    "retain_graph=True to the first backward if you need to go through the graph again.")


def unbroadcast(grad: Any, shape: tuple, dtype: Any, backend: Any = None) -> Any:
    """Sum ``grad`` over the axes that broadcasting added to an input of ``shape``.

    This is the one place that undoes broadcasting; rules never do. It works on
    arrays and on Tensors alike (both have ``.sum``, ``.reshape``, ``.astype``). Given
    the arrays' ``backend``, the sum over the first axis of a 2-D gradient into a 1-D
    input (a bias's) is its ``sum_rows``.
    """
    gshape = grad.shape
    if gshape != shape:
        lead = len(gshape) - len(shape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
        if backend is not None and lead == 1 == len(axes) and len(gshape) == 2:
            grad = backend.sum_rows(grad)
        elif axes:
            grad = grad.sum(axis=axes)
        if grad.shape != shape:
            grad = grad.reshape(shape)
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def _as_list(tensors: Optional[TensorOrTensors]) -> list:
    if tensors is None:
        return []
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _initial_grads(outputs: list, grad_outputs: list, create_graph: bool) -> list:
    grads = []
    for out, g in zip(outputs, grad_outputs):
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this output has "
                    f"shape {out.shape}, so pass `gradient=` (a tensor of that shape)")
            g = out._backend.ones_like(out._data)
        elif isinstance(g, Tensor):
            if g.shape != out.shape:
                raise RuntimeError(f"gradient has shape {g.shape} but the output has shape "
                                   f"{out.shape}; they must match")
            if g._backend is not out._backend:
                raise RuntimeError(f"gradient is on device {g.device} but the output is on "
                                   f"{out.device}")
            g = g if create_graph else g._data
        else:
            g = out._backend.asarray(g, dtype=out.dtype)
            if g.shape != out.shape:
                raise RuntimeError(f"gradient has shape {g.shape} but the output has shape "
                                   f"{out.shape}; they must match")
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._wrap(g, out._backend)
        grads.append(g)
    return grads


def _run_hooks(hooks: list, g: Any, backend: Any, create_graph: bool) -> Any:
    for hook in list(hooks):
        wrapped = g if create_graph else Tensor._wrap(g, backend)
        result = hook(wrapped)
        if result is not None:
            if not isinstance(result, Tensor):
                result = Tensor._wrap(backend.asarray(result), backend)
            g = result if create_graph else result._data
    return g


def _modified_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"one of the tensors needed to compute the gradient of '{node.prim.name}' was "
        "modified by an in-place operation after it was used; compute a new tensor "
        "instead of modifying it in place (or modify it only after backward)")


def _check_saved(node: Node) -> None:
    """Refuse a released node, and values changed in place after this node saved them
    (they would give wrong gradients)."""
    if node.args is None:
        raise RuntimeError(FREED_MESSAGE)
    if not writes:
        return  # nothing was ever written in place
    seq = node.seq
    for a in (node.out, *node.args):
        if hasattr(a, "base") and writes.get(id(memory_owner(a)), 0) > seq:
            raise _modified_error(node)


def _as_tensors(node: Node) -> tuple:
    """The node's output and saved inputs as Tensors on the tape (for create_graph)."""
    out = None
    if node.out is not None:
        out = _on_tape(node.out, node, node.backend)
    saved = None if node.extra is None else node.extra.saved
    if saved is not None:  # a Function's saved tensors
        args = [v if isinstance(v, Tensor) else a for v, a in zip(saved, node.args)]
    else:  # a primitive's inputs: the arrays it read, put back on the tape by their edges
        args = [_on_tape(a, edge, node.backend) for a, edge in zip(node.args, node.edges)]
    return out, args


def _on_tape(array: Any, edge: Any, backend: Any) -> Any:
    """``array``, read by a rule, as the Tensor it was made from: the leaf itself, a
    Tensor of the node that made it, or one that needs no gradient. What is not an array
    (a number, an unsaved input's Spec or None) stays as it is."""
    if array is None or type(array) is Spec or not backend.is_array(array):
        return array
    if edge is not None and type(edge) is not Node:
        return edge  # a leaf tensor
    t = Tensor._wrap(array, backend)
    if edge is not None:
        t._requires_grad = True
        t._node = edge
    return t


def _meta(edge: Any) -> tuple:
    """(backend, shape, dtype) of the tensor behind an edge (a Node or a leaf Tensor)."""
    if type(edge) is Node:
        return edge.backend, edge.shape, edge.dtype
    return edge._backend, edge._data.shape, edge._data.dtype


def input_gradient(prim: Any, i: int, xp: Any, g: Any, out: Any, args: Any,
                   params: Any) -> Any:
    """Input ``i``'s gradient share by its primitive's rule (None: not differentiable)."""
    if prim.vjps is None:
        return prim.vjp_all(xp, g, out, *args, index=i, **params)
    rule = prim.vjps[i] if i < len(prim.vjps) else None
    return None if rule is None else rule(xp, g, out, *args, **params)


def node_gradients(node: Node, xp: Any, g: Any, out: Any, args: Any, params: Any) -> tuple:
    """Every input's gradient share from one node (None where there is none)."""
    prim = node.prim
    if prim.vjp_joint is not None:
        return tuple(prim.vjp_joint(xp, g, out, *args, **params))
    return tuple(None if edge is None else input_gradient(prim, i, xp, g, out, args, params)
                 for i, edge in enumerate(node.edges))


def run_backward(outputs: list, grad_outputs: list, retain_graph: bool, create_graph: bool,
                 capture: Optional[list] = None) -> Optional[dict]:
    """Propagate gradients from ``outputs`` to everything they depend on.

    Gradients flow along edges: to upstream Nodes (visited latest-first from a heap)
    and to leaf Tensors (accumulated into ``.grad`` at the end). With ``capture`` (a
    list of tensors) the gradients reaching those tensors are returned, keyed by
    ``id`` of the tensor, and no ``.grad`` is touched (``mg.grad``).

    A leaf with hooks is finished (hooks run, ``.grad`` written) as soon as its last
    contribution arrives, not at the end of the walk, as in PyTorch: distributed data
    parallel starts averaging a bucket of gradients while the rest of backward runs.
    """
    from .. import ops  # the Tensor namespace rules use when recording (create_graph)
    # Keyed by the edge itself (a Node or a leaf Tensor; both hash by identity).
    pending: dict = {}   # edge -> gradient so far (array, Tensor or GradientSum)
    leaves: list = []    # leaf tensors that received a gradient, in arrival order
    heap: list = []      # (-position on the tape, node): latest node first
    captured = None      # edge -> gradient, for mg.grad's inputs
    if capture is not None:
        captured = {(t._node if t._node is not None else t): None for t in capture}
    handed_out = set()   # arrays already given to someone: never alias them into .grad
    hooked: list = []    # leaves with hooks that received a gradient (finished early)
    to_come: Optional[dict] = None  # id(leaf) -> edges from nodes not yet run
    finished: set = set()
    heappush, heappop = heapq.heappush, heapq.heappop
    detect = is_anomaly_check_nan_enabled()  # anomaly mode: check gradients for nan/inf

    def schedule(edge: Any) -> None:
        if type(edge) is Node:
            heappush(heap, (-edge.seq, edge))
        else:
            leaves.append(edge)
            if edge._hooks:
                hooked.append(edge)

    def receive(edge: Any, g: Any) -> None:
        previous = pending.get(edge)
        if previous is None:
            pending[edge] = g
            schedule(edge)
        elif create_graph:
            pending[edge] = previous + g
        elif type(previous) is GradientSum:
            previous.add(g)
        else:  # second contribution: from now on sum in place into one buffer
            total = GradientSum(*_meta(edge))
            total.add(previous)
            total.add(g)
            pending[edge] = total

    def gradient_sum(edge: Any) -> GradientSum:
        previous = pending.get(edge)
        if type(previous) is GradientSum:
            return previous
        total = GradientSum(*_meta(edge))
        if previous is None:
            schedule(edge)
        else:
            total.add(previous)
        pending[edge] = total
        return total

    def collect(edge: Any) -> Any:
        g = pending.pop(edge)
        return g.total() if type(g) is GradientSum else g

    def finish(t: Tensor) -> None:
        """The leaf's gradient is complete: run its hooks, store or capture it."""
        g = collect(t)
        if t._hooks:
            g = _run_hooks(t._hooks, g, t._backend, create_graph)
        if captured is not None:
            if t in captured:
                captured[t] = g
        else:
            _accumulate(t, g, create_graph, handed_out)
        finished.add(id(t))

    def finish_complete_leaves(node: Node, upcoming: Optional[Node]) -> None:
        """After ``node`` ran: finish the hooked leaves no remaining node contributes to
        (those still to run: the heap's and ``upcoming``)."""
        nonlocal to_come
        if to_come is None:  # the first hooked leaf: count what is still to come
            to_come = _leaf_edges_to_come([n for _, n in heap] +
                                          ([] if upcoming is None else [upcoming]))
            done = [t for t in hooked if to_come.get(id(t), 0) == 0]
        else:
            done = []
            for e in node.edges:
                if e is not None and type(e) is not Node and id(e) in to_come:
                    to_come[id(e)] -= 1
                    if to_come[id(e)] == 0 and e._hooks:
                        done.append(e)
        for t in done:
            if t in pending:
                finish(t)

    def visit_extra(node: Node, g: Any) -> Any:
        """A node's hooks and retain_grad, rarely there: the gradient hooks leave."""
        extra = node.extra
        if extra.hooks:
            g = _run_hooks(extra.hooks, g, node.backend, create_graph)
        if extra.retained is not None and capture is None:
            kept = extra.retained()
            if kept is not None:
                _accumulate(kept, g, create_graph, handed_out)
        return g

    def all_shares(node: Node, xp: Any, g: Any, out: Any, args: Any, params: Any) -> tuple:
        """Every input's share at once (None: none), for the nodes the loop does not run
        rule by rule: joint and variadic rules, anomaly detection's checked gradients,
        and accumulators that add a share straight into the upstream gradient buffer."""
        if detect:
            return check_gradients(node, node_gradients, xp, g, out, args, params)
        accumulators = None if create_graph else node.prim.accumulators
        if accumulators is None:
            return node_gradients(node, xp, g, out, args, params)
        shares = []
        for i, edge in enumerate(node.edges):
            if edge is None or i in accumulators and \
                    accumulators[i](gradient_sum(edge), g, out, *args, **params):
                shares.append(None)
            else:
                shares.append(input_gradient(node.prim, i, xp, g, out, args, params))
        return tuple(shares)

    for out, g in zip(outputs, grad_outputs):
        if not out._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have "
                               "a grad_fn; call .requires_grad_() on the inputs you need "
                               "gradients for")
        handed_out.add(id(g))
        receive(out._node if out._node is not None else out, g)

    with grad_mode.set_grad_enabled(create_graph):
        # The next node when it is the latest of all, with its gradient: a chain skips the
        # heap and the pending map (a second contribution to it moves it into the map).
        upcoming = upcoming_g = None
        while heap or upcoming is not None:
            if upcoming_g is not None and (not heap or upcoming.seq > -heap[0][0]):
                node, g = upcoming, upcoming_g  # a chain's next link
            else:
                if upcoming is not None:
                    if upcoming_g is not None:
                        pending[upcoming] = upcoming_g
                    heappush(heap, (-upcoming.seq, upcoming))
                _, node = heappop(heap)
                g = pending.pop(node)
                if type(g) is GradientSum:
                    g = g.total()
            upcoming = upcoming_g = None
            if node.extra is not None:
                g = visit_extra(node, g)
            if captured is not None and node in captured:
                captured[node] = g
            if node.args is None or primitive.last_write > node.seq:
                _check_saved(node)  # released, or maybe written in place since it ran
            prim = node.prim
            params = node.params
            if create_graph:
                xp = ops
                out, args = _as_tensors(node)
            else:
                xp = node.backend
                out = node.out
                args = node.args
            shares = None if detect else prim.vjps if create_graph else prim.rule_by_rule
            computed = shares is None
            if computed:  # all at once: a joint or variadic rule, an accumulator, a check
                shares = all_shares(node, xp, g, out, args, params)
            for i, edge in enumerate(node):  # a node is the list of its edges
                if edge is None:
                    continue
                try:
                    share = shares[i]  # a gradient, or its rule
                except IndexError:
                    break  # no rule for the inputs past the declared ones
                if share is None:
                    continue  # not differentiable w.r.t. this input: zero gradient
                if computed:
                    pg = share
                elif share is unchanged:
                    pg = g
                else:
                    pg = share(xp, g, out, *args, **params) if params else \
                        share(xp, g, out, *args)
                    if pg is None:
                        continue
                if type(edge) is Node:
                    # The same shape object, not (): an elementwise op's input and output
                    # (its share has that shape too, so only the dtype needs a look).
                    if (node.shape is not edge.shape or not edge.shape) and \
                            pg.shape != edge.shape or \
                            pg.dtype is not edge.dtype and pg.dtype != edge.dtype:
                        pg = unbroadcast(pg, edge.shape, edge.dtype,
                                         xp if xp is not ops else None)
                    if upcoming is None and edge not in pending:  # a chain's next link
                        upcoming, upcoming_g = edge, pg
                    elif edge is upcoming:  # more than one contribution: sum in the map
                        if upcoming_g is not None:
                            pending[edge] = upcoming_g
                            upcoming_g = None
                        receive(edge, pg)
                    elif edge in pending:
                        receive(edge, pg)
                    elif edge.seq > upcoming.seq:  # a later first contribution: it is next
                        if upcoming_g is not None:
                            pending[upcoming] = upcoming_g
                        heappush(heap, (-upcoming.seq, upcoming))
                        upcoming, upcoming_g = edge, pg
                    else:
                        pending[edge] = pg
                        heappush(heap, (-edge.seq, edge))
                else:
                    data = edge._data
                    if pg.shape != data.shape or pg.dtype is not data.dtype and \
                            pg.dtype != data.dtype:
                        pg = unbroadcast(pg, data.shape, data.dtype,
                                         xp if xp is not ops else None)
                    previous = pending.get(edge)
                    if previous is None:
                        pending[edge] = pg
                        leaves.append(edge)
                        if edge._hooks:
                            hooked.append(edge)
                    elif type(previous) is GradientSum:  # a weight's T-th share, inlined
                        previous.add(pg)
                    else:
                        receive(edge, pg)
            if hooked:
                finish_complete_leaves(node, upcoming)
            if not retain_graph:  # release the saved values
                node.args = node.out = None
                if node.extra is not None:
                    node.extra.saved = None

        for t in leaves:
            if id(t) not in finished:
                finish(t)
    if captured is not None:
        return {id(t): captured[t._node if t._node is not None else t] for t in capture}
    return None


def _leaf_edges_to_come(nodes: list) -> dict:
    """For each leaf, how many edges reach it from ``nodes`` (those still to run) and
    upstream of them: the contributions it may still receive (iterative, like the walk)."""
    counts: dict = {}
    seen: set = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in node.edges:
            if e is None:
                continue
            if type(e) is Node:
                if id(e) not in seen:
                    stack.append(e)
            else:
                counts[id(e)] = counts.get(id(e), 0) + 1
    return counts


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed_out: set) -> None:
    """Add ``g`` into ``t.grad``: in place when that is safe, on the tape when recording."""
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
        return
    if t.grad is None or t.grad._requires_grad:
        owned = getattr(g, "base", None) is None and id(g) not in handed_out \
            and getattr(g, "flags", None) is not None
        array = g if owned else g.copy()
        handed_out.add(id(array))
        t.grad = Tensor._wrap(array, t._backend) if t.grad is None else \
            Tensor._wrap(t.grad._data + array, t._backend)
    else:
        t.grad._data += g
        t.grad._mark_modified()


def backward(tensors: TensorOrTensors, grad_tensors: Any = None, retain_graph: bool = False,
             create_graph: bool = False, inputs: Optional[Sequence[Tensor]] = None) -> None:
    """Accumulate the gradient of ``tensors`` into the ``.grad`` of every leaf."""
    outputs = _as_list(tensors)
    if grad_tensors is None:
        grad_list = [None] * len(outputs)
    elif isinstance(tensors, Tensor):
        grad_list = [grad_tensors]
    else:
        grad_list = list(grad_tensors)
    retain_graph = retain_graph or create_graph
    if inputs is not None:
        found = run_backward(outputs, _initial_grads(outputs, grad_list, create_graph),
                             retain_graph, create_graph, capture=list(inputs))
        for t in inputs:
            g = found[id(t)]
            if g is not None:
                _accumulate(t, g, create_graph, set())
        return
    run_backward(outputs, _initial_grads(outputs, grad_list, create_graph),
                 retain_graph, create_graph)


def grad(outputs: TensorOrTensors, inputs: TensorOrTensors, grad_outputs: Any = None,
         retain_graph: Optional[bool] = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """Return d(outputs)/d(inputs) as a tuple of Tensors, leaving ``.grad`` untouched."""
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    if grad_outputs is None:
        g_outs = [None] * len(outs)
    elif isinstance(grad_outputs, Tensor):
        g_outs = [grad_outputs]
    else:
        g_outs = list(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    for t in ins:
        if not t._requires_grad:
            raise RuntimeError("one of the inputs does not require grad; set requires_grad=True")
    found = run_backward(outs, _initial_grads(outs, g_outs, create_graph),
                         retain_graph, create_graph, capture=ins)
    result = []
    for i, t in enumerate(ins):
        g = found[id(t)]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"input {i} was not used to compute the outputs; pass allow_unused=True "
                    "to get None for it")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor._wrap(g, t._backend))
    return tuple(result)
