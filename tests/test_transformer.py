"""nn.Transformer family: PyTorch oracles (forward, input and parameter gradients in float64
with torch's weights loaded), masks, state_dict keys, defaults, dropout, gradchecks, bad input."""
import copy
import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

# PyTorch warns about its own fast path and mixed bool/float masks; neither concerns us.
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:Support for mismatched")]

E, H, FF = 8, 2, 12                                  # d_model, nhead, dim_feedforward
N, S, T = 3, 5, 4                                    # batch, source and target lengths
RNG = np.random.default_rng(2024)
CLASSES = ("Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer")


def seq(length, batch_first, unbatched=False):
    if unbatched:
        return RNG.standard_normal((length, E))
    return RNG.standard_normal((N, length, E) if batch_first else (length, N, E))


def causal(n):
    return np.triu(np.full((n, n), -np.inf), 1)


def padding(length, seed):
    """(N, length) bool, True = padding; every row keeps its first two keys (PyTorch gives
    NaN where a query may attend to nothing)."""
    mask = np.random.default_rng(seed).random((N, length)) < 0.4
    mask[:, :2] = False
    return mask


def load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def check_against_torch(ours, theirs, inputs, masks=None, **flags):
    """Load torch's weights into ours; compare the outputs and the gradients of a random
    linear function of them w.r.t. every input and every parameter, in float64."""
    import torch
    ours.double()
    theirs.double()
    load_from_torch(ours, theirs)
    masks = masks or {}
    ours_in = [mg.tensor(a, requires_grad=True) for a in inputs]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = ours(*ours_in, **{k: mg.tensor(v) for k, v in masks.items()}, **flags)
    ref = theirs(*theirs_in, **{k: torch.tensor(v) for k, v in masks.items()}, **flags)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-11)
    g = RNG.standard_normal(tuple(out.shape))
    (out * mg.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    for a, b in zip(ours_in, theirs_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-10)
    theirs_params = dict(theirs.named_parameters())
    assert sorted(dict(ours.named_parameters())) == sorted(theirs_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=1e-8,
                                   atol=1e-10, err_msg=name)


def activations(kind, torch):
    """(ours, torch's) for the three ways to name the feed-forward activation."""
    if kind == "callable":
        return F.silu, torch.nn.functional.silu
    return kind, kind


# -- names, defaults, state_dict keys ------------------------------------------------------
@pytest.mark.parametrize("name", CLASSES)
def test_signatures_and_defaults_match_torch(name):
    torch = pytest.importorskip("torch")
    ours = inspect.signature(getattr(nn, name)).parameters
    theirs = inspect.signature(getattr(torch.nn, name)).parameters
    assert list(ours) == list(theirs)
    for arg, p in theirs.items():
        if arg == "activation":                     # F.relu is each library's own function
            assert ours[arg].default.__name__ == p.default.__name__ == "relu"
        else:
            assert ours[arg].default == p.default, arg


def test_default_transformer_state_dict_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Transformer(), torch.nn.Transformer()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert (ours.d_model, ours.nhead, ours.batch_first) == (512, 8, False)
    bound = math.sqrt(6.0 / (2048 + 512))          # Xavier-uniform on every matrix
    w = ours.encoder.layers[0].linear1.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound


@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_keys_match_torch(bias):
    torch = pytest.importorskip("torch")
    kwargs = dict(dim_feedforward=FF, bias=bias)
    pairs = [(nn.TransformerEncoderLayer(E, H, **kwargs),
              torch.nn.TransformerEncoderLayer(E, H, **kwargs)),
             (nn.TransformerDecoderLayer(E, H, **kwargs),
              torch.nn.TransformerDecoderLayer(E, H, **kwargs)),
             (nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, **kwargs), 2, nn.LayerNorm(E)),
              torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kwargs), 2,
                                          torch.nn.LayerNorm(E))),
             (nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, **kwargs), 2),
              torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, **kwargs), 2)),
             (nn.Transformer(E, H, 1, 2, FF, bias=bias),
              torch.nn.Transformer(E, H, 1, 2, FF, bias=bias))]
    for ours, theirs in pairs:
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_weights_move_back_to_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Transformer(E, H, 1, 1, FF, dropout=0.0).double()
    theirs = torch.nn.Transformer(E, H, 1, 1, FF, dropout=0.0).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    src, tgt = seq(S, False), seq(T, False)
    np.testing.assert_allclose(ours(mg.tensor(src), mg.tensor(tgt)).numpy(),
                               theirs(torch.tensor(src), torch.tensor(tgt)).detach().numpy(),
                               rtol=1e-9, atol=1e-11)


def test_generate_square_subsequent_mask_matches_torch():
    torch = pytest.importorskip("torch")
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    ref = torch.nn.Transformer.generate_square_subsequent_mask(5)
    assert mask.dtype == np.float32 and tuple(mask.shape) == (5, 5)
    np.testing.assert_array_equal(mask.numpy(), ref.numpy())
    assert nn.Transformer(E, H, 1, 1, FF).generate_square_subsequent_mask(3, dtype=mg.float64
                                                                          ).dtype == np.float64


# -- layers against torch -------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(batch_first, norm_first, activation):
    torch = pytest.importorskip("torch")
    act, torch_act = activations(activation, torch)
    kwargs = dict(dim_feedforward=FF, dropout=0.0, batch_first=batch_first,
                  norm_first=norm_first, layer_norm_eps=1e-4)
    check_against_torch(nn.TransformerEncoderLayer(E, H, activation=act, **kwargs),
                        torch.nn.TransformerEncoderLayer(E, H, activation=torch_act, **kwargs),
                        [seq(S, batch_first)])


ENCODER_MASKS = {
    "causal_float": lambda: dict(src_mask=causal(S)),
    "causal_hint": lambda: dict(src_mask=causal(S), is_causal=True),
    "bool_attn": lambda: dict(src_mask=np.triu(np.ones((S, S), bool), 2)),
    "float_attn": lambda: dict(src_mask=RNG.standard_normal((S, S))),
    "per_head": lambda: dict(src_mask=RNG.standard_normal((N * H, S, S))),
    "key_padding": lambda: dict(src_key_padding_mask=padding(S, 1)),
    "causal_and_padding": lambda: dict(src_mask=causal(S), src_key_padding_mask=padding(S, 2)),
}


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("mask_kind", sorted(ENCODER_MASKS))
def test_encoder_layer_masks_match_torch(mask_kind, norm_first):
    torch = pytest.importorskip("torch")
    masks = ENCODER_MASKS[mask_kind]()
    flags = {"is_causal": masks.pop("is_causal")} if "is_causal" in masks else {}
    kwargs = dict(dim_feedforward=FF, dropout=0.0, batch_first=True, norm_first=norm_first)
    check_against_torch(nn.TransformerEncoderLayer(E, H, **kwargs),
                        torch.nn.TransformerEncoderLayer(E, H, **kwargs),
                        [seq(S, True)], masks, **flags)


def decoder_masks(kind):
    if kind == "none":
        return {}
    if kind == "causal":
        return dict(tgt_mask=causal(T))
    return dict(tgt_mask=causal(T), memory_mask=RNG.standard_normal((T, S)),
                tgt_key_padding_mask=padding(T, 3), memory_key_padding_mask=padding(S, 4))


@pytest.mark.parametrize("masks", ["none", "causal", "all"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(batch_first, norm_first, masks):
    torch = pytest.importorskip("torch")
    kwargs = dict(dim_feedforward=FF, dropout=0.0, batch_first=batch_first,
                  norm_first=norm_first, activation="gelu")
    check_against_torch(nn.TransformerDecoderLayer(E, H, **kwargs),
                        torch.nn.TransformerDecoderLayer(E, H, **kwargs),
                        [seq(T, batch_first), seq(S, batch_first)], decoder_masks(masks))


def test_decoder_layer_bool_memory_mask_and_causal_hint_match_torch():
    torch = pytest.importorskip("torch")
    memory_mask = RNG.random((T, S)) < 0.3
    memory_mask[:, 0] = False
    kwargs = dict(dim_feedforward=FF, dropout=0.0)
    check_against_torch(nn.TransformerDecoderLayer(E, H, **kwargs),
                        torch.nn.TransformerDecoderLayer(E, H, **kwargs),
                        [seq(T, False), seq(S, False)],
                        dict(tgt_mask=causal(T), memory_mask=memory_mask), tgt_is_causal=True)


def test_is_causal_without_a_mask_builds_the_causal_mask():
    """PyTorch refuses the hint without a mask; minigrad's attention builds the mask."""
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, dropout=0.0), 2)
    src = mg.tensor(seq(S, False))
    np.testing.assert_allclose(encoder(src, is_causal=True).numpy(),
                               encoder(src, mask=mg.tensor(causal(S))).numpy(), rtol=1e-12)
    assert not np.allclose(encoder(src, is_causal=True).numpy(), encoder(src).numpy())


@pytest.mark.parametrize("norm", [False, True])
def test_encoder_stack_matches_torch(norm):
    torch = pytest.importorskip("torch")
    kwargs = dict(dim_feedforward=FF, dropout=0.0, norm_first=True)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, **kwargs), 3,
                                 nn.LayerNorm(E) if norm else None, enable_nested_tensor=False)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kwargs), 3,
                                         torch.nn.LayerNorm(E) if norm else None,
                                         enable_nested_tensor=False)
    for layer in theirs.layers:                      # distinct weights per layer
        torch.nn.init.normal_(layer.linear1.weight)
    check_against_torch(ours, theirs, [seq(S, False)],
                        dict(mask=causal(S), src_key_padding_mask=padding(S, 5)))


def test_decoder_stack_matches_torch():
    torch = pytest.importorskip("torch")
    kwargs = dict(dim_feedforward=FF, dropout=0.0, batch_first=True)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, **kwargs), 2, nn.LayerNorm(E))
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, **kwargs), 2,
                                         torch.nn.LayerNorm(E))
    for layer in theirs.layers:
        torch.nn.init.normal_(layer.linear2.weight)
    check_against_torch(ours, theirs, [seq(T, True), seq(S, True)], decoder_masks("all"))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_end_to_end_matches_torch(batch_first, norm_first):
    torch = pytest.importorskip("torch")
    kwargs = dict(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2,
                  dim_feedforward=FF, dropout=0.0, batch_first=batch_first,
                  norm_first=norm_first)
    masks = decoder_masks("all")
    masks.update(src_mask=RNG.standard_normal((S, S)), src_key_padding_mask=padding(S, 6))
    check_against_torch(nn.Transformer(**kwargs), torch.nn.Transformer(**kwargs),
                        [seq(S, batch_first), seq(T, batch_first)], masks)


def test_transformer_unbatched_matches_torch():
    torch = pytest.importorskip("torch")
    kwargs = dict(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                  dim_feedforward=FF, dropout=0.0)
    check_against_torch(nn.Transformer(**kwargs), torch.nn.Transformer(**kwargs),
                        [seq(S, False, unbatched=True), seq(T, False, unbatched=True)],
                        dict(tgt_mask=causal(T)))


def test_transformer_without_bias_and_custom_eps_matches_torch():
    torch = pytest.importorskip("torch")
    kwargs = dict(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                  dim_feedforward=FF, dropout=0.0, bias=False, layer_norm_eps=1e-2)
    ours = nn.Transformer(**kwargs)
    assert ours.encoder.norm.bias is None and ours.decoder.layers[0].norm3.eps == 1e-2
    check_against_torch(ours, torch.nn.Transformer(**kwargs), [seq(S, False), seq(T, False)],
                        dict(tgt_mask=causal(T)))


def test_transformer_custom_encoder_and_decoder():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 1)
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF), 1)
    model = nn.Transformer(E, H, custom_encoder=encoder, custom_decoder=decoder)
    assert model.encoder is encoder and model.decoder is decoder
    assert list(model.state_dict())[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert model(mg.randn(S, 2, E), mg.randn(T, 2, E)).shape == (T, 2, E)


# -- dropout, clones, dtypes, activations as modules -------------------------------------
def test_dropout_trains_deterministically_and_eval_matches_torch():
    torch = pytest.importorskip("torch")
    kwargs = dict(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                  dim_feedforward=FF, dropout=0.3)
    ours, theirs = nn.Transformer(**kwargs).double(), torch.nn.Transformer(**kwargs).double()
    load_from_torch(ours, theirs)
    src, tgt = mg.tensor(seq(S, False)), mg.tensor(seq(T, False))
    mg.manual_seed(3)
    first = ours(src, tgt)
    mg.manual_seed(3)
    again = ours(src, tgt)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    first.sum().backward()
    assert all(p.grad is not None for p in ours.parameters())
    ours.eval()
    theirs.eval()
    evaluated = ours(src, tgt).numpy()
    assert not np.allclose(evaluated, first.numpy())
    ref = theirs(torch.tensor(src.numpy()), torch.tensor(tgt.numpy()))
    np.testing.assert_allclose(evaluated, ref.detach().numpy(), rtol=1e-9, atol=1e-11)


def test_stack_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(E, H, FF)
    encoder = nn.TransformerEncoder(layer, 2)
    assert len(encoder.layers) == encoder.num_layers == 2
    first, second = encoder.layers
    assert layer is not first and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), second.linear1.weight.numpy())
    with mg.no_grad():
        first.linear1.weight[...] = 0.0
    assert np.abs(second.linear1.weight.numpy()).sum() > 0
    assert len(list(encoder.parameters())) == 2 * len(list(layer.parameters()))
    assert encoder.enable_nested_tensor and encoder.mask_check


def test_factory_dtype_and_deepcopy():
    model = nn.Transformer(E, H, 1, 1, FF, dtype=mg.float64)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    layer = nn.TransformerDecoderLayer(E, H, FF, dtype=mg.float64)
    clone = copy.deepcopy(layer)
    assert clone.activation is F.relu and clone.norm_first is False
    out = clone(mg.randn(T, 2, E, dtype=mg.float64), mg.randn(S, 2, E, dtype=mg.float64))
    assert out.dtype == np.float64


def test_float32_stays_float32():
    model = nn.Transformer(E, H, 1, 1, FF)
    out = model(mg.randn(S, 2, E), mg.randn(T, 2, E),
                tgt_mask=nn.Transformer.generate_square_subsequent_mask(T))
    assert out.dtype == np.float32


def test_activation_module_is_a_submodule():
    layer = nn.TransformerEncoderLayer(E, H, FF, activation=nn.GELU())
    assert isinstance(layer.activation, nn.GELU)
    assert "activation" in dict(layer.named_children())
    assert layer(mg.randn(S, 2, E)).shape == (S, 2, E)


# -- gradchecks -------------------------------------------------------------------------------
@settings(max_examples=6)
@given(norm_first=st.booleans(), batch_first=st.booleans(), causal_mask=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_decoder_layer_gradcheck(norm_first, batch_first, causal_mask, seed):
    rng = np.random.default_rng(seed)
    mg.manual_seed(seed)
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu",
                                       batch_first=batch_first, norm_first=norm_first).double()
    shape = (lambda n: (2, n, 4)) if batch_first else (lambda n: (n, 2, 4))
    tgt = mg.tensor(rng.standard_normal(shape(3)), requires_grad=True)
    memory = mg.tensor(rng.standard_normal(shape(2)), requires_grad=True)
    mask = mg.tensor(causal(3)) if causal_mask else None
    assert mg.gradcheck(lambda t, m: layer(t, m, tgt_mask=mask), [tgt, memory])


# -- bad input ---------------------------------------------------------------------------------
def test_unknown_activation_is_refused():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
    with pytest.raises(TypeError, match="activation must be 'relu', 'gelu' or a callable, got int"):
        nn.TransformerDecoderLayer(E, H, activation=3)


def test_transformer_refuses_mismatched_inputs():
    model = nn.Transformer(E, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match=r"batch number of src and tgt must be equal: "
                                           r"src \(5, 3, 8\), tgt \(4, 2, 8\)"):
        model(mg.randn(S, 3, E), mg.randn(T, 2, E))
    with pytest.raises(RuntimeError, match=r"feature number .* d_model \(8\): src \(5, 3, 6\)"):
        model(mg.randn(S, 3, 6), mg.randn(T, 3, 6))


def test_bad_masks_are_named():
    layer = nn.TransformerEncoderLayer(E, H, FF)
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(3, 4\), expected \(3, 5\)"):
        layer(mg.randn(S, N, E), src_key_padding_mask=mg.zeros(N, 4, dtype=mg.bool))
    with pytest.raises(ValueError, match=r"attn_mask has shape \(4, 4\)"):
        layer(mg.randn(S, N, E), src_mask=mg.zeros(4, 4))
    with pytest.raises(TypeError, match="attn_mask must be a bool or floating-point tensor"):
        layer(mg.randn(S, N, E), src_mask=mg.zeros(S, S, dtype=mg.int64))
