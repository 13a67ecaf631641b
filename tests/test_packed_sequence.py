"""nn.utils.rnn (pad/pack/unpack) and recurrent layers on PackedSequence, against PyTorch."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")

LENGTHS = [(3, 5, 2), (4, 4, 1, 2), (1,), (6, 3)]


def sequences(lengths, width=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, width)) for n in lengths]
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def close(a, b, **kw):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12,
                               **kw)


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(lengths, batch_first, padding_side):
    ours, theirs = sequences(lengths)
    a = rnn_utils.pad_sequence(ours, batch_first, -1.5, padding_side)
    b = torch.nn.utils.rnn.pad_sequence(theirs, batch_first, -1.5, padding_side)
    close(a, b)
    w = np.random.default_rng(1).standard_normal(tuple(a.shape))
    (a * mg.tensor(w)).sum().backward()
    (b * torch.tensor(w)).sum().backward()
    for x, y in zip(ours, theirs):
        close(x.grad, y.grad)


@pytest.mark.parametrize("lengths", LENGTHS)
def test_pack_and_unpack_round_trip_like_torch(lengths):
    ours, theirs = sequences(lengths)
    p = rnn_utils.pack_sequence(ours, enforce_sorted=False)
    q = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=False)
    close(p.data, q.data)
    assert p.batch_sizes.tolist() == q.batch_sizes.tolist()
    assert p.sorted_indices.tolist() == q.sorted_indices.tolist()
    assert p.unsorted_indices.tolist() == q.unsorted_indices.tolist()
    padded, lens = rnn_utils.pad_packed_sequence(p, batch_first=True, total_length=7)
    ref, ref_lens = torch.nn.utils.rnn.pad_packed_sequence(q, batch_first=True, total_length=7)
    close(padded, ref)
    assert lens.tolist() == ref_lens.tolist()
    for x, y in zip(rnn_utils.unpack_sequence(p), torch.nn.utils.rnn.unpack_sequence(q)):
        close(x, y)
    w = np.random.default_rng(2).standard_normal(tuple(padded.shape))
    (padded * mg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, y in zip(ours, theirs):
        close(x.grad, y.grad)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_take_and_return_packed_sequences_like_torch(kind, bidirectional,
                                                                      with_state):
    lengths = (3, 5, 2, 5)
    ours, theirs = sequences(lengths, width=3, seed=3)
    mg.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=bidirectional).double()
    ref = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=bidirectional).double()
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in layer.state_dict().items()})
    p = rnn_utils.pack_sequence(ours, enforce_sorted=False)
    q = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=False)
    shape = (2 * (2 if bidirectional else 1), len(lengths), 4)
    hx = tx = None
    if with_state:
        h0 = np.random.default_rng(4).standard_normal(shape)
        c0 = np.random.default_rng(5).standard_normal(shape)
        hx = (mg.tensor(h0), mg.tensor(c0)) if kind == "LSTM" else mg.tensor(h0)
        tx = (torch.tensor(h0), torch.tensor(c0)) if kind == "LSTM" else torch.tensor(h0)
    out, h = layer(p, hx)
    ref_out, ref_h = ref(q, tx)
    assert isinstance(out, rnn_utils.PackedSequence)
    close(out.data, ref_out.data)
    assert out.batch_sizes.tolist() == ref_out.batch_sizes.tolist()
    finals = h if kind == "LSTM" else (h,)
    ref_finals = ref_h if kind == "LSTM" else (ref_h,)
    for a, b in zip(finals, ref_finals):
        close(a, b)
    w = np.random.default_rng(6).standard_normal(tuple(out.data.shape))
    loss = (out.data * mg.tensor(w)).sum() + sum(f.sum() for f in finals)
    ref_loss = (ref_out.data * torch.tensor(w)).sum() + sum(f.sum() for f in ref_finals)
    loss.backward()
    ref_loss.backward()
    for x, y in zip(ours, theirs):
        close(x.grad, y.grad)
    for name, param in layer.named_parameters():
        close(param.grad, dict(ref.named_parameters())[name].grad, err_msg=name)


def test_unsorted_lengths_with_enforce_sorted_are_refused():
    x = mg.zeros(5, 3, 2)
    with pytest.raises(ValueError, match=r"lengths \[2, 5, 3\] are not sorted in decreasing "
                                         r"order; sort the batch or pass enforce_sorted=False"):
        rnn_utils.pack_padded_sequence(x, [2, 5, 3])


def test_packed_input_refuses_lengths_too():
    p = rnn_utils.pack_sequence([mg.zeros(3, 2), mg.zeros(2, 2)])
    with pytest.raises(ValueError, match="PackedSequence carries its own lengths"):
        nn.GRU(2, 3)(p, lengths=[3, 2])


def test_flatten_parameters_is_a_no_op():
    layer = nn.LSTM(2, 3)
    before = [p.numpy().copy() for p in layer.parameters()]
    assert layer.flatten_parameters() is None
    assert all((a == p.numpy()).all() for a, p in zip(before, layer.parameters()))


def test_a_step_hook_reads_every_cell_state_of_an_lstm():
    """with_cell=True hands the hook c_t beside h_t; they equal torch.nn.LSTMCell's states."""
    mg.manual_seed(0)
    layer = nn.LSTM(3, 4).double()
    cell = torch.nn.LSTMCell(3, 4).double()
    cell.load_state_dict({k[:-3]: torch.tensor(v.numpy())
                          for k, v in layer.state_dict().items()})
    seen = []
    handle = layer.register_step_hook(lambda m, l, d, t, h, c: seen.append((t, h, c)),
                                      with_cell=True)
    x = np.random.default_rng(7).standard_normal((5, 2, 3))
    layer(mg.tensor(x))
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    for t in range(5):
        h, c = cell(torch.tensor(x[t]), (h, c))
        assert seen[t][0] == t
        close(seen[t][1], h)
        close(seen[t][2], c)
    handle.remove()
    layer(mg.tensor(x))
    assert len(seen) == 5
    with pytest.raises(ValueError, match="with_cell=True needs an LSTM"):
        nn.GRU(3, 4).register_step_hook(lambda *a: None, with_cell=True)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_lstm_proj_size_matches_torch(bidirectional, batched):
    mg.manual_seed(0)
    layer = nn.LSTM(3, 5, num_layers=2, bidirectional=bidirectional, proj_size=2).double()
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=bidirectional, proj_size=2).double()
    assert list(layer.state_dict()) == list(ref.state_dict())
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in layer.state_dict().items()})
    d = 2 if bidirectional else 1
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3, 3) if batched else (4, 3))
    h0 = rng.standard_normal((2 * d, 3, 2) if batched else (2 * d, 2))
    c0 = rng.standard_normal((2 * d, 3, 5) if batched else (2 * d, 5))
    xs = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, (h, c) = layer(xs, (mg.tensor(h0), mg.tensor(c0)))
    ref_out, (ref_h, ref_c) = ref(xt, (torch.tensor(h0), torch.tensor(c0)))
    for a, b in ((out, ref_out), (h, ref_h), (c, ref_c)):
        close(a, b)
    (out.sum() + h.sum() + c.sum()).backward()
    (ref_out.sum() + ref_h.sum() + ref_c.sum()).backward()
    close(xs.grad, xt.grad)
    for name, param in layer.named_parameters():
        close(param.grad, dict(ref.named_parameters())[name].grad, err_msg=name)
    with pytest.raises(ValueError, match="proj_size has to be a non-negative integer smaller"):
        nn.LSTM(3, 5, proj_size=5)
