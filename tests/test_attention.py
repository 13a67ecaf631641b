"""Attention: gradchecks, PyTorch oracles, masks, dropout, initialisation and bad input."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import MultiheadAttention, scaled_dot_product_attention

RNG = np.random.default_rng(1234)


def randn(*shape, requires_grad=True):
    return mg.tensor(RNG.standard_normal(shape), requires_grad=requires_grad)


def bool_mask(shape, p_true=0.7, seed=0):
    return np.random.default_rng(seed).random(shape) < p_true


# -- scaled_dot_product_attention: gradients ----------------------------------------------------
@given(batch=st.lists(st.integers(1, 2), max_size=2), L=st.integers(1, 3), S=st.integers(1, 3),
       E=st.integers(1, 3), Ev=st.integers(1, 3),
       mask_kind=st.sampled_from(["none", "bool", "float", "causal", "neg_inf"]),
       seed=st.integers(0, 2 ** 16))
def test_sdpa_gradcheck(batch, L, S, E, Ev, mask_kind, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (mg.tensor(rng.standard_normal(tuple(batch) + s), requires_grad=True)
               for s in ((L, E), (S, E), (S, Ev)))
    mask, causal = None, mask_kind == "causal"
    if mask_kind == "bool":
        mask = mg.tensor(rng.random((L, S)) < 0.6)   # may fully mask some rows
    elif mask_kind == "float":
        mask = mg.tensor(rng.standard_normal((L, S)))
    elif mask_kind == "neg_inf":
        mask = mg.tensor(np.where(rng.random((L, S)) < 0.6, 0.0, -np.inf))
    fn = lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    assert mg.gradcheck(fn, [q, k, v])


def test_sdpa_gradcheck_with_scale_and_trainable_float_mask():
    q, k, v = randn(2, 3, 2), randn(2, 4, 2), randn(2, 4, 3)
    mask = randn(3, 4)
    fn = lambda q, k, v, m: scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3)
    assert mg.gradcheck(fn, [q, k, v, mask])


def test_fully_masked_rows_give_zeros_without_nan():
    q, k, v = randn(1, 2, 3), randn(1, 4, 3), randn(1, 4, 3)
    allowed = np.ones((2, 4), dtype=bool)
    allowed[0] = False
    for mask in (mg.tensor(allowed), mg.tensor(np.where(allowed, 0.0, -np.inf))):
        out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
        np.testing.assert_array_equal(out.numpy()[0, 0], 0.0)
        assert np.isfinite(out.numpy()).all()
        q.grad = k.grad = v.grad = None
        out.sum().backward()
        for t in (q, k, v):
            assert np.isfinite(t.grad.numpy()).all()
        np.testing.assert_array_equal(q.grad.numpy()[0, 0], 0.0)


def test_sdpa_stable_for_huge_scores():
    q = mg.tensor(np.array([[1000.0, 0.0], [-1000.0, 0.0]]))
    k = mg.tensor(np.array([[1000.0, 0.0], [0.0, 0.0]]))
    v = mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    out = scaled_dot_product_attention(q, k, v).numpy()
    np.testing.assert_allclose(out, [[1.0, 2.0], [3.0, 4.0]])


def test_sdpa_float32_stays_float32():
    q = mg.randn(2, 3, 4)
    mask = mg.zeros(3, 3)
    out = scaled_dot_product_attention(q, q, q, attn_mask=mask)
    assert out.dtype == np.float32
    out = scaled_dot_product_attention(q, q, q, is_causal=True, dropout_p=0.5)
    assert out.dtype == np.float32


# -- scaled_dot_product_attention: PyTorch oracle -----------------------------------------------
@pytest.mark.parametrize("mask_kind", ["none", "bool", "bool_broadcast", "float", "neg_inf",
                                       "causal", "causal_wide", "scale"])
def test_sdpa_matches_torch(mask_kind):
    torch = pytest.importorskip("torch")
    L, S = (3, 5) if mask_kind == "causal_wide" else (4, 4)
    qn, kn, vn = (RNG.standard_normal(s) for s in ((2, 3, L, 4), (2, 3, S, 4), (2, 3, S, 5)))
    mask_np, kwargs = None, {}
    if mask_kind == "bool":
        mask_np = bool_mask((2, 3, L, S), 0.6)
        mask_np[0, 0, 1] = False                      # one fully masked row
    elif mask_kind == "bool_broadcast":
        mask_np = bool_mask((1, 1, L, S), 0.7, seed=3)
    elif mask_kind == "float":
        mask_np = RNG.standard_normal((L, S))
    elif mask_kind == "neg_inf":
        mask_np = np.where(bool_mask((L, S), 0.6, seed=5), 0.0, -np.inf)
    elif mask_kind.startswith("causal"):
        kwargs["is_causal"] = True
    elif mask_kind == "scale":
        kwargs["scale"] = 0.7
    ours = [mg.tensor(a, requires_grad=True) for a in (qn, kn, vn)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (qn, kn, vn)]
    out = scaled_dot_product_attention(*ours, attn_mask=None if mask_np is None
                                       else mg.tensor(mask_np), **kwargs)
    ref = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if mask_np is None else torch.tensor(mask_np), **kwargs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = RNG.standard_normal(out.shape)
    (out * mg.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


# -- scaled_dot_product_attention: dropout ------------------------------------------------------
def test_sdpa_dropout_zeroes_and_rescales_weights():
    S = 6
    q, k = randn(4, 5, 3), randn(4, S, 3)
    eye = mg.tensor(np.eye(S))                       # output == the attention weights
    reference = scaled_dot_product_attention(q, k, eye).numpy()
    dropped = scaled_dot_product_attention(q, k, eye, dropout_p=0.5).numpy()
    kept = dropped != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(dropped[kept], 2.0 * reference[kept], rtol=1e-12)
    off = scaled_dot_product_attention(q, k, eye, dropout_p=0.5, training=False).numpy()
    np.testing.assert_allclose(off, reference)
    np.testing.assert_array_equal(
        scaled_dot_product_attention(q, k, eye, dropout_p=1.0).numpy(), 0.0)


def test_sdpa_dropout_gradcheck_with_fixed_seed():
    q, k, v = randn(2, 3, 2), randn(2, 4, 2), randn(2, 4, 3)

    def fn(q, k, v):
        mg.manual_seed(7)                             # the same dropout mask every call
        return scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert mg.gradcheck(fn, [q, k, v])


# -- scaled_dot_product_attention: bad input ----------------------------------------------------
def test_sdpa_bad_input_messages():
    q, k, v = randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 6)
    with pytest.raises(ValueError, match=r"query's last dimension 4 != key's last dimension 3"):
        scaled_dot_product_attention(q, randn(2, 5, 3), v)
    with pytest.raises(ValueError, match=r"key has 5 positions but value has 2"):
        scaled_dot_product_attention(q, k, randn(2, 2, 6))
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(4,\)"):
        scaled_dot_product_attention(randn(4), k, v)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        scaled_dot_product_attention(q, k, v, attn_mask=mg.zeros(3, 5), is_causal=True)
    with pytest.raises(TypeError, match="attn_mask must be a bool or floating-point.*int64"):
        scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(np.zeros((3, 5), np.int64)))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.5)


# -- MultiheadAttention: parameters and initialisation ------------------------------------------
def test_mha_parameter_names_shapes_and_init():
    mg.manual_seed(0)
    E = 64
    m = MultiheadAttention(E, 8)
    shapes = {name: tuple(p.shape) for name, p in m.named_parameters()}
    assert shapes == {"in_proj_weight": (3 * E, E), "in_proj_bias": (3 * E,),
                      "out_proj.weight": (E, E), "out_proj.bias": (E,)}
    assert list(m.state_dict()) == list(shapes)
    w = m.in_proj_weight.numpy()
    bound = math.sqrt(6.0 / (3 * E + E))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.05)
    out_w = m.out_proj.weight.numpy()
    assert np.abs(out_w).max() <= 1 / math.sqrt(E) and out_w.std() > 0.5 / math.sqrt(3 * E)
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0.0)
    assert m.in_proj_weight.dtype == np.float32


def test_mha_separate_projections_and_no_bias():
    m = MultiheadAttention(4, 2, bias=False, kdim=3, vdim=5)
    shapes = {name: tuple(p.shape) for name, p in m.named_parameters()}
    assert shapes == {"q_proj_weight": (4, 4), "k_proj_weight": (4, 3),
                      "v_proj_weight": (4, 5), "out_proj.weight": (4, 4)}
    assert m.in_proj_weight is None and m.in_proj_bias is None


def test_mha_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    for kwargs in ({}, {"bias": False}, {"kdim": 3, "vdim": 5}):
        ref = torch.nn.MultiheadAttention(4, 2, **kwargs)
        ours = MultiheadAttention(4, 2, **kwargs)
        assert {k: tuple(v.shape) for k, v in ref.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in ours.state_dict().items()}


# -- MultiheadAttention: gradients --------------------------------------------------------------
@given(batch_first=st.booleans(), self_attention=st.booleans(),
       mask_kind=st.sampled_from(["none", "padding", "causal", "float"]),
       seed=st.integers(0, 2 ** 16))
def test_mha_gradcheck(batch_first, self_attention, mask_kind, seed):
    rng = np.random.default_rng(seed)
    mg.manual_seed(seed)
    m = MultiheadAttention(4, 2, batch_first=batch_first).double()
    with mg.no_grad():                            # nonzero biases, so their gradients matter
        m.in_proj_bias.data = mg.tensor(rng.standard_normal(12))
    N, L, S = 2, 3, 3 if self_attention else 2
    layout = (lambda n, t: (n, t, 4)) if batch_first else (lambda n, t: (t, n, 4))
    q = mg.tensor(rng.standard_normal(layout(N, L)), requires_grad=True)
    k = q if self_attention else mg.tensor(rng.standard_normal(layout(N, S)), requires_grad=True)
    v = q if self_attention else mg.tensor(rng.standard_normal(layout(N, S)), requires_grad=True)
    kpm = attn = None
    if mask_kind == "padding":
        kpm = mg.tensor(np.array([[False] * S, [False] + [True] * (S - 1)]))
    elif mask_kind == "causal":
        attn = mg.tensor(np.triu(np.ones((L, S), dtype=bool), 1))
    elif mask_kind == "float":
        attn = mg.tensor(rng.standard_normal((L, S)))
    params = list(m.parameters())
    inputs = [q] if self_attention else [q, k, v]

    def fn(*xs):
        qq, kk, vv = (xs[0],) * 3 if self_attention else xs[:3]
        return m(qq, kk, vv, key_padding_mask=kpm, attn_mask=attn)
    assert mg.gradcheck(fn, inputs + params)


def test_mha_gradcheck_separate_projections_unbatched():
    m = MultiheadAttention(4, 2, kdim=3, vdim=2).double()
    q, k, v = randn(3, 4), randn(5, 3), randn(5, 2)
    assert mg.gradcheck(lambda q, k, v, *ps: m(q, k, v, average_attn_weights=False),
                        [q, k, v] + list(m.parameters()))


# -- MultiheadAttention: PyTorch oracle ---------------------------------------------------------
ORACLE_CASES = [
    dict(),
    dict(batch_first=True),
    dict(self_attention=True),
    dict(self_attention=True, batch_first=True, causal=True),
    dict(padding=True),
    dict(padding=True, batch_first=True, causal=True),
    dict(float_mask=True),
    dict(float_mask=True, padding=True),             # float attn_mask with bool padding
    dict(per_head_mask=True),
    dict(kdim=3, vdim=5),
    dict(kdim=3, vdim=5, batch_first=True, padding=True),
    dict(bias=False),
    dict(average=False),
    dict(unbatched=True, causal=True),
    dict(unbatched=True, padding=True, average=False),
    dict(num_heads=1),
]


def _torch_mha_case(torch, case):
    E, H = 4, case.get("num_heads", 2)
    kdim, vdim = case.get("kdim"), case.get("vdim")
    batch_first = case.get("batch_first", False)
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(E, H, bias=case.get("bias", True), batch_first=batch_first,
                                      kdim=kdim, vdim=vdim).double()
    with torch.no_grad():                       # nonzero biases so their gradients are tested
        for name, p in ref.named_parameters():
            if "bias" in name:
                p.copy_(torch.randn(p.shape, dtype=torch.float64))
    ours = MultiheadAttention(E, H, bias=case.get("bias", True), batch_first=batch_first,
                              kdim=kdim, vdim=vdim).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ref, ours


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("case", ORACLE_CASES, ids=lambda c: "-".join(c) or "default")
def test_mha_matches_torch(case):
    torch = pytest.importorskip("torch")
    ref, ours = _torch_mha_case(torch, case)
    E, H = 4, ref.num_heads
    N, L = 2, 3
    S = L if case.get("self_attention") or case.get("causal") else 5
    unbatched = case.get("unbatched", False)
    batch_first = case.get("batch_first", False)

    def shape(t, width):
        if unbatched:
            return (t, width)
        return (N, t, width) if batch_first else (t, N, width)
    q_np = RNG.standard_normal(shape(L, E))
    k_np = RNG.standard_normal(shape(S, case.get("kdim") or E))
    v_np = RNG.standard_normal(shape(S, case.get("vdim") or E))
    masks = {}
    if case.get("padding"):
        kpm = np.zeros((N, S), dtype=bool)
        kpm[0, -1] = True
        kpm[1, 1:] = True                             # key 0 stays: no row is fully masked
        masks["key_padding_mask"] = kpm[0] if unbatched else kpm
    if case.get("causal"):
        masks["attn_mask"] = np.triu(np.ones((L, S), dtype=bool), 1)
    if case.get("float_mask"):
        masks["attn_mask"] = RNG.standard_normal((L, S))
    if case.get("per_head_mask"):
        per_head = bool_mask((N * H, L, S), 0.3, seed=11)
        per_head[:, :, 0] = False                     # every query keeps one key
        masks["attn_mask"] = per_head
    kwargs = {"average_attn_weights": case.get("average", True),
              "is_causal": bool(case.get("causal"))}

    if case.get("self_attention"):
        x, tx = mg.tensor(q_np, requires_grad=True), torch.tensor(q_np, requires_grad=True)
        ins, tins = [x], [tx]
        args, targs = (x, x, x), (tx, tx, tx)
    else:
        ins = [mg.tensor(a, requires_grad=True) for a in (q_np, k_np, v_np)]
        tins = [torch.tensor(a, requires_grad=True) for a in (q_np, k_np, v_np)]
        args, targs = ins, tins
    out, w = ours(*args, **{k: mg.tensor(v) for k, v in masks.items()}, **kwargs)
    ref_out, ref_w = ref(*targs, **{k: torch.tensor(v) for k, v in masks.items()}, **kwargs)
    assert out.shape == tuple(ref_out.shape) and w.shape == tuple(ref_w.shape)
    np.testing.assert_allclose(out.numpy(), ref_out.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), ref_w.detach().numpy(), rtol=1e-9, atol=1e-12)

    g_out, g_w = RNG.standard_normal(out.shape), RNG.standard_normal(w.shape)
    ((out * mg.tensor(g_out)).sum() + (w * mg.tensor(g_w)).sum()).backward()
    ((ref_out * torch.tensor(g_out)).sum() + (ref_w * torch.tensor(g_w)).sum()).backward()
    for a, b in zip(ins, tins):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
    ours_params = dict(ours.named_parameters())
    ref_params = dict(ref.named_parameters())
    assert set(ours_params) == set(ref_params)
    for name, p in ref_params.items():
        np.testing.assert_allclose(ours_params[name].grad.numpy(), p.grad.numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=name)


def test_mha_need_weights_false_matches_torch():
    torch = pytest.importorskip("torch")
    ref, ours = _torch_mha_case(torch, {"batch_first": True})
    x = RNG.standard_normal((2, 3, 4))
    out, w = ours(mg.tensor(x), mg.tensor(x), mg.tensor(x), need_weights=False)
    ref_out, ref_w = ref(*(torch.tensor(x),) * 3, need_weights=False)
    assert w is None and ref_w is None
    np.testing.assert_allclose(out.numpy(), ref_out.detach().numpy(), rtol=1e-9, atol=1e-12)


# -- MultiheadAttention: masks, dropout and modes -----------------------------------------------
def test_mha_is_causal_without_mask_builds_causal_mask():
    m = MultiheadAttention(4, 2, batch_first=True).double()
    x = randn(2, 5, 4)
    causal = mg.tensor(np.triu(np.ones((5, 5), dtype=bool), 1))
    out, w = m(x, x, x, is_causal=True)
    ref_out, ref_w = m(x, x, x, attn_mask=causal)
    np.testing.assert_allclose(out.numpy(), ref_out.numpy())
    np.testing.assert_array_equal(np.triu(w.numpy()[0], 1), 0.0)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0)


def test_mha_fully_padded_sequence_gives_out_proj_bias():
    m = MultiheadAttention(4, 2, batch_first=True).double()
    with mg.no_grad():
        m.out_proj.bias.data = mg.tensor(np.arange(4.0))
    x = randn(2, 3, 4)
    kpm = mg.tensor(np.array([[False, True, False], [True, True, True]]))
    out, w = m(x, x, x, key_padding_mask=kpm)
    np.testing.assert_allclose(out.numpy()[1], np.broadcast_to(np.arange(4.0), (3, 4)))
    np.testing.assert_array_equal(w.numpy()[1], 0.0)
    np.testing.assert_array_equal(w.numpy()[0][:, 1], 0.0)
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_mha_dropout_only_in_training():
    m = MultiheadAttention(4, 2, dropout=1.0, batch_first=True).double()
    with mg.no_grad():
        m.out_proj.bias.data = mg.tensor(np.arange(4.0))
    x = randn(2, 3, 4)
    out, w = m(x, x, x)
    np.testing.assert_array_equal(w.numpy(), 0.0)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(np.arange(4.0), (2, 3, 4)))
    m.eval()
    out, w = m(x, x, x)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0)


def test_mha_float32_stays_float32():
    m = MultiheadAttention(4, 2)
    x = mg.randn(3, 2, 4)
    kpm = mg.tensor(np.array([[False, False, True], [False, True, True]]))
    out, w = m(x, x, x, key_padding_mask=kpm, attn_mask=mg.zeros(3, 3))
    assert out.dtype == np.float32 and w.dtype == np.float32


def test_mha_repr():
    text = repr(MultiheadAttention(8, 2, dropout=0.1, batch_first=True))
    assert "embed_dim=8, num_heads=2, dropout=0.1, batch_first=True" in text
    assert "(out_proj)" in text and "Linear(in_features=8, out_features=8" in text


# -- MultiheadAttention: bad input --------------------------------------------------------------
def test_mha_bad_construction():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="between 0 and 1, but got -0.1"):
        MultiheadAttention(4, 2, dropout=-0.1)


def test_mha_bad_input_messages():
    m = MultiheadAttention(4, 2, kdim=3)
    q, k, v = mg.randn(3, 2, 4), mg.randn(5, 2, 3), mg.randn(5, 2, 4)
    with pytest.raises(ValueError, match=r"query's last dimension is 6 but embed_dim is 4 "
                                         r"\(query \(3, 2, 6\)"):
        m(mg.randn(3, 2, 6), k, v)
    with pytest.raises(ValueError, match=r"key's last dimension is 4 but kdim is 3"):
        m(q, mg.randn(5, 2, 4), v)
    with pytest.raises(ValueError, match=r"all 3-D \(batched\) or all 2-D.*query \(3, 2, 4\), "
                                         r"key \(5, 3\)"):
        m(q, mg.randn(5, 3), v)
    with pytest.raises(ValueError, match="different batch sizes"):
        m(q, mg.randn(5, 1, 3), mg.randn(5, 1, 4))
    with pytest.raises(ValueError, match="different sequence lengths"):
        m(q, k, mg.randn(4, 2, 4))
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(5, 2\), expected \(2, 5\)"):
        m(q, k, v, key_padding_mask=mg.zeros(5, 2, dtype="bool"))
    with pytest.raises(ValueError, match=r"attn_mask has shape \(5, 3\), expected \(3, 5\) or "
                                         r"\(4, 3, 5\)"):
        m(q, k, v, attn_mask=mg.zeros(5, 3, dtype="bool"))
    with pytest.raises(TypeError, match="key_padding_mask must be a bool or floating-point"):
        m(q, k, v, key_padding_mask=mg.zeros(2, 5, dtype="int64"))


def test_mha_is_exported():
    assert nn.MultiheadAttention is MultiheadAttention
    assert nn.scaled_dot_product_attention is scaled_dot_product_attention
    import minigrad.nn.attention as attention
    assert set(attention.__all__) == {"MultiheadAttention", "scaled_dot_product_attention"}
