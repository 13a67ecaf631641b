"""The packed step product (backends/packed_matmul.py) against NumPy's matmul, and where
the backend uses it (ArrayBackend.step_matmul).

The recurrent layers' own tests (test_fused_rnn.py, test_recurrent_kernels.py, the
PyTorch oracle) run through it too: their weights are small enough to be packed."""
import os
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad import blas_spin
from minigrad.backends import array_backend, compiled_kernel, get_backend, threads
from minigrad.backends.packed_matmul import PackedMatrix

pytestmark = pytest.mark.skipif(not compiled_kernel.available(),
                                reason="no working C++ compiler here (or MINIGRAD_CPU_KERNELS=0)")

TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@given(rows=st.integers(0, 19), depth=st.integers(0, 70), width=st.integers(0, 70),
       dtype=st.sampled_from([np.float32, np.float64]), transpose=st.booleans(),
       strided=st.booleans(), seed=st.integers(0, 2**16))
def test_products_equal_numpys(rows, depth, width, dtype, transpose, strided, seed):
    r = np.random.default_rng(seed)
    w = r.standard_normal((width, depth) if transpose else (depth, width)).astype(dtype)
    b = w.T if transpose else w
    a = r.standard_normal((rows, depth + 3)).astype(dtype)[:, 1:depth + 1] if strided else \
        r.standard_normal((rows, depth)).astype(dtype)
    out = np.full((rows, width + 2), 7, dtype)[:, :width]  # rows apart: a view of a wider one
    packed = PackedMatrix(w, transpose)
    assert packed(a, out) is out
    np.testing.assert_allclose(out, a @ b, **TOLERANCE[dtype])
    np.testing.assert_allclose(packed(np.asfortranarray(a), out), a @ b, **TOLERANCE[dtype])


@given(rows=st.integers(32, 48), depth=st.integers(128, 200), width=st.integers(257, 600),
       helpers=st.integers(1, 3), seed=st.integers(0, 2**16))  # big enough to be shared
def test_products_shared_with_helper_threads_equal_numpys(rows, depth, width, helpers, seed):
    r = np.random.default_rng(seed)
    w, a = r.standard_normal((width, depth)), r.standard_normal((rows, depth))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threads, "kernel_threads", lambda: helpers + 1)
        packed = PackedMatrix(w, transpose=True)
        for _ in range(3):  # again, with the helpers awake
            np.testing.assert_allclose(packed(a, np.empty((rows, width))), a @ w.T,
                                       rtol=1e-12, atol=1e-12)
    if os.path.isdir("/proc/self/task"):  # the helpers were started (they stay, asleep)
        assert len(os.listdir("/proc/self/task")) > helpers


def test_products_from_two_python_threads_at_once(monkeypatch):
    monkeypatch.setattr(threads, "kernel_threads", lambda: 2)
    r = np.random.default_rng(5)
    cases = [(r.standard_normal((600, 256)), r.standard_normal((16, 256))) for _ in range(2)]
    failures = []

    def run(w, a):
        packed, expected = PackedMatrix(w, transpose=True), a @ w.T
        for _ in range(300):  # one gets the helpers, the other runs alone meanwhile
            if not np.allclose(packed(a, np.empty((16, 600))), expected, rtol=1e-12):
                failures.append(1)

    workers = [threading.Thread(target=run, args=case) for case in cases]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures


def test_a_forked_child_computes_without_its_parents_helpers(monkeypatch):
    monkeypatch.setattr(threads, "kernel_threads", lambda: 2)
    w, a = np.arange(640.0 * 128).reshape(640, 128) % 7, np.ones((16, 128))
    packed = PackedMatrix(w, transpose=True)
    packed(a, np.empty((16, 640)))  # big enough to share: the helper now runs here
    pid = os.fork()
    if pid == 0:  # the child: a product must finish (and be right) without that thread
        ok = np.array_equal(packed(a, np.empty((16, 640))), a @ w.T)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_every_tail_of_rows_and_columns():
    r = np.random.default_rng(0)
    for rows in range(1, 18):
        for width in (1, 15, 16, 17, 31, 32, 33, 64, 65):
            w, a = r.standard_normal((width, 9)), r.standard_normal((rows, 9))
            np.testing.assert_allclose(PackedMatrix(w, True)(a, np.empty((rows, width))),
                                       a @ w.T, rtol=1e-12, atol=1e-12)


def test_a_weight_with_rows_apart_and_a_later_change_of_it():
    r = np.random.default_rng(1)
    wide = r.standard_normal((6, 40)).astype(np.float32)
    w = wide[:, 3:30]
    a = r.standard_normal((4, 6)).astype(np.float32)
    packed = PackedMatrix(w)
    expected = a @ w
    wide[:] = 0  # packed now: later changes to w are not seen
    np.testing.assert_allclose(packed(a, np.empty((4, 27), np.float32)), expected, rtol=1e-5)


def test_bad_arguments_name_what_is_wrong():
    packed = PackedMatrix(np.ones((3, 5)), transpose=True)  # a @ w.T: (M, 5) -> (M, 3)
    with pytest.raises(ValueError, match=r"a must be a float64 NumPy array of shape \(M, 5\), "
                                         r"got shape \(2, 4\)"):
        packed(np.ones((2, 4)), np.empty((2, 3)))
    with pytest.raises(ValueError, match="a must be .* got shape .*dtype float32"):
        packed(np.ones((2, 5), np.float32), np.empty((2, 3)))
    with pytest.raises(ValueError, match=r"out must be a writeable float64 NumPy array of "
                                         r"shape \(2, 3\).* got shape \(2, 4\)"):
        packed(np.ones((2, 5)), np.empty((2, 4)))
    read_only = np.empty((2, 3))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        packed(np.ones((2, 5)), read_only)
    with pytest.raises(ValueError, match="unit stride along its rows, got .*strides"):
        packed(np.ones((2, 5)), np.empty((2, 6))[:, ::2])
    with pytest.raises(ValueError, match="a must be .* got list"):
        packed([[1.0] * 5], np.empty((1, 3)))
    with pytest.raises(TypeError, match="w must be a 2-D float32 or float64 NumPy array, "
                                        "got shape \\(3,\\), dtype int64"):
        PackedMatrix(np.ones(3, np.int64))


def test_switched_off_kernels_say_so(monkeypatch):
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "0")
    with pytest.raises(RuntimeError, match="MINIGRAD_CPU_KERNELS=0"):
        PackedMatrix(np.ones((2, 2)))


def _is_packed(product):
    return isinstance(product, PackedMatrix)


def test_the_backend_packs_small_weights_and_big_ones_where_the_kernel_has_the_threads(
        monkeypatch):
    backend = get_backend("numpy")
    small = np.ones((4 * 128, 128), np.float32)
    big = np.ones((4 * 512, 512), np.float32)
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)
    monkeypatch.setattr(blas_spin, "SHORT_SPIN", False)  # OpenBLAS spins: one kernel thread
    assert threads.kernel_threads() == 1
    assert _is_packed(backend.step_matmul(small, transpose=True))
    assert not _is_packed(backend.step_matmul(big, transpose=True))
    monkeypatch.setattr(blas_spin, "SHORT_SPIN", True)
    assert threads.kernel_threads() == 2
    assert _is_packed(backend.step_matmul(big, transpose=True))
    monkeypatch.setattr(blas_spin, "SHORT_SPIN", False)
    monkeypatch.setattr(threads, "blas_threads", lambda: 1)
    assert _is_packed(backend.step_matmul(big, transpose=True))
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "0")
    assert not _is_packed(backend.step_matmul(small, transpose=True))


@pytest.mark.parametrize("transpose", [False, True])
def test_both_products_of_the_backend_agree(monkeypatch, transpose):
    backend = get_backend("numpy")
    r = np.random.default_rng(2)
    w, a = r.standard_normal((24, 40)), r.standard_normal((5, 24 if not transpose else 40))
    packed = backend.step_matmul(w, transpose)(a, np.empty((5, 40 if not transpose else 24)))
    monkeypatch.setattr(array_backend, "PACKED_BYTES", 0)
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)
    monkeypatch.setattr(threads, "kernel_threads", lambda: 1)
    blas_product = backend.step_matmul(w, transpose)
    assert not _is_packed(blas_product)
    np.testing.assert_allclose(packed, blas_product(a, np.empty_like(packed)), rtol=1e-12)


def _lstm_run(seed):
    mg.manual_seed(seed)
    lstm = nn.LSTM(7, 40, num_layers=2, bidirectional=True)
    x = mg.randn(9, 3, 7, requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + (h * c).sum()).backward()
    return [t.detach().numpy() for t in (out, h, c, x.grad, *(p.grad for p in lstm.parameters()))]


def test_a_float32_layer_agrees_with_blas_products(monkeypatch):
    packed = _lstm_run(3)
    monkeypatch.setattr(array_backend, "PACKED_BYTES", 0)
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)
    monkeypatch.setattr(threads, "kernel_threads", lambda: 1)
    for mine, theirs in zip(packed, _lstm_run(3)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
