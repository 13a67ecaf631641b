"""The compiled softmax parts (backends/softmax_rows.py) against the ufunc path they stand
in for (ArrayBackend.shifted_exp and a row sum), NaN and infinite rows included."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.backends import compiled_kernel, get_backend
from minigrad.backends.softmax_rows import softmax_rows

pytestmark = pytest.mark.skipif(not compiled_kernel.available(),
                                reason="no working C++ compiler here (or MINIGRAD_CPU_KERNELS=0)")


def _expected(x):
    e, m = get_backend("numpy").shifted_exp(x, axis=1)
    return e, m, e.sum(axis=1)


def _check(x):
    got, expected = softmax_rows(x), _expected(x)
    tiny = np.finfo(x.dtype).tiny  # below the normal numbers PRELUDE's exp gives 0
    ulp = dict(rtol=4e-7 if x.dtype == np.float32 else 1e-15, atol=tiny)
    np.testing.assert_allclose(got[0], expected[0], **ulp)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-5 if x.dtype == np.float32
                               else 1e-12)


@given(rows=st.integers(1, 9), cols=st.integers(1, 70), scale=st.sampled_from([1.0, 30.0]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_parts_equal_the_ufunc_paths(rows, cols, scale, dtype, seed):
    x = (np.random.default_rng(seed).standard_normal((rows, cols)) * scale).astype(dtype)
    _check(x)
    _check(np.asfortranarray(x))  # columns apart: copied first


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_with_nan_or_infinities_are_not_shifted(dtype):
    x = np.random.default_rng(0).standard_normal((5, 9)).astype(dtype)
    x[0, 3] = np.nan
    x[1] = -np.inf
    x[2, 4] = np.inf
    x[3, 1] = -np.inf
    with np.errstate(invalid="ignore"):
        _check(x)
    e, m, _ = softmax_rows(x)
    assert np.isnan(e[0, 3]) and m[0, 0] == 0 and m[1, 0] == 0 and m[2, 0] == 0


def test_where_it_does_not_apply_it_says_so_with_none():
    assert softmax_rows(np.ones((3, 4), np.int64)) is None
    assert softmax_rows(np.ones(4)) is None
    assert softmax_rows(np.ones((0, 4))) is None
    assert softmax_rows([[1.0, 2.0]]) is None


def test_the_backend_falls_back_to_ufuncs_without_kernels(monkeypatch):
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "0")
    x = np.random.default_rng(1).standard_normal((4, 6))
    for got, expected in zip(get_backend("numpy").softmax_parts(x), _expected(x)):
        np.testing.assert_array_equal(got, expected)
