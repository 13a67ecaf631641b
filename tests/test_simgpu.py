"""The simulated GPU keeps CuPy's rules and counts host syncs; DLPack; device indices.

Each CuPy rule the simulation enforces has a test here, against the fake array module
itself and through minigrad's tensors on the "simgpu" device (the CuPy backend's own code
running on the simulation). These run on every backend the suite is run on.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.backends import simgpu_array
from minigrad.backends.cupy_backend import CupyBackend

cp = simgpu_array.module


# -- the array module: CuPy's rules ----------------------------------------------------

def test_implicit_conversion_to_numpy_is_refused():
    a = cp.arange(3.0)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.array(a)
    np.testing.assert_array_equal(a.get(), [0.0, 1.0, 2.0])  # the explicit ways work
    np.testing.assert_array_equal(cp.asnumpy(a), [0.0, 1.0, 2.0])


@pytest.mark.parametrize("operand", [np.ones(3), np.array(1.0), [1.0, 2.0, 3.0]],
                         ids=["array", "0-d array", "list"])
def test_host_operands_are_refused(operand):
    a = cp.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        a + operand
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.multiply(a, operand)


def test_a_host_array_on_the_left_is_refused_too():
    with pytest.raises(TypeError, match="Unsupported type"):
        np.ones(3) * cp.ones(3)


def test_scalars_are_fine_operands():
    a = cp.ones(3, dtype=cp.float32)
    out = a * 2.0 + np.float32(1) - 1
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.get(), [2.0, 2.0, 2.0])


def test_setitem_takes_device_arrays_and_scalars_not_host_arrays():
    a = cp.zeros(4)
    a[1] = 5.0
    a[2] = np.float64(6.0)
    a[3] = np.array(7.0)  # a 0-d host array is a scalar
    a[:2] += cp.ones(2)
    np.testing.assert_array_equal(a.get(), [1.0, 6.0, 6.0, 7.0])
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        a[:2] = np.ones(2)
    with pytest.raises(ValueError, match="non-scalar"):
        a[:2] = [1.0, 2.0]


def test_integer_array_indices_wrap_around():
    a = cp.arange(3.0)
    np.testing.assert_array_equal(a[cp.asarray([3, -4, 7])].get(), [0.0, 2.0, 1.0])
    b = cp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(b[:, cp.asarray([4])].get(), [[1.0], [4.0]])
    with pytest.raises(IndexError):  # a plain integer is checked, as on CuPy
        a[3]


def test_reductions_and_integer_indexing_give_0d_arrays():
    a = cp.arange(6.0).reshape(2, 3)
    for out in (a.sum(), cp.sum(a), a.max(), cp.argmax(a), a[1, 2], cp.array_equal(a, a)):
        assert type(out) is cp.ndarray and out.ndim == 0
    view = a[1, 2]
    view += 10  # integer indexing gives a 0-d view: the write lands in ``a``
    assert a[1, 2].item() == 15.0
    assert view.base is a.base  # the array that owns the memory, as on CuPy


def test_only_cupys_functions_exist():
    for missing in ("errstate", "frompyfunc", "seterr", "asmatrix"):
        with pytest.raises(AttributeError, match="CuPy has no such function"):
            getattr(cp, missing)
    assert callable(cp.take_along_axis) and callable(cp.add.at)


def test_no_floating_point_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(cp.log(cp.zeros(2)).get()).all()
        assert np.isnan((cp.zeros(2) / 0.0).get()).all()


def test_numpy_functions_on_device_arrays_run_the_simulated_ones():
    a = cp.arange(4.0)
    assert type(np.exp(a)) is cp.ndarray and type(np.sum(a)) is cp.ndarray
    with pytest.raises(TypeError, match="no implementation found"):
        np.nanpercentile(a, 50)  # not in CuPy: NumPy finds no implementation


# -- host syncs: counted, with their call sites; strict mode raises --------------------

def test_each_kind_of_host_sync_is_counted_with_its_call_site():
    a = cp.arange(4.0)
    with mg.cuda.sync_counter() as syncs:
        a.sum().item()
        float(a[0])
        int(a[1])
        bool(a[2] > 0)
        a.get()
        repr(a)
        a[a > 1]
        a.nonzero()
        a.tolist()
    kinds = [kind for kind, _ in syncs.events]
    assert kinds == ["item", "float()", "int()", "bool()", "get", "repr",
                     "boolean-mask indexing", "nonzero", "tolist"]
    assert all(site.startswith(f"tests{os.sep}test_simgpu.py:") or "test_simgpu.py:" in site
               for _, site in syncs.events)


def test_device_work_is_not_a_sync():
    a = cp.arange(4.0)
    with mg.cuda.sync_counter() as syncs:
        b = (a * 2).sum() / a.max()
        a[a > 1] = 0.0  # a masked write needs no size: no sync
        a[cp.asarray([0, 1])] += b
    assert syncs.count == 0, syncs.by_site()


def test_strict_counter_raises_naming_the_line():
    a = cp.arange(4.0)
    with pytest.raises(mg.cuda.HostSyncError, match=r"\(item\) at .*test_simgpu.py"):
        with mg.cuda.sync_counter(strict=True):
            a.sum().item()


def test_strict_environment_raises_on_any_sync(monkeypatch):
    monkeypatch.setenv("MINIGRAD_SIMGPU_STRICT", "1")
    t = mg.arange(3.0, device="simgpu")
    with pytest.raises(mg.cuda.HostSyncError, match=r"float\(\)|item"):
        float(t.sum())
    (t * 2).sum()  # device work is fine


# -- minigrad on the simulated device --------------------------------------------------

def test_the_simulated_device_runs_the_cupy_backends_code():
    backend = mg.get_backend("simgpu")
    assert isinstance(backend, CupyBackend) and backend.xp is cp
    t = mg.ones(2, 3, device="simgpu")
    assert t.device == "simgpu" and type(t._data) is cp.ndarray


def test_tensor_conversions_are_counted_syncs():
    t = mg.arange(4.0, device="simgpu")
    with mg.cuda.sync_counter() as syncs:
        t.sum().item()
        t.numpy()
        t.tolist()
        str(t)
    assert syncs.count == 4


def test_a_training_step_makes_no_host_sync():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to("simgpu")
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    x = mg.randn(16, 4, device="simgpu")
    y = mg.randint(0, 3, (16,), device="simgpu")
    with mg.cuda.sync_counter(strict=True) as syncs:
        for _ in range(3):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x).softmax(-1), nn.functional.one_hot(y, 3)
                                          .float())
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    assert syncs.count == 0


def test_a_main_job_step_makes_no_host_sync():
    """examples/char_lstm.py's step, small: embedding, 2-layer LSTM carrying its state,
    cross-entropy (index checks on the device), clipping, Adam, cosine schedule."""
    emb, rnn, head = nn.Embedding(84, 8), nn.LSTM(8, 16, num_layers=2), nn.Linear(16, 84)
    model = nn.ModuleList([emb, rnn, head]).to("simgpu")
    opt = mg.optim.Adam(model.parameters(), lr=2e-3)
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(opt, 10)
    rng, state = np.random.default_rng(0), None
    with mg.cuda.sync_counter(strict=True) as syncs:
        for _ in range(3):
            x, y = rng.integers(0, 84, (5, 4)), rng.integers(0, 84, (5, 4))  # host batches
            out, state = rnn(emb(mg.tensor(x, device="simgpu")), state)
            loss = nn.functional.cross_entropy(head(out).reshape(-1, 84),
                                               mg.tensor(y.reshape(-1), device="simgpu"))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            schedule.step()
            state = tuple(s.detach() for s in state)
    assert syncs.count == 0
    assert np.isfinite(loss.item())  # the logging point: one sync, outside the step


def test_a_bad_index_on_the_gpu_raises_at_the_next_sync_not_silently():
    emb = nn.Embedding(5, 2).to("simgpu")
    with mg.cuda.sync_counter(strict=True):
        out = emb(mg.tensor([1, 7], device="simgpu"))  # no stall here: checked on the device
    with pytest.raises(IndexError, match="index 7 is out of range for an embedding table"):
        out.sum().item()
    emb(mg.tensor([1, 4], device="simgpu")).sum().item()  # the error was reported once


@pytest.mark.parametrize("device", ["cpu", "simgpu"])
def test_host_operands_mean_the_same_on_every_device(device):
    t = mg.tensor([1.0, 2.0, 3.0], device=device)
    host = np.array([10.0, 20.0, 30.0], dtype=np.float32)
    for out in (t + host, host * t, t - [1.0, 1.0, 1.0], mg.where(t > 1, host, t)):
        assert out.device == device
    np.testing.assert_array_equal((host * t).numpy(), [10.0, 40.0, 90.0])
    t[0:2] = np.array([7.0, 8.0])
    t[2] = np.float32(9.0)
    np.testing.assert_array_equal(t.numpy(), [7.0, 8.0, 9.0])


@pytest.mark.parametrize("device", ["cpu", "simgpu"])
def test_integer_indexing_is_a_view_on_every_device(device):
    t = mg.arange(3.0, device=device)
    t[1].add_(10)  # PyTorch's semantics: x[i] is a view
    np.testing.assert_array_equal(t.numpy(), [0.0, 11.0, 2.0])
    rows = mg.arange(6.0, device=device).reshape(2, 3)
    picked = rows[mg.tensor([1, 0], device=device)]  # an integer-array index copies
    picked.add_(100)
    np.testing.assert_array_equal(rows.numpy(), [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("device", ["cpu", "simgpu"])
def test_clip_with_tensor_bounds_is_elementwise(device):
    x = mg.tensor([1.0, 5.0, 9.0], device=device, requires_grad=True)
    lo = mg.tensor([2.0, 6.0, 0.0], device=device)
    out = mg.ops.clip(x, min=lo, max=8.0)
    np.testing.assert_array_equal(out.numpy(), [2.0, 6.0, 8.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


# -- devices ---------------------------------------------------------------------------

def test_a_device_index_other_than_the_backends_is_refused_clearly():
    assert mg.zeros(1, device="simgpu:0").device == "simgpu"
    assert mg.zeros(1, device="cpu:0").device == "cpu"
    for spec in ("cuda:1", "simgpu:1", "cpu:2"):
        if spec.startswith("cuda") and not mg.cuda.is_available():
            continue
        with pytest.raises(ValueError, match=f"device '{spec}' is not available.*one device"):
            mg.zeros(1, device=spec)


def test_examples_take_their_backend_from_the_environment():
    code = "import sys; sys.path.insert(0, 'examples'); import argparse, example_cli; " \
           "p = argparse.ArgumentParser(); example_cli.add_run_options(p, 'q'); " \
           "print(p.parse_args([]).backend)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, MINIGRAD_BACKEND="simgpu")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["simgpu"]


# -- DLPack and the CUDA array interface -----------------------------------------------

def test_dlpack_round_trip_with_numpy_shares_memory():
    t = mg.arange(4.0, device="cpu")
    host = np.from_dlpack(t)
    host[0] = 7.0
    assert t[0].item() == 7.0
    back = mg.from_dlpack(np.arange(3, dtype=np.int32))
    assert back.device == "cpu" and back.dtype == np.int32 and back.tolist() == [0, 1, 2]


def test_dlpack_round_trip_with_torch_shares_memory():
    torch = pytest.importorskip("torch")
    t = mg.arange(4.0, device="cpu")
    theirs = torch.from_dlpack(t)
    theirs[1] = 9.0
    assert t.tolist() == [0.0, 9.0, 2.0, 3.0]
    ours = mg.from_dlpack(torch.arange(3.0))
    assert ours.device == "cpu" and ours.tolist() == [0.0, 1.0, 2.0]
    ours[0] = 5.0  # the same memory, seen from torch's side (held alive by the capsule)


def test_dlpack_refuses_tensors_that_require_grad_and_non_arrays():
    with pytest.raises(RuntimeError, match="requires grad.*detach"):
        np.from_dlpack(mg.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match="__dlpack__"):
        mg.from_dlpack([1, 2])


def test_simulated_memory_is_exported_as_host_memory():
    t = mg.arange(3.0, device="simgpu")
    assert t.__dlpack_device__()[0] == 1  # kDLCPU: no consumer takes it for CUDA memory
    np.testing.assert_array_equal(np.from_dlpack(t), [0.0, 1.0, 2.0])
    assert not hasattr(t, "__cuda_array_interface__")
    assert not hasattr(mg.ones(1, device="cpu"), "__cuda_array_interface__")


def test_synchronize_reports_a_deferred_index_check():
    with mg.use_backend("simgpu"):
        emb = nn.Embedding(5, 2)
        emb(mg.tensor([9]))
        with pytest.raises(IndexError, match="index 9 is out of range"):
            mg.cuda.synchronize()
        mg.cuda.synchronize()  # reported once


@pytest.mark.parametrize("kind", ["list", "numpy", "cpu tensor", "device tensor"])
def test_rnn_lengths_make_no_host_sync(kind):
    """Host lengths are checked on the host; device lengths on the device, without waiting."""
    lengths = {"list": [4, 2], "numpy": np.array([4, 2]),
               "cpu tensor": mg.tensor([4, 2], device="cpu"),
               "device tensor": mg.tensor([4, 2], device="simgpu")}[kind]
    gru = nn.GRU(3, 4, bidirectional=True).to("simgpu")
    x = mg.randn(5, 2, 3).to("simgpu")
    with mg.cuda.sync_counter(strict=True):
        out, h = gru(x, lengths=lengths)
    expected, h_expected = gru(x, lengths=[4, 2])  # device lengths compute all 5 steps
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h.numpy(), h_expected.numpy(), rtol=1e-6, atol=1e-7)


def test_a_bad_device_length_raises_at_the_next_sync():
    gru = nn.GRU(3, 4).to("simgpu")
    x, lengths = mg.randn(5, 2, 3, device="simgpu"), mg.tensor([6, 2], device="simgpu")
    with mg.cuda.sync_counter(strict=True):
        out, _ = gru(x, lengths=lengths)
    with pytest.raises(ValueError, match=r"every length must lie in \[1, 5\].*got a length of 6"):
        out.sum().item()
    with pytest.raises(ValueError, match=r"\[1, 5\].*from 0 to 2"):  # host lengths: at once
        gru(mg.randn(5, 2, 3).to("simgpu"), lengths=[0, 2])


def test_one_hot_makes_no_host_sync_and_a_bad_class_still_raises():
    with mg.cuda.sync_counter(strict=True):
        hot = nn.functional.one_hot(mg.tensor([0, 3, 1], device="simgpu"), 4)
    np.testing.assert_array_equal(hot.numpy(), np.eye(4, dtype=np.int64)[[0, 3, 1]])
    with mg.cuda.sync_counter(strict=True):
        bad = nn.functional.one_hot(mg.tensor([0, 4], device="simgpu"), 4)
    with pytest.raises(ValueError, match=r"class values must lie in \[0, 4\), got 4"):
        bad.sum().item()
