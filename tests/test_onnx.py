"""ONNX export: every supported layer, exported with dynamic axes, run in onnxruntime and
compared with minigrad's own forward (1e-5) at the traced sizes and at other sizes; the
graph's shape (one ONNX LSTM node per layer, parameters named by module path); and the
errors for what cannot be exported."""
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.nn.functional as F
import minigrad.onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import char_lstm  # noqa: E402  (the main job's model)


def _ort():
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


def export(model, args, **kwargs):
    """The exported model's bytes."""
    buf = io.BytesIO()
    minigrad.onnx.export(model, args, buf, **kwargs)
    return buf.getvalue()


def outputs(result):
    """A forward's tensors, flattened as the exporter flattens them."""
    if isinstance(result, mg.Tensor):
        return [result.numpy()]
    return [a for item in result if item is not None for a in outputs(item)]


def assert_runs_like(model, args, feeds, **kwargs):
    """Export ``model`` traced on ``args``; for each dict of named inputs in ``feeds``,
    onnxruntime's outputs must equal the model's. Returns the ONNX model."""
    ort = _ort()
    import onnx
    data = export(model, args, **kwargs)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)  # types, shapes
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    model.eval()
    for feed in feeds:
        got = session.run(None, {k: v.numpy() for k, v in feed.items()})
        with mg.no_grad():
            want = outputs(model(*feed.values()))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            assert g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    return onnx.load_from_string(data)


def op_types(proto):
    return [node.op_type for node in proto.graph.node]


def ints(*shape, high=10):
    return mg.tensor(np.random.randint(0, high, shape))


# -- layers ---------------------------------------------------------------------------------

def test_linear_stack_with_a_dynamic_batch_names_parameters_by_module_path():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    proto = assert_runs_like(model, (mg.randn(5, 4),), [{"x": mg.randn(b, 4)} for b in (5, 1, 9)],
                             input_names=["x"], output_names=["y"],
                             dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert sorted(i.name for i in proto.graph.initializer) == \
        ["0.bias", "0.weight", "2.bias", "2.weight"]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 4]
    assert proto.graph.output[0].name == "y"


def test_linear_on_three_dimensional_input_and_float64():
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    assert_runs_like(model, (mg.randn(2, 3, 4, dtype=mg.float64),),
                     [{"x": mg.randn(b, t, 4, dtype=mg.float64)} for b, t in ((2, 3), (5, 1))],
                     input_names=["x"], dynamic_axes={"x": {0: "b", 1: "t"}})


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_embedding_gathers_rows(dtype):
    model = nn.Embedding(10, 4, padding_idx=0)
    ids = mg.tensor(np.random.randint(0, 10, (3, 5)).astype(dtype))
    proto = assert_runs_like(
        model, (ids,), [{"ids": mg.tensor(np.random.randint(0, 10, s).astype(dtype))}
                        for s in ((3, 5), (1, 8))],
        input_names=["ids"], dynamic_axes={"ids": {0: "b", 1: "t"}})
    assert "Gather" in op_types(proto)


@pytest.mark.parametrize("conv", [
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 3), padding="same", dilation=(2, 1),
         groups=2, bias=False),
    dict(in_channels=3, out_channels=2, kernel_size=(1, 3), padding="valid"),
])
def test_conv2d_with_dynamic_batch_and_image_size(conv):
    model = nn.Conv2d(**conv)
    c = conv["in_channels"]
    proto = assert_runs_like(model, (mg.randn(2, c, 9, 9),),
                             [{"x": mg.randn(*s)} for s in ((2, c, 9, 9), (1, c, 12, 7))],
                             input_names=["x"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
    assert op_types(proto) == ["Conv"]


def test_conv_unbatched_and_conv1d():
    assert_runs_like(nn.Conv2d(3, 4, 3), (mg.randn(3, 9, 9),), [{"x": mg.randn(3, 9, 9)}],
                     input_names=["x"])
    assert_runs_like(nn.Conv1d(3, 4, 3, padding=2), (mg.randn(2, 3, 9),),
                     [{"x": mg.randn(*s)} for s in ((2, 3, 9), (4, 3, 5))],
                     input_names=["x"], dynamic_axes={"x": {0: "n", 2: "length"}})


@pytest.mark.parametrize("pool", [
    nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    nn.MaxPool2d(3, stride=1, dilation=2),
    nn.AvgPool2d(2), nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
    nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    nn.AvgPool2d(2, divisor_override=3),
], ids=repr)
def test_pooling_2d(pool):
    dynamic = {0: "n"} if getattr(pool, "divisor_override", None) else {0: "n", 2: "h", 3: "w"}
    sizes = [(2, 3, 10, 10), (1, 3, 7, 8)] if len(dynamic) == 3 else [(2, 3, 10, 10),
                                                                      (4, 3, 10, 10)]
    assert_runs_like(pool, (mg.randn(2, 3, 10, 10),), [{"x": mg.randn(*s)} for s in sizes],
                     input_names=["x"], dynamic_axes={"x": dynamic})


@pytest.mark.parametrize("pool", [nn.MaxPool1d(2), nn.AvgPool1d(3, stride=2, padding=1)],
                         ids=repr)
def test_pooling_1d(pool):
    assert_runs_like(pool, (mg.randn(2, 3, 8),),
                     [{"x": mg.randn(*s)} for s in ((2, 3, 8), (5, 3, 11))],
                     input_names=["x"], dynamic_axes={"x": {0: "n", 2: "length"}})


@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (4, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                        (nn.BatchNorm2d, (4, 3, 5, 5))])
def test_batchnorm_exports_its_running_statistics(cls, shape):
    model = cls(3)
    for _ in range(3):          # move the running statistics away from 0 and 1
        model(mg.randn(*shape) * 2 + 1)
    assert model.training
    proto = assert_runs_like(model, (mg.randn(*shape),),
                             [{"x": mg.randn(*shape)}, {"x": mg.randn(7, *shape[1:])}],
                             input_names=["x"], dynamic_axes={"x": {0: "n"}})
    names = {i.name for i in proto.graph.initializer}
    assert {"running_mean", "running_var", "weight", "bias"} <= names


def test_batchnorm_in_training_mode_uses_batch_statistics_and_keeps_the_running_ones():
    model = nn.BatchNorm2d(3)
    running = model.running_mean.numpy().copy()
    ort = _ort()
    data = export(model, (mg.randn(4, 3, 5, 5),), input_names=["x"],
                  training=minigrad.onnx.TrainingMode.PRESERVE,
                  dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
    np.testing.assert_array_equal(model.running_mean.numpy(), running)
    assert model.training
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = mg.randn(2, 3, 7, 6)
    np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], model(x).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_layer_norm_over_one_and_two_axes():
    for shape in (6, (4, 6)):
        assert_runs_like(nn.LayerNorm(shape), (mg.randn(2, 4, 6),),
                         [{"x": mg.randn(2, 4, 6)}, {"x": mg.randn(5, 4, 6)}],
                         input_names=["x"], dynamic_axes={"x": {0: "n"}})


@pytest.mark.parametrize("act", [
    nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.GELU(approximate="tanh"),
    nn.Softmax(dim=-1), nn.LogSoftmax(dim=1), nn.Dropout(0.5), nn.SiLU(), nn.LeakyReLU(0.1),
    nn.ELU(), nn.SELU(), nn.Softplus(), nn.Hardtanh(), nn.Mish(), nn.Softsign(),
    nn.LogSigmoid(), nn.PReLU(), nn.GLU(),
], ids=lambda m: type(m).__name__ + getattr(m, "approximate", ""))
def test_activations(act):
    x = mg.randn(3, 4, 6) * 3
    assert_runs_like(act, (x,), [{"x": x}, {"x": mg.randn(5, 4, 6) * 3}],
                     input_names=["x"], dynamic_axes={"x": {0: "n"}})


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_becomes_softmax_cross_entropy_loss(reduction):
    class Loss(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 5)

        def forward(self, x, target):
            return F.cross_entropy(self.lin(x), target, ignore_index=3, reduction=reduction)

    proto = assert_runs_like(Loss(), (mg.randn(6, 4), ints(6, high=5)),
                             [{"x": mg.randn(6, 4), "target": ints(6, high=5)}],
                             input_names=["x", "target"])
    assert "SoftmaxCrossEntropyLoss" in op_types(proto)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_binary_cross_entropy_with_its_floors(reduction):
    class Loss(nn.Module):
        def forward(self, p, target):
            return F.binary_cross_entropy(p, target, reduction=reduction)

    edges = mg.tensor([[0.0, 1.0, 0.0], [1.0, 0.5, 1e-30]])  # floored logarithms: loss 100
    assert_runs_like(Loss(), (mg.rand(2, 3), mg.rand(2, 3)),
                     [{"p": mg.rand(2, 3), "target": mg.rand(2, 3)},
                      {"p": edges, "target": mg.tensor([[1.0, 0.0, 0.0], [1.0, 0.5, 1.0]])}],
                     input_names=["p", "target"])


def test_dropout_is_the_identity_in_eval_and_the_model_mode_is_restored():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    model.train()
    proto = assert_runs_like(model.train(), (mg.randn(2, 3),), [{"x": mg.randn(2, 3)}],
                             input_names=["x"])
    assert "Dropout" not in op_types(proto)
    model.train()
    export(model, (mg.randn(2, 3),))
    assert all(m.training for m in model.modules())


# -- attention ------------------------------------------------------------------------------

class SelfAttention(nn.Module):
    def __init__(self, batch_first, need_weights):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)
        self.need_weights = need_weights

    def forward(self, x):
        return self.mha(x, x, x, need_weights=self.need_weights)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_self_attention(batch_first, need_weights):
    dims = {0: "n", 1: "t"} if batch_first else {0: "t", 1: "n"}
    assert_runs_like(SelfAttention(batch_first, need_weights), (mg.randn(4, 3, 8),),
                     [{"x": mg.randn(*s)} for s in ((4, 3, 8), (6, 2, 8), (1, 5, 8))],
                     input_names=["x"], dynamic_axes={"x": dims})


def test_one_tensor_passed_three_times_is_one_input():
    ort = _ort()
    model = nn.MultiheadAttention(8, 2)
    x = mg.randn(4, 3, 8)
    data = export(model, (x, x, x), input_names=["x"])
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"]
    got = session.run(None, {"x": x.numpy()})
    for g, w in zip(got, outputs(model(x, x, x))):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_multihead_attention_with_other_key_and_value_sizes():
    model = nn.MultiheadAttention(8, 2, kdim=5, vdim=6)
    feeds = [{"q": mg.randn(l, n, 8), "k": mg.randn(s, n, 5), "v": mg.randn(s, n, 6)}
             for l, s, n in ((4, 7, 3), (2, 3, 5))]
    assert_runs_like(model, tuple(feeds[0].values()), feeds, input_names=["q", "k", "v"],
                     dynamic_axes={"q": {0: "L", 1: "N"}, "k": {0: "S", 1: "N"},
                                   "v": {0: "S", 1: "N"}})


class MaskedAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x, padding):
        causal = self.mha(x, x, x, is_causal=True, need_weights=False)[0]
        return causal + self.mha(x, x, x, key_padding_mask=padding, need_weights=False)[0]


def test_attention_masks_built_in_forward_and_given_as_inputs():
    def padding(*lengths):
        steps = max(lengths)
        return mg.tensor(np.array([[t >= n for t in range(steps)] for n in lengths]))
    feeds = [{"x": mg.randn(3, 5, 8), "padding": padding(5, 3, 4)},
             {"x": mg.randn(2, 7, 8), "padding": padding(2, 7)}]
    assert_runs_like(MaskedAttention(), tuple(feeds[0].values()), feeds,
                     input_names=["x", "padding"],
                     dynamic_axes={"x": {0: "n", 1: "t"}, "padding": {0: "n", 1: "t"}})


class CausalSDPA(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def test_scaled_dot_product_attention():
    feeds = [{n: mg.randn(b, 2, t, 4) for n in "qkv"} for b, t in ((2, 5), (3, 6))]
    assert_runs_like(CausalSDPA(), tuple(feeds[0].values()), feeds, input_names=list("qkv"),
                     dynamic_axes={n: {0: "n", 2: "t"} for n in "qkv"})


@pytest.mark.parametrize("batch_first, norm_first, activation",
                         [(False, False, "relu"), (True, True, "gelu")])
def test_transformer_encoder(batch_first, norm_first, activation):
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=batch_first, norm_first=norm_first,
                                       activation=activation)
    dims = {0: "n", 1: "t"} if batch_first else {0: "t", 1: "n"}
    assert_runs_like(nn.TransformerEncoder(layer, 2), (mg.randn(3, 4, 8),),
                     [{"x": mg.randn(3, 4, 8)}, {"x": mg.randn(2, 6, 8)}],
                     input_names=["x"], dynamic_axes={"x": dims})


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)

    def forward(self, src, tgt):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        return self.transformer(src, tgt, tgt_mask=mask)


def test_transformer_with_a_causal_mask_made_in_forward():
    feeds = [{"src": mg.randn(n, s, 8), "tgt": mg.randn(n, t, 8)}
             for n, s, t in ((2, 5, 4), (3, 7, 2))]
    assert_runs_like(Seq2Seq(), tuple(feeds[0].values()), feeds, input_names=["src", "tgt"],
                     dynamic_axes={"src": {0: "n", 1: "s"}, "tgt": {0: "n", 1: "t"}})


def test_the_character_transformer_example():
    import char_transformer
    model = char_transformer.CharTransformer(30, 16, 2, 2, 32, context=12, dropout=0.1)
    assert_runs_like(model, (ints(2, 7, high=30),),
                     [{"ids": ints(*s, high=30)} for s in ((2, 7), (3, 12), (1, 3))],
                     input_names=["ids"], dynamic_axes={"ids": {0: "n", 1: "t"}})


# -- moving elements ------------------------------------------------------------------------

class Shapes(nn.Module):
    """Reshapes, transposes, concatenation, slicing and indexing whose sizes follow the
    dynamic batch and time axes."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 4)

    def forward(self, x):
        n, t, _ = x.shape
        y = self.linear(x).transpose(0, 1).reshape(t, n * 4)          # (T, N*4)
        z = mg.cat([y, y * 2], dim=1).reshape(t, n, 8).permute(1, 2, 0)  # (N, 8, T)
        sliced = z[:, 1:5, ::2] + z[:, :4, -1:]
        column = z[..., 0][:, None] * 3
        picked = y.reshape(t, n, 4)[:, :, mg.tensor(np.array([2, 0, 1]))]
        ends = mg.stack([x[:, 0], x[:, -1]], dim=1).flatten(1)
        return (sliced.sum(-1), column.squeeze(1).mean(-1), picked.amax(0),
                ends.unsqueeze(0).expand(2, n, 12), x.mean(0), x.mean((0, 1)),
                mg.pad(x, ((0, 0), (0, 0), (1, 2))).flip(1).cumsum(2).tril(),
                x.max(1)[1], mg.where(x > 0, x, mg.zeros_like(x)).roll(1, 1))


def test_reshape_transpose_cat_slicing_and_indexing_follow_dynamic_axes():
    assert_runs_like(Shapes(), (mg.randn(3, 5, 6),),
                     [{"x": mg.randn(*s)} for s in ((3, 5, 6), (7, 9, 6), (1, 4, 6))],
                     input_names=["x"], dynamic_axes={"x": {0: "n", 1: "t"}})


class Squared(mg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return 2 * x * grad


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


class Comparisons(nn.Module):
    def forward(self, ids):
        return (ids > 2.5) & (ids != 4), ids * 0.5, ids.argmax(1), mg.isfinite(ids / 2.0)


def test_comparisons_logic_and_python_numbers_keep_numpys_types():
    assert_runs_like(Comparisons(), (ints(2, 3),), [{"ids": ints(2, 3)}, {"ids": ints(4, 3)}],
                     input_names=["ids"], dynamic_axes={"ids": [0]})


class Bitwise(nn.Module):
    def forward(self, ids):
        mask = ids > 2
        return mask ^ (ids < 5), ~mask | (ids == 0), ids & 6, ids | ids.flip(0), ~ids


def test_bitwise_operators_export_as_logical_on_bools_and_bitwise_on_integers():
    assert_runs_like(Bitwise(), (ints(2, 3),), [{"ids": ints(2, 3)}, {"ids": ints(4, 3)}],
                     input_names=["ids"], dynamic_axes={"ids": [0]}, opset_version=18)


def test_bitwise_on_integers_before_opset_18_is_refused_by_name():
    pytest.importorskip("onnx")
    with pytest.raises(Exception, match="opset 18 or later \\(BitwiseAnd on int64"):
        export(Bitwise(), (ints(2, 3),), opset_version=17)


def test_an_autograd_function_exports_its_forward():
    assert_runs_like(Lambda(Squared.apply), (mg.randn(3, 4),), [{"x": mg.randn(5, 4)}],
                     input_names=["x"], dynamic_axes={"x": [0]})


# -- recurrent layers -----------------------------------------------------------------------

@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("layers, bidirectional, batch_first",
                         [(1, False, False), (2, True, True), (3, True, False)])
def test_recurrent_layers_become_onnx_recurrent_operators(cls, layers, bidirectional,
                                                          batch_first):
    model = cls(5, 7, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    D = 2 if bidirectional else 1

    def feed(n, t):
        x = mg.randn(*((n, t, 5) if batch_first else (t, n, 5)))
        states = {"h0": mg.randn(layers * D, n, 7)}
        if cls is nn.LSTM:
            states["c0"] = mg.randn(layers * D, n, 7)
        return x, states

    x_dims = {0: "n", 1: "t"} if batch_first else {0: "t", 1: "n"}
    x, _ = feed(3, 4)
    op_type = {nn.LSTM: "LSTM", nn.GRU: "GRU", nn.RNN: "RNN"}[cls]
    proto = assert_runs_like(model, (x,), [{"x": feed(n, t)[0]} for n, t in ((3, 4), (1, 9))],
                             input_names=["x"], dynamic_axes={"x": x_dims})
    nodes = [n for n in proto.graph.node if n.op_type == op_type]
    assert len(nodes) == layers          # one ONNX operator per layer: nothing unrolled
    if cls is nn.GRU:
        assert all(a.i == 1 for n in nodes for a in n.attribute if a.name == "linear_before_reset")
    assert "weight_ih_l0" in {i.name for i in proto.graph.initializer}

    class WithState(nn.Module):          # the initial state as graph inputs
        def __init__(self):
            super().__init__()
            self.rnn = model

        def forward(self, x, h0, c0=None):
            return self.rnn(x, h0 if c0 is None else (h0, c0))

    _, states = feed(3, 4)
    feeds = [{"x": x, **s} for x, s in (feed(3, 4), feed(2, 6))]
    assert_runs_like(WithState(), (x, *states.values()), feeds,
                     input_names=["x", *states],
                     dynamic_axes={"x": x_dims, **{k: {1: "n"} for k in states}})


class Lengths(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(5, 6, num_layers=2, bidirectional=True)

    def forward(self, x, lengths):
        return self.rnn(x, lengths=lengths)


def test_recurrent_lengths_become_sequence_lens():
    model = Lengths()
    feeds = [{"x": mg.randn(4, 3, 5), "lengths": mg.tensor(np.array([4, 2, 3]))},
             {"x": mg.randn(6, 2, 5), "lengths": mg.tensor(np.array([1, 6]))}]
    assert_runs_like(model, tuple(feeds[0].values()), feeds, input_names=["x", "lengths"],
                     dynamic_axes={"x": {0: "t", 1: "n"}, "lengths": {0: "n"}})


def test_unbatched_recurrent_input():
    assert_runs_like(nn.GRU(5, 6, num_layers=2), (mg.randn(4, 5),),
                     [{"x": mg.randn(t, 5)} for t in (4, 7)],
                     input_names=["x"], dynamic_axes={"x": {0: "t"}})


@pytest.mark.parametrize("cls", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
def test_cells_and_a_python_loop_over_them(cls):
    cell = cls(5, 6)
    assert_runs_like(cell, (mg.randn(3, 5),), [{"x": mg.randn(b, 5)} for b in (3, 1)],
                     input_names=["x"], dynamic_axes={"x": {0: "n"}})
    assert_runs_like(cell, (mg.randn(5),), [{"x": mg.randn(5)}], input_names=["x"])

    class Loop(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell, self.out = cell, nn.Linear(6, 2)

        def forward(self, xs):
            state = None
            for x in xs:
                state = self.cell(x, state)
            return self.out(state[0] if isinstance(state, tuple) else state)

    proto = assert_runs_like(Loop(), (mg.randn(4, 3, 5),),
                             [{"x": mg.randn(4, n, 5)} for n in (3, 2)],
                             input_names=["x"], dynamic_axes={"x": {1: "n"}})
    weights = [n for n in proto.graph.node if n.op_type == "Split"]
    assert len(weights) <= 4          # the gate reordering is made once, not per step


@pytest.fixture(scope="module")
def char_lstm_session():
    """The main job's LSTM model, exported once with dynamic time and batch axes."""
    ort = _ort()
    mg.manual_seed(1)
    model = char_lstm.CharModel(30, 8, 16, 2, "lstm", dropout=0.2).eval()
    data = export(model, (ints(5, 3, high=30),), input_names=["ids"],
                  dynamic_axes={"ids": {0: "t", 1: "n"}})
    return model, ort.InferenceSession(data, providers=["CPUExecutionProvider"])


@settings(max_examples=10)
@given(steps=st.integers(1, 12), batch=st.integers(1, 6), seed=st.integers(0, 2 ** 16))
def test_any_time_and_batch_size_runs_like_minigrad(char_lstm_session, steps, batch, seed):
    model, session = char_lstm_session
    ids = mg.tensor(np.random.default_rng(seed).integers(0, 30, (steps, batch)))
    got = session.run(None, {"ids": ids.numpy()})
    with mg.no_grad():
        want = outputs(model(ids))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_main_jobs_model(cell):
    """examples/char_lstm.py: Embedding -> 2-layer recurrent net -> Linear, with the state
    carried in and out as in truncated BPTT."""
    model = char_lstm.CharModel(30, 8, 16, 2, cell, dropout=0.2)
    out_names = ["logits", "h_n", "c_n"] if cell == "lstm" else ["logits", "h_n"]
    proto = assert_runs_like(
        model, (ints(5, 3, high=30),),
        [{"ids": ints(t, n, high=30)} for t, n in ((5, 3), (9, 1), (2, 7))],
        input_names=["ids"], output_names=out_names, dynamic_axes={"ids": {0: "t", 1: "n"}})
    shapes = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
              for o in proto.graph.output}
    assert shapes["h_n"] == [2, "n", 16]
    assert shapes["logits"][1] == 30

    class Carried(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, ids, h, c=None):
            return self.model(ids, h if c is None else (h, c))

    names = ["h", "c"] if cell == "lstm" else ["h"]
    feeds = [{"ids": ints(t, n, high=30), **{k: mg.randn(2, n, 16) for k in names}}
             for t, n in ((5, 3), (4, 2))]
    assert_runs_like(Carried(), tuple(feeds[0].values()), feeds, input_names=["ids", *names],
                     dynamic_axes={"ids": {0: "t", 1: "n"}, **{k: {1: "n"} for k in names}})


# -- the export call itself -----------------------------------------------------------------

def test_torch_style_call_to_a_path(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    import minigrad as torch
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, torch.randn(1, 3), str(path), input_names=["input"],
                      output_names=["output"], opset_version=18, verbose=True,
                      training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 18
    assert "Gemm" in capsys.readouterr().out


def test_without_a_file_the_model_is_returned():
    pytest.importorskip("onnx")
    proto = minigrad.onnx.export(nn.Linear(3, 2), mg.randn(1, 3))
    assert [n.op_type for n in proto.graph.node] == ["Transpose", "Gemm"]


def test_export_params_false_and_initializers_as_inputs():
    pytest.importorskip("onnx")
    model = nn.Linear(3, 2)
    proto = minigrad.onnx.export(model, (mg.randn(1, 3),), export_params=False)
    assert not proto.graph.initializer
    assert {i.name for i in proto.graph.input} == {"input_0", "weight", "bias"}
    proto = minigrad.onnx.export(model, (mg.randn(1, 3),), keep_initializers_as_inputs=True)
    assert {i.name for i in proto.graph.initializer} == {"weight", "bias"}
    assert {i.name for i in proto.graph.input} == {"input_0", "weight", "bias"}


@pytest.mark.parametrize("opset", [14, 17, 18, 21])
def test_opsets(opset):
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.LogSoftmax(-1))
    proto = assert_runs_like(model, (mg.randn(3, 4),), [{"x": mg.randn(5, 4)}],
                             input_names=["x"], dynamic_axes={"x": [0]}, opset_version=opset)
    assert proto.opset_import[0].version == opset


def test_tied_weights_are_one_initializer():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.decoder = nn.Linear(4, 10)
            self.decoder.weight = self.embed.weight

        def forward(self, ids):
            return self.decoder(self.embed(ids))

    proto = assert_runs_like(Tied(), (ints(2, 3),), [{"ids": ints(2, 3)}], input_names=["ids"])
    assert sorted(i.name for i in proto.graph.initializer) == ["decoder.bias", "embed.weight"]


def test_the_model_and_its_inputs_are_left_as_they_were():
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    model[0].weight.requires_grad_(False)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    x = mg.randn(2, 3)
    export(model, (x,))
    assert not model[0].weight.requires_grad and model[1].weight.requires_grad
    assert not x.requires_grad and x.grad_fn is None
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


# -- what cannot be exported ----------------------------------------------------------------

def test_a_primitive_without_mapping_is_named():
    pytest.importorskip("onnx")
    with pytest.raises(minigrad.onnx.UnsupportedOperatorError,
                       match="primitive 'cumprod' has no ONNX mapping"):
        export(Lambda(lambda x: mg.cumprod(x, 1)), (mg.randn(2, 3),))


@pytest.mark.parametrize("fn, match", [
    (lambda x: x + mg.tensor(x.numpy() * 2), "operand 1 of primitive 'add' is a tensor made "
                                             "outside the tape"),
    (lambda x: x * float(x.sum().item()), "is the Python number"),
])
def test_values_computed_outside_the_tape_are_refused(fn, match):
    pytest.importorskip("onnx")
    with pytest.raises(minigrad.onnx.OnnxExporterError, match=match):
        export(Lambda(fn), (mg.randn(2, 3),))


class WrittenAfterUse(nn.Module):
    def forward(self, x):
        offset = mg.zeros(3)
        y = x + offset
        with mg.no_grad():
            offset.add_(1)           # the add above saw zeros; the tensor now holds ones
        return y * offset


def test_a_constant_written_in_place_after_use_is_refused():
    pytest.importorskip("onnx")
    with pytest.raises(minigrad.onnx.OnnxExporterError,
                       match="operand 1 of primitive 'add' was written in place after it"):
        export(WrittenAfterUse(), (mg.randn(2, 3),))


def test_a_python_loop_over_a_dynamic_axis_is_refused():
    pytest.importorskip("onnx")
    with pytest.raises(minigrad.onnx.OnnxExporterError, match="ran differently"):
        export(Lambda(lambda x: mg.stack([row * 2 for row in x])), (mg.randn(3, 4),),
               input_names=["x"], dynamic_axes={"x": [0]})


def test_axes_that_must_grow_together_need_one_name():
    pytest.importorskip("onnx")
    with pytest.raises(minigrad.onnx.OnnxExporterError,
                       match=r"failed when run again with the dynamic axes grown"):
        export(Lambda(lambda x, h: x + h), (mg.randn(3, 4), mg.randn(3, 4)),
               input_names=["x", "h"], dynamic_axes={"x": {0: "n"}, "h": {0: "m"}})


@pytest.mark.parametrize("model, args, kwargs, error, match", [
    (nn.Linear(2, 2), (mg.randn(1, 2),), dict(opset_version=9), ValueError,
     "opset_version must be an int from 14"),
    (nn.Linear(2, 2), (mg.randn(1, 2),), dict(dynamic_axes={"y": [0]}), ValueError,
     r"dynamic_axes names \['y'\]"),
    (nn.Linear(2, 2), (mg.randn(1, 2),), dict(input_names=["x"], dynamic_axes={"x": [3]}),
     ValueError, "out of range for an input of 2 dimensions"),
    (nn.Linear(2, 2), (mg.randn(1, 2),), dict(input_names=["x", "y"]), ValueError,
     "input_names has 2 names for 1 inputs"),
    (lambda x: x, (mg.randn(1, 2),), {}, TypeError, "model must be an nn.Module"),
    (Lambda(lambda x: 3), (mg.randn(1, 2),), {}, minigrad.onnx.OnnxExporterError,
     "returned no tensor"),
    (nn.Embedding(5, 3, max_norm=1.0), (ints(2, high=5),), {},
     minigrad.onnx.UnsupportedOperatorError, "Embedding: max_norm"),
    (nn.LSTM(2, 3), (nn.utils.rnn.pack_sequence([mg.randn(3, 2), mg.randn(2, 2)]),), {},
     minigrad.onnx.UnsupportedOperatorError, "LSTM: a PackedSequence input"),
    (nn.LSTM(4, 6, proj_size=3), (mg.randn(3, 2, 4),), {},
     minigrad.onnx.UnsupportedOperatorError, "LSTM: an LSTM with proj_size"),
], ids=["opset", "names", "axis", "input names", "module", "outputs", "max_norm", "packed",
        "proj_size"])
def test_bad_arguments(model, args, kwargs, error, match):
    pytest.importorskip("onnx")
    with pytest.raises(error, match=match):
        export(model, args, **kwargs)


def test_importing_minigrad_does_not_import_onnx():
    code = "import sys, minigrad; assert 'onnx' not in sys.modules; minigrad.onnx.export"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_without_the_onnx_package_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'minigrad\[formats\]'"):
        export(nn.Linear(2, 2), (mg.randn(1, 2),))
