"""Backends are pluggable: a second NumPy-backed backend under another device name,
selection by name/context/environment, transfers and their gradients."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.backends import ArrayBackend, compiled_kernel, get_backend, row_scatter


@pytest.fixture(scope="module")
def other():
    """A second backend: NumPy arrays, but another name and another device."""
    mg.register_backend("numpy_b", lambda: ArrayBackend("numpy_b", "device_b", np))
    return mg.get_backend("numpy_b")


def test_numpy_is_the_default_backend():
    if os.environ.get("MINIGRAD_BACKEND", "numpy") != "numpy":
        pytest.skip("another backend was selected for this run")
    assert mg.current_backend().name == "numpy"
    assert mg.ones(2).device == "cpu"
    assert mg.get_backend("cpu") is mg.get_backend("numpy")


def test_registered_backend_is_available_by_name_and_device(other):
    assert "numpy_b" in mg.backends.available_backends()
    assert mg.get_backend("numpy_b") is other
    assert mg.get_backend("device_b") is other  # by its device name once created
    assert mg.get_backend(other) is other


def test_use_backend_creates_tensors_there_and_restores(other):
    before = mg.current_backend()
    with mg.use_backend("numpy_b") as b:
        assert b is other and mg.current_backend() is other
        t = mg.randn(2, 3)
        u = mg.tensor([1.0, 2.0])
        assert t.device == "device_b" and u.device == "device_b"
        assert t.dtype == np.float32
    assert mg.current_backend() is before
    assert mg.ones(1).device == before.device


def test_use_backend_restores_after_an_exception(other):
    before = mg.current_backend()
    with pytest.raises(KeyError):
        with mg.use_backend("numpy_b"):
            raise KeyError
    assert mg.current_backend() is before


def test_set_backend(other):
    before = mg.current_backend()
    try:
        assert mg.set_backend("numpy_b") is other
        assert mg.zeros(2).device == "device_b"
    finally:
        mg.set_backend(before)
    assert mg.current_backend() is before


def test_to_moves_between_backends_and_the_gradient_comes_back(other):
    x = mg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = x.to("numpy_b")
    assert y.device == "device_b" and y.requires_grad and y.dtype == np.float64
    z = (y * y).sum()
    assert z.device == "device_b"
    z.backward()
    assert x.grad.device == x.device
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])
    back = y.to("cpu")
    assert back.device == "cpu"
    assert x.to(x.device) is x  # same device: no copy, no node


def test_operations_on_the_other_backend_run_there(other):
    with mg.use_backend("numpy_b"):
        a = mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    out = mg.concatenate([mg.tanh(a @ a), a[[0, 0]], mg.maximum(a, 2.5)])
    out = out.sum(axis=0).logsumexp()
    assert out.device == "device_b"
    out.backward()
    assert a.grad.device == "device_b"
    host = mg.tensor(a.numpy(), requires_grad=True)
    ref = mg.concatenate([mg.tanh(host @ host), host[[0, 0]], mg.maximum(host, 2.5)])
    ref.sum(axis=0).logsumexp().backward()
    np.testing.assert_allclose(a.grad.numpy(), host.grad.numpy())


def test_numpy_returns_a_host_array():
    t = mg.tensor([[1.0, 2.0]])
    assert type(t.numpy()) is np.ndarray
    assert np.asarray(t).shape == (1, 2)


def test_manual_seed_makes_random_numbers_reproducible():
    mg.manual_seed(123)
    a = mg.randn(3, 2).numpy()
    b = mg.rand(4).numpy()
    c = mg.randint(0, 10, (5,)).numpy()
    mg.manual_seed(123)
    np.testing.assert_array_equal(a, mg.randn(3, 2).numpy())
    np.testing.assert_array_equal(b, mg.rand(4).numpy())
    np.testing.assert_array_equal(c, mg.randint(0, 10, (5,)).numpy())
    mg.manual_seed(124)
    assert not np.array_equal(a, mg.randn(3, 2).numpy())
    assert mg.randn(2, 3).shape == mg.randn((2, 3)).shape == (2, 3)


def test_manual_seed_seeds_every_device_even_one_first_used_later():
    """As torch.manual_seed seeds every GPU: draws on a device other than the active one,
    and on one whose backend is made only after the seeding, repeat."""
    def draws(name):
        mg.register_backend(name, lambda: ArrayBackend(name, name, np))  # made on first use
        mg.manual_seed(7)
        mg.randn(2)  # the active device's stream moves; the others' must not care
        return [mg.randn(3, device=device).numpy() for device in ("simgpu", name)]
    first, again = draws("seeded_late"), draws("seeded_later")
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_backend_index_add_accumulates_repeated_indices():
    b = mg.current_backend()
    on_b = b.from_numpy  # a backend takes its own arrays (a GPU one refuses host arrays)
    out = b.index_add((4,), on_b(np.array([1, 1, 3, 1])), on_b(np.array([1.0, 2.0, 3.0, 4.0])))
    np.testing.assert_array_equal(b.to_numpy(out), [0.0, 7.0, 0.0, 3.0])
    out = b.index_add((2, 3), (slice(None), slice(1, None)), on_b(np.ones((2, 2))))
    np.testing.assert_array_equal(b.to_numpy(out), [[0, 1, 1], [0, 1, 1]])


def test_environment_variable_selects_the_backend_and_import_never_needs_cupy():
    code = ("import sys, minigrad as mg; "
            "print(mg.current_backend().name, 'cupy' in sys.modules)")
    env = dict(os.environ, MINIGRAD_BACKEND="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["numpy", "False"]


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_environment_asking_for_cupy_without_it_says_how_to_install():
    code = "import minigrad as mg; mg.ones(2)"
    env = dict(os.environ, MINIGRAD_BACKEND="cupy")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert "pip install" in result.stderr and "CuPy" in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="CuPy is not installed")
def test_cupy_round_trip():  # runs where a GPU and CuPy exist
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True, device="cpu")
    y = x.to("cuda")
    assert y.device.type == "cuda"  # the device is cuda:0, as PyTorch's
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert y.to("cpu").device == "cpu"


@pytest.mark.parametrize("shape", [(3, 5), (300, 260), (1000, 129), (64, 2048)])
def test_transposed_copy_is_a_contiguous_transpose(shape):
    """Large weights are copied in tiles (faster than NumPy's a.T.copy()); any shape,
    including ragged last tiles, must come out exactly a.T."""
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = mg.backends.get_backend("numpy").transposed_copy(a)
    assert out.flags.c_contiguous and out.dtype == a.dtype
    np.testing.assert_array_equal(out, a.T)


@given(rows=st.integers(1, 90), count=st.integers(0, 300), width=st.sampled_from([1, 3, 16, 40]),
       negative=st.booleans(), kernels=st.booleans(), seed=st.integers(0, 2**16))
def test_add_at_accumulates_repeated_rows_as_numpys_add_at(rows, count, width, negative,
                                                          kernels, seed):
    """The compiled row loop, and without it the sorted sum (wide rows, many indices),
    give add.at's sums."""
    r = np.random.default_rng(seed)
    index = r.integers(-rows if negative else 0, rows, size=(count,)).reshape(-1, 1)
    values = r.standard_normal(index.shape + (width,))
    out, expected = np.ones((rows, width)), np.ones((rows, width))
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGRAD_CPU_KERNELS", "1" if kernels else "0")
        compiled = row_scatter.add_rows_at
        patch.setattr(row_scatter, "add_rows_at",
                      lambda *args: calls.append(1) or compiled(*args))
        get_backend("numpy").add_at(out, index, values)
    np.add.at(expected, index, values)
    assert calls == ([1] if count else [])  # asked whenever there are rows to add
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not compiled_kernel.available(), reason="no working C++ compiler here")
def test_an_embeddings_backward_adds_its_rows_in_the_compiled_loop(monkeypatch):
    """Indices (T, B) and gradients (T, B, E), as nn.Embedding's backward gives them (on
    the CPU, whatever the suite's backend)."""
    done = []
    compiled = row_scatter.add_rows_at
    monkeypatch.setattr(row_scatter, "add_rows_at",
                        lambda *args: done.append(compiled(*args)) or done[-1])
    table = mg.nn.Embedding(10, 3).to("cpu")
    index = mg.tensor(np.random.default_rng(0).integers(0, 10, (6, 4)), device="cpu")
    table(index).pow(2).sum().backward()
    assert done == [True]
    expected = np.zeros((10, 3), np.float32)
    np.add.at(expected, index.numpy(), 2 * table.weight.detach().numpy()[index.numpy()])
    np.testing.assert_allclose(table.weight.grad.numpy(), expected, rtol=1e-6)


@pytest.mark.skipif(not compiled_kernel.available(), reason="no working C++ compiler here")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_added_at_an_index_by_the_compiled_loop(dtype):
    """Tables of any trailing shape, indices of any shape; where it does not apply (another
    dtype, a table that is not C-contiguous, indices not int64) it says so with False."""
    r = np.random.default_rng(0)
    out, index = np.zeros((7, 2, 3), dtype), r.integers(0, 7, (4, 5))
    values = r.standard_normal((4, 5, 2, 3)).astype(dtype)
    expected = out.copy()
    np.add.at(expected, index, values)
    assert row_scatter.add_rows_at(out, index, values)
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert not row_scatter.add_rows_at(out.astype(np.int64), index, values.astype(np.int64))
    assert not row_scatter.add_rows_at(np.zeros((3, 7), dtype).T, index % 3,
                                       values[..., 0, 0, None] * np.ones(3, dtype))
    assert not row_scatter.add_rows_at(out, index.astype(np.int32), values)
    assert not row_scatter.add_rows_at(out, index[:0], values[:0])


@given(rows=st.integers(1, 300), cols=st.integers(1, 40), transposed=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_sum_rows_equals_the_sum_over_rows(rows, cols, transposed, dtype, seed):
    """From 64 rows a product with ones, below (and for other dtypes) NumPy's own sum."""
    a = np.random.default_rng(seed).standard_normal((cols, rows) if transposed
                                                    else (rows, cols)).astype(dtype)
    a = a.T if transposed else a
    got = get_backend("numpy").sum_rows(a)
    assert got.shape == (cols,) and got.dtype == dtype
    exact = a.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(got, exact, rtol=0, atol=(3e-6 if dtype == np.float32
                                                         else 1e-14) * rows)
    if rows < ArrayBackend.SUM_ROWS_BY_PRODUCT:
        np.testing.assert_array_equal(got, a.sum(axis=0))
    ints = (a * 10).astype(np.int64)
    np.testing.assert_array_equal(get_backend("numpy").sum_rows(ints), ints.sum(axis=0))


def test_a_bias_gradient_is_summed_by_sum_rows(monkeypatch):
    """The engine undoes a leading broadcast (a bias) through the backend's sum_rows."""
    backend, calls = get_backend("numpy"), []
    original = ArrayBackend.sum_rows
    monkeypatch.setattr(ArrayBackend, "sum_rows",
                        lambda self, a: calls.append(a.shape) or original(self, a))
    x = mg.tensor(np.random.default_rng(0).standard_normal((100, 3)))
    bias = mg.zeros(3, requires_grad=True)
    (x + bias).pow(2).sum().backward()
    assert calls == [(100, 3)] and backend.xp is np
    np.testing.assert_allclose(bias.grad.numpy(), (2 * x.numpy()).sum(axis=0), atol=1e-12)


def test_add_at_names_a_bad_index_as_add_at_does():
    with pytest.raises(IndexError):
        get_backend("numpy").add_at(np.zeros((3, 16)), np.full(70, 3), np.ones((70, 16)))
