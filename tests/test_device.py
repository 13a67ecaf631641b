"""Where and how tensors are made: ``mg.device``, ``mg.cuda``, the dtype names, the default
dtype and the grad modes, each checked against PyTorch's answer where PyTorch is installed."""
import copy
import importlib.util
import pickle
import sys
import types

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import cuda
from minigrad.backends import ArrayBackend

DTYPE_NAMES = ["float", "float16", "half", "float32", "float64", "double", "int", "int8", "int16",
               "int32", "int64", "long", "uint8", "bool", "complex64", "complex128"]


# -- mg.device -------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["cpu", "cuda", "cuda:0", "cuda:3", "cpu:0"])
def test_device_parses_as_torch_does(spec):
    torch = pytest.importorskip("torch")
    ours, theirs = mg.device(spec), torch.device(spec)
    assert (ours.type, ours.index, str(ours), repr(ours)) == \
        (theirs.type, theirs.index, str(theirs), repr(theirs))


def test_device_from_a_type_and_an_index():
    torch = pytest.importorskip("torch")
    assert repr(mg.device("cuda", 1)) == repr(torch.device("cuda", 1)) == \
        "device(type='cuda', index=1)"
    assert mg.device("cuda", 0) == mg.device("cuda:0") == "cuda:0"
    assert repr(mg.device(2)) == "device(type='cuda', index=2)"  # a bare index: a GPU
    cpu = mg.device("cpu")
    assert mg.device(cpu) is cpu


def test_a_device_is_a_string_so_old_comparisons_keep_working():
    d = mg.device("cpu")
    assert isinstance(d, str) and d == "cpu" and f"{d}" == "cpu" and {"cpu": 1}[d] == 1
    assert mg.device("cuda") != mg.device("cuda:0")  # as in PyTorch


def test_tensors_report_a_device_with_type_and_index():
    t = mg.zeros(2, device="cpu")
    assert t.device == "cpu" and t.device == mg.device("cpu")
    assert (t.device.type, t.device.index) == ("cpu", None)
    assert mg.zeros(2).device == mg.current_backend().device  # the active backend's


def test_factories_take_device_objects():
    for where in (mg.device("cpu"), "cpu", "cpu:0", mg.get_backend("numpy")):
        assert mg.zeros(2, device=where).device == "cpu"
    assert mg.zeros(2, device=mg.current_backend()).device == mg.current_backend().device


def test_a_backend_of_its_own_device_makes_that_device_known():
    mg.register_backend("numpy_dev", lambda: ArrayBackend("numpy_dev", "simdev:1", np))
    t = mg.ones(2, device="numpy_dev")
    assert (t.device.type, t.device.index, t.device) == ("simdev", 1, "simdev:1")
    assert mg.device("simdev").type == "simdev"


@pytest.mark.parametrize("d", [mg.device("cpu"), mg.device("cuda", 2)])
def test_devices_pickle_and_copy(d):
    for twin in (pickle.loads(pickle.dumps(d)), copy.deepcopy(d), copy.copy(d)):
        assert type(twin) is mg.device and twin == d and repr(twin) == repr(d)


def test_bad_devices_are_named():
    with pytest.raises(ValueError, match="'tpu'"):
        mg.device("tpu")
    with pytest.raises(ValueError, match="index.*'cuda:x'"):
        mg.device("cuda:x")
    with pytest.raises(ValueError, match="non-negative.*-1"):
        mg.device("cuda", -1)
    with pytest.raises(ValueError, match="already has an index"):
        mg.device("cuda:0", 1)
    with pytest.raises(TypeError, match="1.5"):
        mg.device(1.5)


# -- mg.cuda ---------------------------------------------------------------------------

def _fake_cupy(monkeypatch, get_device_count):
    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=runtime)
    monkeypatch.setitem(sys.modules, "cupy", fake)


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_without_cupy_there_is_no_gpu_and_nothing_raises():
    assert cuda.is_available() is False and cuda.device_count() == 0
    cuda.manual_seed(3)
    cuda.manual_seed_all(3)
    cuda.synchronize()
    assert "cupy" not in sys.modules


def test_a_broken_cupy_or_driver_reads_as_no_gpu(monkeypatch):
    def fails():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    _fake_cupy(monkeypatch, fails)
    assert cuda.device_count() == 0 and not cuda.is_available()
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    assert cuda.device_count() == 0 and not cuda.is_available()


def test_a_visible_gpu_is_counted(monkeypatch):
    _fake_cupy(monkeypatch, lambda: 2)
    assert cuda.device_count() == 2 and cuda.is_available()


def test_cuda_manual_seed_seeds_a_simulated_gpu_backend():
    mg.register_backend("numpy_gpu7", lambda: ArrayBackend("numpy_gpu7", "cuda:7", np))
    with mg.use_backend("numpy_gpu7"):
        cuda.manual_seed(5)
        first = mg.randn(4).numpy()
        cuda.manual_seed_all(5)
        np.testing.assert_array_equal(first, mg.randn(4).numpy())
        cuda.synchronize()  # no CuPy underneath: nothing to wait for


@pytest.mark.skipif(not cuda.is_available(), reason="needs CuPy and a GPU")
def test_on_a_gpu():
    assert cuda.device_count() >= 1
    x = mg.randn(3, device="cuda")
    assert x.device.type == "cuda"
    cuda.manual_seed(1)
    a = mg.rand(5, device="cuda").numpy()
    mg.manual_seed(1)  # seeds the GPU too, as torch.manual_seed does
    np.testing.assert_array_equal(a, mg.rand(5, device="cuda").numpy())
    cuda.synchronize()


# -- dtypes ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dtype_names_mean_what_torch_means(name):
    torch = pytest.importorskip("torch")
    expected = np.dtype(str(getattr(torch, name)).removeprefix("torch."))
    assert getattr(mg, name) == expected
    assert mg.zeros(1, dtype=getattr(mg, name)).dtype == expected


def test_dtype_names_are_numpy_dtypes():
    assert mg.float32 == np.float32 and mg.bool_ == np.bool_ and mg.long == np.int64
    assert mg.tensor([1.0]).dtype == mg.float


@pytest.fixture
def default_dtype():
    """Restore the default dtype of both libraries after a test that changes it."""
    torch = pytest.importorskip("torch")
    yield torch
    mg.set_default_dtype(mg.float32)
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("name", ["float64", "float16", "float32"])
def test_the_default_dtype_applies_where_torchs_does(default_dtype, name):
    torch = default_dtype
    mg.set_default_dtype(getattr(mg, name))
    torch.set_default_dtype(getattr(torch, name))
    assert mg.get_default_dtype() == getattr(mg, name)
    made = {
        "tensor": (mg.tensor([1.5]), torch.tensor([1.5])),
        "int data": (mg.tensor([1]), torch.tensor([1])),
        "float32 array": (mg.tensor(np.ones(2, np.float32)),
                          torch.tensor(np.ones(2, np.float32))),
        "zeros": (mg.zeros(2), torch.zeros(2)),
        "rand": (mg.rand(2), torch.rand(2)),
        "randn": (mg.randn(2), torch.randn(2)),
        "full": (mg.full((2,), 0.5), torch.full((2,), 0.5)),
        "full int": (mg.full((2,), 3), torch.full((2,), 3)),
        "arange": (mg.arange(0.0, 1.0, 0.5), torch.arange(0.0, 1.0, 0.5)),
        "linspace": (mg.linspace(0, 1, 3), torch.linspace(0, 1, 3)),
        "eye": (mg.eye(2), torch.eye(2)),
        "normal": (mg.normal(0.0, 1.0, (2,)), torch.normal(0.0, 1.0, (2,))),
        "Linear": (nn.Linear(2, 3).weight, torch.nn.Linear(2, 3).weight),
    }
    for what, (ours, theirs) in made.items():
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), what


def test_only_floats_can_be_the_default_dtype():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="int64"):
        mg.set_default_dtype(mg.int64)
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int64)
    with pytest.raises(TypeError, match="'nonsense'"):
        mg.set_default_dtype("nonsense")
    with pytest.raises(TypeError, match="None"):
        mg.set_default_dtype(None)
    assert mg.get_default_dtype() == mg.float32


def test_the_builtin_names_are_shadowed_only_where_meant():
    import minigrad.creation
    import minigrad.dtypes
    assert minigrad.dtypes.float is mg.float32 and minigrad.dtypes.int is mg.int32
    assert minigrad.dtypes.bool is mg.bool_
    assert "float" not in vars(minigrad.creation) and "int" not in vars(minigrad.creation)


# -- grad modes ------------------------------------------------------------------------

def test_inference_mode_turns_recording_off_as_torch_does():
    torch = pytest.importorskip("torch")
    for lib in (mg, torch):
        x = lib.ones(2, requires_grad=True)
        with lib.inference_mode():
            assert not lib.is_grad_enabled() and not (x * 2).requires_grad
        assert lib.is_grad_enabled()
        with lib.no_grad():
            with lib.inference_mode(False):
                assert lib.is_grad_enabled()
            assert not lib.is_grad_enabled()


def test_inference_mode_decorates_with_and_without_a_call():
    @mg.inference_mode
    def bare():
        return mg.is_grad_enabled()

    @mg.inference_mode()
    def called():
        return mg.is_grad_enabled()

    assert mg.is_grad_enabled()
    assert bare() is False and called() is False and mg.is_grad_enabled()
    assert bare.__name__ == "bare"


def test_set_grad_enabled_as_a_call_a_block_and_a_decorator():
    torch = pytest.importorskip("torch")
    for lib in (mg, torch):
        lib.set_grad_enabled(False)
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        with lib.set_grad_enabled(False):
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()

        @lib.set_grad_enabled(False)
        def off():
            return lib.is_grad_enabled()

        assert lib.is_grad_enabled()  # decorating changes nothing yet
        assert off() is False and lib.is_grad_enabled()
