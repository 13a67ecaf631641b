"""``c + a @ b`` through the BLAS's GEMM with beta = 1 (backends/blas_gemm.py), against
NumPy: every layout the BLAS takes, every shape of ``c`` that broadcasts, and None where it
does not apply."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.backends import ArrayBackend, blas_gemm, get_backend

needs_openblas = pytest.mark.skipif(not blas_gemm._mapped_openblas(),
                                    reason="NumPy's BLAS here is not OpenBLAS")


def _layouts(x):
    """x as C-ordered, Fortran-ordered, every other row of a taller array and a slice of
    a wider one (leading dimensions beyond the shape)."""
    tall = np.zeros((2 * x.shape[0], x.shape[1]), x.dtype)
    tall[::2] = x
    wide = np.zeros((x.shape[0], x.shape[1] + 3), x.dtype)
    wide[:, 1:1 + x.shape[1]] = x
    return [x, np.asfortranarray(x), tall[::2], wide[:, 1:1 + x.shape[1]]]


@needs_openblas
def test_numpys_openblas_is_found_and_checked_for_both_dtypes():
    assert blas_gemm._function(np.dtype(np.float32)) is not None
    assert blas_gemm._function(np.dtype(np.float64)) is not None


@needs_openblas
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40),
       c_shape=st.sampled_from(["row", "column", "full", "scalar"]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_matmul_plus_equals_numpy_for_every_layout(m, k, n, c_shape, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    c = rng.standard_normal({"row": (n,), "column": (m, 1), "full": (m, n),
                             "scalar": ()}[c_shape]).astype(dtype)
    expected = c + a @ b
    tolerance = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12,
                                                                             atol=1e-12)
    for left in _layouts(a):
        for right in _layouts(b):
            got = blas_gemm.matmul_plus(c, left, right)
            assert got.shape == (m, n) and got.dtype == dtype and got.flags.c_contiguous
            np.testing.assert_allclose(got, expected, **tolerance)


def test_where_it_does_not_apply_it_says_so_with_none():
    a, b, c = np.ones((3, 4)), np.ones((4, 5)), np.ones(5)
    assert blas_gemm.matmul_plus(c, a.astype(np.float32), b) is None      # dtypes differ
    assert blas_gemm.matmul_plus(c.astype(int), a.astype(int), b.astype(int)) is None
    assert blas_gemm.matmul_plus(c, np.ones((3, 0)), np.ones((0, 5))) is None  # empty
    assert blas_gemm.matmul_plus(np.ones((2, 3, 5)), a, b) is None        # c too big
    assert blas_gemm.matmul_plus(np.ones(4), a, b) is None                # c does not fit
    assert blas_gemm.matmul_plus(c, a[:, ::2], np.ones((2, 5))) is None   # strided rows
    assert blas_gemm.matmul_plus(c, np.broadcast_to(np.ones(4), (3, 4)), b) is None
    assert blas_gemm.matmul_plus(c, a, [[1.0] * 5] * 4) is None           # not an array
    huge = np.lib.stride_tricks.as_strided(np.ones(4), (3, 4), (2**31, 8))
    assert blas_gemm.matmul_plus(c, huge, b) is None                      # 32-bit BLAS


def test_the_backend_adds_the_bias_itself_where_the_blas_is_not_used(monkeypatch):
    monkeypatch.setattr(blas_gemm, "matmul_plus", lambda c, a, b: None)
    a, b, c = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4), np.arange(4.0)
    np.testing.assert_array_equal(get_backend("numpy").matmul_plus(c, a, b), c + a @ b)
    ints = get_backend("numpy").matmul_plus(c, a.astype(np.int64), b.astype(np.int64))
    assert ints.dtype == np.float64
    np.testing.assert_array_equal(ints, c + a @ b)


def test_linear_layers_forward_through_it(monkeypatch):
    """nn.Linear on a 2-D input is addmm: its output and gradients stay those of the
    composed product plus bias (this small one sent through the BLAS path too)."""
    monkeypatch.setattr(ArrayBackend, "BIAS_IN_GEMM", 0)
    rng = np.random.default_rng(0)
    layer = mg.nn.Linear(7, 5).double()
    x = mg.tensor(rng.standard_normal((9, 7)), requires_grad=True)
    out = layer(x)
    expected = x.detach().numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(5, 9.0))
