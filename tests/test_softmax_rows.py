"""The compiled softmax parts and scaled rows (backends/softmax_rows.py) against the ufunc
paths they stand in for (ArrayBackend.shifted_exp and a row sum; ``x * scale[:, None]``),
NaN and infinite rows included, on one thread and shared among helper threads."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.backends import compiled_kernel, get_backend, packed_matmul, threads
from minigrad.backends.softmax_rows import scale_rows, softmax_rows

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


def _check_shared(rows, cols, helpers, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * 5).astype(dtype)
    scale = rng.standard_normal(rows).astype(dtype)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threads, "kernel_threads", lambda: helpers + 1)
        for _ in range(2):  # again, with the helpers awake
            _check(x)
            np.testing.assert_array_equal(scale_rows(x, scale), x * scale[:, None])


@given(rows=st.integers(1, 1200), cols=st.sampled_from([1, 7, 64, 257, 1000, 20000]),
       helpers=st.integers(1, 3), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_rows_shared_among_helper_threads_equal_the_ufunc_paths(rows, cols, helpers, dtype,
                                                                 seed):
    """Big enough (from 2^16 elements) the rows go to the helper threads in units (of one
    row each past 2^14 columns)."""
    _check_shared(rows if cols < 20000 else rows % 9 + 1, cols, helpers, dtype, seed)


@pytest.mark.parametrize("shape, dtype", [((700, 1000), np.float32), ((2048, 84), np.float32),
                                          ((5, 20000), np.float64), ((1100, 60), np.float64)])
def test_the_word_lm_and_main_job_shapes_shared_among_two_threads(shape, dtype):
    _check_shared(*shape, 1, dtype, 3)


@given(rows=st.integers(1, 9), cols=st.integers(1, 70),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_scaled_rows_equal_the_ufunc_product(rows, cols, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(dtype)
    scale = rng.standard_normal(rows).astype(dtype)
    for given_x in (x, np.asfortranarray(x), x[:, ::-1]):
        got = scale_rows(given_x, scale)
        np.testing.assert_array_equal(got, given_x * scale[:, None])
        assert got.flags.c_contiguous and got is not given_x


def test_scaled_rows_where_it_does_not_apply_say_so_with_none():
    x = np.ones((3, 4))
    assert scale_rows(x, np.ones(3, np.float32)) is None  # another dtype
    assert scale_rows(x, np.ones(4)) is None               # not one per row
    assert scale_rows(np.ones((3, 4), np.int64), np.ones(3, np.int64)) is None
    assert scale_rows(np.ones((0, 4)), np.ones(0)) is None


def test_the_backend_scales_rows_with_ufuncs_without_kernels(monkeypatch):
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "0")
    x, scale = np.arange(6.0).reshape(2, 3), np.array([2.0, -1.0])
    np.testing.assert_array_equal(get_backend("numpy").scale_rows(x, scale),
                                  x * scale[:, None])


def test_the_pool_is_found_and_offered_only_with_kernels(monkeypatch):
    assert packed_matmul.parallel_for() != 0
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "0")
    assert packed_matmul.parallel_for() == 0
