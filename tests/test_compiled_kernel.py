"""CPU kernels (backends/compiled_kernel.py): CuPy's ElementwiseKernel contract, the
float32 exp and tanh the compiler can vectorise, and errors that name the argument."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.backends import compiled_kernel
from minigrad.backends.compiled_kernel import ElementwiseKernel

pytestmark = pytest.mark.skipif(not compiled_kernel.available(),
                                reason="no working C++ compiler here (or MINIGRAD_CPU_KERNELS=0)")

AXPY = ElementwiseKernel("T x, T y", "T acc", "acc = acc * 2 + x * y;", "test_axpy")
FUNCTIONS = ElementwiseKernel("T x", "T e, T t, T s", "e = exp(x); t = tanh(x); "
                              "s = 1 / (1 + exp(-x));", "test_functions")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_broadcast_and_outputs_update_in_place(dtype):
    acc = np.ones((2, 3), dtype)
    AXPY(np.arange(3, dtype=dtype), np.full((2, 1), 2, dtype), acc)
    np.testing.assert_array_equal(acc, 2 + 2 * np.arange(3)[None].repeat(2, 0))
    AXPY(1.5, np.ones((2, 3), dtype), acc)  # a number is an input too
    np.testing.assert_array_equal(acc, 2 * (2 + 2 * np.arange(3)[None].repeat(2, 0)) + 1.5)


def test_row_views_are_read_and_written_where_they_are():
    """Views with a row stride (a gate's columns of a larger array) need no copies."""
    big = np.zeros((5, 10))
    gates = np.arange(50.0).reshape(5, 10)
    out = big[::2, 1:4]
    AXPY(gates[::2, 4:7], gates[::2, :3], out)
    expected = np.zeros((5, 10))
    expected[::2, 1:4] = gates[::2, 4:7] * gates[::2, :3]
    np.testing.assert_array_equal(big, expected)


@given(x=hnp.arrays(np.float32, st.integers(1, 300),
                    elements=st.floats(-120, 120, width=32, allow_subnormal=False)))
def test_float32_exp_tanh_sigmoid_within_three_ulp(x):
    e, t, s = (np.empty_like(x) for _ in range(3))
    FUNCTIONS(x, e, t, s)
    wide = x.astype(np.float64)
    with np.errstate(over="ignore"):
        for got, exact in ((e, np.exp(wide)), (t, np.tanh(wide)), (s, 1 / (1 + np.exp(-wide)))):
            representable = np.abs(exact) < np.finfo(np.float32).max
            normal = np.abs(exact) >= np.finfo(np.float32).tiny
            ulp = np.spacing(np.abs(exact[representable & normal]).astype(np.float32))
            error = np.abs(got[representable & normal] - exact[representable & normal])
            assert np.all(error <= 3 * ulp)
            assert np.all(np.isinf(got[~representable]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_follow_the_c_library(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 200, -200], dtype)
    e, t, s = (np.empty_like(x) for _ in range(3))
    FUNCTIONS(x, e, t, s)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(e, np.exp(x))
        np.testing.assert_array_equal(t, np.tanh(x))
        np.testing.assert_array_equal(s, 1 / (1 + np.exp(-x)))
    assert np.array_equal(np.signbit(t), np.signbit(np.tanh(x)))  # tanh(-0.0) is -0.0


class Subclass(np.ndarray):
    pass


def test_errors_name_the_argument():
    acc = np.ones((2, 3))
    with pytest.raises(TypeError, match="2 inputs and 1 outputs, got 2 arguments"):
        AXPY(acc, acc)
    with pytest.raises(TypeError, match=r"argument 1 \(y\) has dtype float32, not float64"):
        AXPY(acc, acc.astype(np.float32), acc)
    with pytest.raises(ValueError, match=r"shapes \(2, 3\), \(2, 3\), \(2, 2\) do not broadcast"):
        AXPY(acc, acc, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"output 2 \(acc\) has shape \(1, 3\), not the "
                                         r"arguments' \(4, 3\)"):
        AXPY(np.ones((4, 1)), np.ones(3), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"output 2 \(acc\) is read-only"):
        AXPY(acc, acc, np.broadcast_to(np.ones(3), (2, 3)))
    with pytest.raises(ValueError, match=r"output 2 \(acc\) \(strides \(8, 24\)\) needs unit "
                                         r"stride"):
        AXPY(np.ones((3, 2)), 1.0, np.ones((2, 3)).T)
    with pytest.raises(ValueError, match="at most two dimensions"):
        AXPY(1.0, 1.0, np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        AXPY(np.ones(3, np.int64), np.ones(3, np.int64), np.ones(3, np.int64))
    with pytest.raises(TypeError, match=r"argument 2 \(acc\) is a Subclass, not a plain NumPy"):
        AXPY(acc, acc, acc.view(Subclass))
    with pytest.raises(ValueError, match="only 'T name' parameters, got 'float32 x'"):
        ElementwiseKernel("float32 x", "T y", "y = x;", "bad")


def test_without_a_compiler_the_backend_keeps_the_generic_steps(monkeypatch):
    from minigrad.backends import get_backend
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "0")
    assert not compiled_kernel.available()
    assert get_backend("numpy").recurrent_kernels(np.float32) == {}
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "1")
    monkeypatch.setenv("CXX", "no-such-compiler")
    with pytest.raises(RuntimeError, match="no C\\+\\+ compiler"):
        compiled_kernel._build('extern "C" int f() { return 0; }', "f")


@given(shape=st.sampled_from([(), (0,), (1,), (7,), (3, 5), (2, 3, 4), (4, 0, 2)]),
       dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8]),
       padding=st.integers(0, 63))
def test_aligned_empty_starts_on_a_64_byte_boundary(shape, dtype, padding):
    """Whatever NumPy's allocator gives (other arrays made first shift it), the data of
    aligned_empty starts on a cache line and is an ordinary writeable C-ordered array."""
    keep = np.empty(padding, np.uint8)  # noqa: F841  (moves the next allocation)
    a = compiled_kernel.aligned_empty(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert a.size == 0 or a.ctypes.data % compiled_kernel.ALIGNMENT == 0  # empty: no data
    a[...] = 1
    assert a.sum() == a.size
