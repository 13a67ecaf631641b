"""Random graphs with shared nodes, checked against numerical differentiation.

A hypothesis state machine grows a graph over three float64 leaves of
broadcast-compatible shapes. Every rule records an instruction (so the graph can
be replayed as a plain function of the leaves) and applies it to live tensors;
nodes are drawn from a bundle, so one node routinely feeds several consumers.
The check rules build a loss from several nodes (some of them more than once),
backpropagate through the *same* live graph (``retain_graph=True``) and compare
every leaf's ``.grad`` and ``mg.grad`` with central differences of the replay.
"""
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant,
                                 multiple, rule)

import minigrad as mg

LEAF_SHAPES = [(2, 3), (3,), ()]

UNARY = {
    "tanh": mg.tanh,
    "sigmoid": mg.sigmoid,
    "neg": lambda x: -x,
    "half": lambda x: x * 0.5,
    "exp_tanh": lambda x: mg.exp(mg.tanh(x)),
    "softplus": lambda x: mg.log(1.0 + mg.exp(mg.tanh(x))),
    "square": lambda x: x * x,                      # the same node twice in one op
    "row_sum": lambda x: x.sum(axis=-1, keepdims=True) if x.ndim else x,
    "flip": lambda x: x[..., ::-1] if x.ndim else x,
    "copy": mg.copy,
}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul_tanh": lambda a, b: a * mg.tanh(b),
    "div": lambda a, b: a / (1.5 + mg.sigmoid(b)),
    "stack_sum": lambda a, b: mg.stack(_broadcast_pair(a, b)).sum(axis=0),
    "maximum": lambda a, b: mg.maximum(a, b * 0.5 + 0.25),  # continuous values: no ties
}


def _broadcast_pair(a, b):
    shape = np.broadcast_shapes(a.shape, b.shape)
    return [mg.broadcast_to(a, shape), mg.broadcast_to(b, shape)]


def replay(program, leaves):
    """Evaluate the recorded instructions on ``leaves``; returns every node."""
    nodes = list(leaves)
    for kind, name, args in program:
        fn = UNARY[name] if kind == "unary" else BINARY[name]
        nodes.append(fn(*(nodes[i] for i in args)))
    return nodes


def loss_of(nodes, picks):
    total = None
    for i, w in picks:
        term = (nodes[i] * w).sum()
        total = term if total is None else total + term
    return total


def numeric_grads(program, leaf_values, picks, eps=1e-6):
    grads = []
    for k, value in enumerate(leaf_values):
        g = np.zeros(value.shape)
        for idx in np.ndindex(*value.shape):
            out = []
            for delta in (eps, -eps):
                probe = [v.copy() for v in leaf_values]
                probe[k][idx] += delta
                with mg.no_grad():
                    nodes = replay(program, [mg.tensor(p) for p in probe])
                    out.append(loss_of(nodes, picks).item())
            g[idx] = (out[0] - out[1]) / (2 * eps)
        grads.append(g)
    return grads


class SharedNodeGraphs(RuleBasedStateMachine):
    nodes = Bundle("nodes")

    @initialize(target=nodes, seed=st.integers(0, 2 ** 16))
    def make_leaves(self, seed):
        rng = np.random.default_rng(seed)
        self.leaf_values = [rng.uniform(-1.0, 1.0, size=s) for s in LEAF_SHAPES]
        self.leaves = [mg.tensor(v, requires_grad=True) for v in self.leaf_values]
        self.live = list(self.leaves)
        self.program = []
        self.consumers = [0] * len(self.leaves)
        return multiple(*range(len(self.leaves)))

    def _record(self, kind, name, args):
        fn = UNARY[name] if kind == "unary" else BINARY[name]
        self.live.append(fn(*(self.live[i] for i in args)))
        self.program.append((kind, name, args))
        self.consumers.append(0)
        for i in args:
            self.consumers[i] += 1
        return len(self.live) - 1

    @rule(target=nodes, name=st.sampled_from(sorted(UNARY)), x=nodes)
    def unary(self, name, x):
        return self._record("unary", name, (x,))

    @rule(target=nodes, name=st.sampled_from(sorted(BINARY)), a=nodes, b=nodes)
    def binary(self, name, a, b):
        return self._record("binary", name, (a, b))

    @rule(picks=st.lists(st.tuples(nodes, st.sampled_from([1.0, -0.5, 2.0])), min_size=1,
                         max_size=4))
    def check_backward(self, picks):
        for leaf in self.leaves:
            leaf.grad = None
        loss = loss_of(self.live, picks)
        loss.backward(retain_graph=True)
        expected = numeric_grads(self.program, self.leaf_values, picks)
        for leaf, e in zip(self.leaves, expected):
            got = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
            np.testing.assert_allclose(got, e, rtol=1e-5, atol=1e-6)

    @rule(picks=st.lists(st.tuples(nodes, st.sampled_from([1.0, 3.0])), min_size=1,
                         max_size=3))
    def check_grad(self, picks):
        loss = loss_of(self.live, picks)
        before = [None if leaf.grad is None else leaf.grad.numpy().copy() for leaf in self.leaves]
        got = mg.grad(loss, self.leaves, retain_graph=True, allow_unused=True)
        expected = numeric_grads(self.program, self.leaf_values, picks)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(np.zeros(e.shape) if g is None else g.numpy(), e,
                                       rtol=1e-5, atol=1e-6)
        for leaf, b in zip(self.leaves, before):  # mg.grad leaves .grad alone
            assert (leaf.grad is None) == (b is None)
            if b is not None:
                np.testing.assert_array_equal(leaf.grad.numpy(), b)

    @invariant()
    def replay_matches_live_graph(self):
        if not hasattr(self, "program"):
            return
        with mg.no_grad():
            nodes = replay(self.program, [mg.tensor(v) for v in self.leaf_values])
        assert len(nodes) == len(self.live)
        np.testing.assert_allclose(nodes[-1].numpy(), self.live[-1].numpy())


SharedNodeGraphs.TestCase.settings = settings(settings.default, stateful_step_count=25)
TestSharedNodeGraphs = SharedNodeGraphs.TestCase


def test_the_machine_reuses_nodes():
    """The state machine's graphs do share nodes: a fixed run, counted."""
    machine = SharedNodeGraphs()
    try:
        indices = list(machine.make_leaves(seed=1).values)
        a = machine.unary("tanh", indices[0])
        b = machine.binary("mul_tanh", a, a)
        c = machine.binary("add", b, indices[1])
        machine.unary("square", c)
        machine.check_backward([(a, 1.0), (c, 2.0), (b, -0.5), (a, 2.0)])
        machine.check_grad([(c, 1.0)])
        assert max(machine.consumers) >= 2
    finally:
        machine.teardown()
