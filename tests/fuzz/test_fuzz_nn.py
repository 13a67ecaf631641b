"""Every layer and loss in minigrad.nn on bad input: bad constructor arguments, then bad
inputs to forward. Each works as PyTorch's does (the same weights give the same outputs),
or raises an error that names the layer (or the op inside it) and what was wrong.

The classes come from minigrad.nn itself: a Module subclass without a spec here, or a
reason to set it aside, fails the suite.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.nn as nn
import differences
from harness import (Hang, Tally, assert_same, checked, finite, outcome, share, to_torch,
                     torch)
from oracle import restored
from strategies import Spec, arguments, call_label

R = "reduction=reduction"
# constructor spec | forward spec
LAYERS = {
    "Linear": ("size size bias=bool", "F"),
    "Bilinear": ("size size size bias=bool", "F F"),
    "Embedding": ("size size padding_idx=int max_norm=N", "I"),
    "EmbeddingBag": ("size size mode=bagmode", "I"),
    "Conv1d": ("size size pair stride=pair padding=padding dilation=pair groups=int "
               "bias=bool", "F"),
    "Conv2d": ("size size pair stride=pair padding=padding dilation=pair groups=int "
               "bias=bool", "F"),
    "ConvTranspose2d": ("size size pair stride=pair padding=pair output_padding=pair "
                        "groups=int dilation=pair", "F"),
    "MaxPool1d": ("size stride=size padding=int dilation=int ceil_mode=bool", "F"),
    "MaxPool2d": ("pair stride=pair padding=pair dilation=pair ceil_mode=bool", "F"),
    "AvgPool1d": ("size stride=size padding=int ceil_mode=bool count_include_pad=bool", "F"),
    "AvgPool2d": ("pair stride=pair padding=pair ceil_mode=bool divisor_override=int", "F"),
    "AdaptiveAvgPool1d": ("size", "F"), "AdaptiveAvgPool2d": ("pair", "F"),
    "AdaptiveMaxPool1d": ("size return_indices=bool", "F"),
    "AdaptiveMaxPool2d": ("pair return_indices=bool", "F"),
    "BatchNorm1d": ("size eps=N momentum=N affine=bool track_running_stats=bool", "F"),
    "BatchNorm2d": ("size eps=N momentum=N affine=bool", "F"),
    "BatchNorm3d": ("size eps=N affine=bool", "F"),
    "GroupNorm": ("size size eps=N affine=bool", "F"),
    "LayerNorm": ("shape eps=N elementwise_affine=bool", "F"),
    "Dropout": ("prob?", "F"), "Dropout1d": ("prob?", "F"), "Dropout2d": ("prob?", "F"),
    "ELU": ("N?", "F"), "LeakyReLU": ("N?", "F"), "Hardtanh": ("N? N?", "F"),
    "Softplus": ("N? N?", "F"), "GLU": ("dim?", "F"), "PReLU": ("size? N?", "F"),
    "Softmax": ("dim?", "F"), "LogSoftmax": ("dim?", "F"), "GELU": ("approximate=approximate",
                                                                      "F"),
    "CosineSimilarity": ("dim? N?", "F F"), "PairwiseDistance": ("N? N? bool?", "F F"),
    "Flatten": ("dim? dim?", "F"), "Unflatten": ("dim shape", "F"), "Identity": ("any?", "T"),
    "ReLU": ("", "T"), "SELU": ("", "T"), "SiLU": ("", "T"), "Sigmoid": ("", "T"),
    "Tanh": ("", "T"), "Mish": ("", "T"), "LogSigmoid": ("", "T"), "Softsign": ("", "T"),
    "MultiheadAttention": ("size size dropout=prob bias=bool batch_first=bool", "F F F"),
    "RNN": ("size size num_layers=size nonlinearity=nonlinearity bidirectional=bool "
            "batch_first=bool", "F"),
    "LSTM": ("size size num_layers=size bidirectional=bool proj_size=size", "F"),
    "GRU": ("size size num_layers=size bidirectional=bool dropout=prob", "F"),
    "RNNCell": ("size size bias=bool nonlinearity=nonlinearity", "F"),
    "LSTMCell": ("size size bias=bool", "F"), "GRUCell": ("size size bias=bool", "F"),
    "TransformerEncoderLayer": ("size size dim_feedforward=size dropout=prob "
                                "batch_first=bool", "F"),
    "TransformerDecoderLayer": ("size size dim_feedforward=size dropout=prob "
                                "batch_first=bool", "F F"),
    "Transformer": ("size size size size size dropout=prob", "F F"),
    # losses: reduction= and their own options, then (input, target[, ...])
    "MSELoss": (R, "F F"), "L1Loss": (R, "F F"), "HuberLoss": (R + " delta=N", "F F"),
    "SmoothL1Loss": (R + " beta=N", "F F"), "BCELoss": ("weight=F " + R, "F F"),
    "BCEWithLogitsLoss": ("weight=F pos_weight=F " + R, "F F"),
    "CrossEntropyLoss": ("weight=F ignore_index=int label_smoothing=prob " + R, "F I"),
    "NLLLoss": ("weight=F ignore_index=int " + R, "F I"),
    "KLDivLoss": (R + " log_target=bool", "F F"),
    "MarginRankingLoss": ("margin=N " + R, "F F F"),
    "CosineEmbeddingLoss": ("margin=N " + R, "F F F"),
    "CTCLoss": ("blank=int " + R + " zero_infinity=bool", "F I I I"),
}
NOT_FUZZED = {
    "Module": "the base class", "Sequential": "a container of fuzzed layers",
    "ModuleList": "a container", "ModuleDict": "a container", "ParameterList": "a container",
    "ParameterDict": "a container", "RNNBase": "the base of RNN/LSTM/GRU (fuzzed)",
    "RNNCellBase": "the base of the cells (fuzzed)",
    "TransformerEncoder": "a stack of fuzzed TransformerEncoderLayers",
    "TransformerDecoder": "a stack of fuzzed TransformerDecoderLayers",
}
# Layers whose outputs are not compared with PyTorch's (still checked for their errors).
RANDOM = {"Dropout", "Dropout1d", "Dropout2d"}


def module_classes() -> list:
    return sorted(n for n in dir(nn) if isinstance(getattr(nn, n), type)
                  and issubclass(getattr(nn, n), nn.Module))


def test_every_layer_is_fuzzed_or_set_aside():
    missing = [n for n in module_classes() if n not in LAYERS and n not in NOT_FUZZED]
    assert not missing, f"give these a spec in LAYERS (or a reason in NOT_FUZZED): {missing}"


def constructor_names(name: str) -> list:
    """A constructor's error may name the class or one of its parameters."""
    parameters = inspect.signature(getattr(nn, name).__init__).parameters
    return [name, name.lower()] + [p for p in parameters if p != "self"]


# A forward's error may name the layer, its functional form, or the op inside that failed.
OPS = sorted({n for n in mg.__all__ if callable(getattr(mg, n, None))} | set(mg.primitives)
             | {n for n in dir(nn.functional) if not n.startswith("_")})


def forward_names(name: str) -> list:
    """The layer, its options (a bad option shows when it runs), any op or layer inside."""
    return constructor_names(name) + OPS + module_classes() + [
        "input", "target", "shape", "dtype", "hidden", "weight", "indices", "offsets",
        "lengths"]


def _shape(draw, sizes: list) -> tuple:
    """A shape of 1 to 4 dims made of the constructor's own sizes (so inputs often fit)."""
    pool = [s for s in sizes if type(s) is int and 0 <= s <= 4] + [1, 2, 3]
    return tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4)))


def _torch_module(name: str, args: tuple, kwargs: dict):
    return getattr(torch.nn, name)(*to_torch(args), **to_torch(kwargs))


def _torch_built(name: str, args: tuple, kwargs: dict) -> tuple:
    """PyTorch's constructor outcome; a hang there (a stack of 2**63 layers, copied one by
    one) is PyTorch's failure to answer: an error, so minigrad's own outcome is judged."""
    try:
        return outcome(_torch_module, (name, args, kwargs))
    except Hang as exc:
        return "error", exc


def _same_weights(ours: nn.Module, theirs) -> bool:
    """Copy our parameters and buffers into PyTorch's module; False if the names or shapes
    differ (then outputs are not compared)."""
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}
    target = theirs.state_dict()
    if set(state) != set(target) or any(state[k].shape != target[k].shape for k in state):
        return False
    theirs.load_state_dict(state)
    return True


@pytest.mark.parametrize("name", sorted(LAYERS))
@given(data=st.data())
@share(2)
def test_layer_on_bad_input(name, data):
    build, run = (Spec.parse(text) for text in LAYERS[name])
    args, kwargs = data.draw(arguments(build), label="constructor")
    label = call_label(f"nn.{name}", args, kwargs)
    made = restored(lambda: checked(constructor_names(name), label, getattr(nn, name), args,
                                    kwargs))
    theirs = None
    if torch is not None:
        theirs = restored(lambda: _torch_built(name, args, kwargs))
        if made[0] != theirs[0] and not differences.explain_nn(name, "init", made, theirs):
            raise AssertionError(f"{label}\n  here: {made}\n  PyTorch: {theirs}")
    if made[0] != "ok":
        return
    module = made[1].eval()
    base = _shape(data.draw, list(args) + list(kwargs.values()))
    inputs, extra = data.draw(arguments(run, base), label="inputs")
    forward = call_label(f"{label}.forward", inputs, extra)
    ours = restored(lambda: checked(forward_names(name), forward, module, inputs))
    if theirs is None or theirs[0] != "ok" or differences.device_mix(inputs, {}) or \
            differences.device_mix(args, kwargs):
        return
    tmod = theirs[1].eval()
    same = _same_weights(module, tmod)
    got = restored(lambda: outcome(tmod, to_torch(inputs)))
    if ours[0] != got[0]:
        if not differences.explain_nn(name, "forward", ours, got, inputs):
            raise AssertionError(f"{forward}\n  here: {ours}\n  PyTorch: {got}")
        return
    if ours[0] == "ok" and same and name not in RANDOM and finite(inputs) and \
            not differences.explain_nn(name, "values", ours, got, inputs) and \
            not differences.nn_values_differ(name, kwargs, inputs, args):
        Tally.compared += 1
        assert_same(ours[1], got[1], forward, dtypes=False)
