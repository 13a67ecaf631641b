"""Graph pictures: the DOT text of a recorded graph (no Graphviz needed), and rendering
it when Graphviz's ``dot`` is installed."""
import re
import shutil
from collections import Counter

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn


class Cell(nn.Module):
    """An Elman cell written out in primitives, so the expected graph is known exactly."""

    def __init__(self, inputs, hidden):
        super().__init__()
        self.weight_ih = nn.Parameter(mg.randn(inputs, hidden) * 0.3)
        self.weight_hh = nn.Parameter(mg.randn(hidden, hidden) * 0.3)
        self.bias = nn.Parameter(mg.zeros(hidden))

    def forward(self, x, h):
        return mg.tanh(x @ self.weight_ih + h @ self.weight_hh + self.bias)


class TinyRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = Cell(3, 4)

    def forward(self, xs):
        h = mg.zeros(xs.shape[1], 4)
        for x in xs:
            h = self.cell(x, h)
        return h.sum()


_NODE = re.compile(r'^\s+(\w+) \[label="((?:[^"\\]|\\.)*)"', re.M)


def _parse(dot):
    """{id: label lines} and [(src, dst)] from the DOT text."""
    nodes = {m.group(1): m.group(2).split("\\n") for m in _NODE.finditer(dot)}
    edges = re.findall(r"^\s+(\w+) -> (\w+);", dot, re.M)
    return nodes, edges


def test_a_tiny_rnn_loss_graph():
    steps = 3
    model = TinyRNN()
    loss = model(mg.randn(steps, 2, 3))
    dot = mg.viz.to_dot(loss, params=dict(model.named_parameters()))
    assert dot.startswith('digraph "minigrad" {') and dot.endswith("}\n")
    nodes, edges = _parse(dot)
    ops = Counter(label[0] for label in nodes.values())
    # per step: two matmuls, two adds, one tanh; then the sum; then the output box
    assert ops == Counter({"MatmulBackward": 2 * steps, "AddBackward": 2 * steps,
                           "TanhBackward": steps, "SumBackward": 1, "output": 1,
                           "cell.weight_ih": 1, "cell.weight_hh": 1, "cell.bias": 1})
    by_name = {label[0]: node for node, label in nodes.items()}
    assert nodes[by_name["cell.weight_hh"]] == ["cell.weight_hh", "(4, 4) float32"]
    assert nodes[by_name["cell.bias"]] == ["cell.bias", "(4,) float32"]
    assert nodes[by_name["output"]] == ["output", "() float32"]
    uses = Counter(src for src, _ in edges)
    for name in ("cell.weight_ih", "cell.weight_hh", "cell.bias"):
        assert uses[by_name[name]] == steps  # one edge per time step: backward sums them
    # each step: 7 edges, plus the recurrent one from the previous tanh (not at step 0,
    # whose state is a constant); the sum's input; the output's
    assert len(edges) == 7 * steps + (steps - 1) + 1 + 1
    assert not [dst for src, dst in edges if src == by_name["output"]]  # the sink


def test_labels_shapes_dtypes_and_unnamed_leaves():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)  # float64
    y = (x * x).sum(1)
    nodes, edges = _parse(mg.viz.to_dot(y))
    labels = sorted(nodes.values())
    assert labels == [["MultiplyBackward", "(2, 3) float64"], ["SumBackward", "(2,) float64"],
                      ["leaf", "(2, 3) float64"], ["output", "(2,) float64"]]
    assert len(edges) == 4  # x feeds the product twice


def test_several_outputs_a_leaf_output_and_escaped_names():
    w = nn.Parameter(mg.ones(2))
    a, b = w * 2, w.exp()
    dot = mg.viz.to_dot([a, b, w], params={'odd "name"\\': w})
    nodes, edges = _parse(dot)
    assert sorted(label[0] for label in nodes.values()) == [
        "ExpBackward", "MultiplyBackward", "odd \\\"name\\\"\\\\",
        "output 0", "output 1", "output 2"]
    assert len(edges) == 4  # w -> mul, w -> exp, mul -> out0, exp -> out1


def test_a_long_unrolled_chain_does_not_recurse():
    x = mg.ones(1, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    nodes, edges = _parse(mg.viz.to_dot(y))
    assert len(nodes) == 5002 and len(edges) == 5001


def test_the_dot_text_is_deterministic_and_survives_backward():
    model = TinyRNN()
    loss = model(mg.randn(2, 1, 3))
    before = mg.viz.to_dot(loss, dict(model.named_parameters()))
    loss.backward()
    assert mg.viz.to_dot(loss, dict(model.named_parameters())) == before


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="needs a Tensor or a sequence of Tensors"):
        mg.viz.to_dot(np.ones(2))
    with pytest.raises(TypeError, match=r"params\['w'\] is a ndarray"):
        mg.viz.to_dot(mg.ones(2), params={"w": np.ones(2)})


def test_render_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    dot = mg.viz.to_dot(mg.ones(2))
    with pytest.raises(RuntimeError, match="needs Graphviz's 'dot' program.*install graphviz"):
        mg.viz.render(dot, tmp_path / "graph.svg")
    assert mg.viz.render(dot, tmp_path / "graph.dot") == str(tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text() == dot
    with pytest.raises(ValueError, match="cannot tell the format"):
        mg.viz.render(dot, tmp_path / "graph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_render_svg_and_png(tmp_path):
    model = TinyRNN()
    dot = mg.viz.to_dot(model(mg.randn(2, 1, 3)), dict(model.named_parameters()))
    mg.viz.render(dot, tmp_path / "rnn.svg")
    svg = (tmp_path / "rnn.svg").read_text()
    assert "<svg" in svg and "cell.weight_hh" in svg
    mg.viz.render(dot, tmp_path / "rnn.png")
    assert (tmp_path / "rnn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(RuntimeError, match="Graphviz failed"):
        mg.viz.render("not dot at all {", tmp_path / "bad.svg")
