"""Type promotion follows PyTorch's result_type (minigrad/promotion.py), pair by pair."""
import itertools

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"]
KINDS = ["dims", "0-d", "number"]


def operand(dtype, kind, lib):
    if kind == "number":
        return {"bool": True, "float16": 1.5, "float32": 1.5, "float64": 1.5,
                "complex64": 1j, "complex128": 1j}.get(dtype, 2)
    shape = (2,) if kind == "dims" else ()
    array = np.ones(shape, dtype=dtype)
    return mg.tensor(array) if lib is mg else torch.from_numpy(array)


# float16 with complex is complex32 in PyTorch, a dtype NumPy (so minigrad) lacks
CASES = [(a, ka, b, kb) for (a, ka), (b, kb) in itertools.product(
    itertools.product(DTYPES, KINDS), repeat=2) if not (ka == kb == "number")
    and not ("float16" in (a, b) and {a, b} & {"complex64", "complex128"})]


@pytest.mark.parametrize("a, ka, b, kb", CASES)
def test_binary_result_dtype_matches_torch(a, ka, b, kb):
    ours = operand(a, ka, mg) * operand(b, kb, mg)
    theirs = operand(a, ka, torch) * operand(b, kb, torch)
    assert np.dtype(ours.dtype) == np.dtype(str(theirs.dtype).replace("torch.", ""))


@pytest.mark.parametrize("a, b", itertools.product(DTYPES[1:6], repeat=2))
def test_true_division_of_integers_is_the_default_float(a, b):
    q = mg.ones(2, dtype=a) / mg.ones(2, dtype=b)
    assert q.dtype == mg.get_default_dtype()


def test_gradients_come_back_in_each_inputs_dtype():
    w = mg.randn(3, requires_grad=True)
    x = mg.randn(3, dtype=mg.float64, requires_grad=True)
    out = w * x
    assert out.dtype == mg.float64
    out.sum().backward()
    assert w.grad.dtype == mg.float32 and x.grad.dtype == mg.float64
    np.testing.assert_allclose(w.grad.numpy(), x.numpy(), rtol=1e-6)


def test_cat_and_where_promote_like_torch():
    assert mg.cat([mg.randn(2), mg.arange(2)]).dtype == mg.float32
    assert mg.where(mg.tensor([True, False]), mg.arange(2), 0.5).dtype == mg.float32
    assert mg.arange(3).clamp(min=0.5).dtype == mg.float32
