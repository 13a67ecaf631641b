"""mg.save / mg.load: faithful round trips of module and optimizer state dicts, no pickle,
clear errors, and atomic writes (a crash mid-save keeps the previous checkpoint); paths or
file objects; whole objects pickled, and loaded only with weights_only=False."""
import io
import json
import math
import os
import pickle
import threading
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim
from minigrad.backends import ArrayBackend


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(mg.randn(3, 4))
        self.bias = nn.Parameter(mg.zeros(3, dtype=np.float64))
        self.register_buffer("steps", mg.tensor(np.array([7], dtype=np.int64)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.scale = nn.Parameter(mg.ones(()))

    def forward(self, x):
        return (x @ self.block.weight.T + self.block.bias.astype(np.float32)) * self.scale


def test_module_state_dict_round_trip(tmp_path):
    net = Net()
    path = tmp_path / "net.ckpt"
    mg.save(net.state_dict(), path)
    loaded = mg.load(path)
    assert isinstance(loaded, OrderedDict)
    assert list(loaded) == list(net.state_dict()) == ["scale", "block.weight", "block.bias",
                                                       "block.steps"]
    for (name, value), (name2, original) in zip(loaded.items(), net.state_dict().items()):
        assert name == name2 and isinstance(value, mg.Tensor)
        assert value.dtype == original.dtype and value.shape == original.shape
        np.testing.assert_array_equal(value.numpy(), original.numpy())
    other = Net()
    other.load_state_dict(loaded)
    x = mg.randn(2, 4)
    np.testing.assert_array_equal(other(x).numpy(), net(x).numpy())


def test_optimizer_state_dict_round_trip(tmp_path):
    net = Net()
    opt = optim.Adam([{"params": [net.block.weight, net.block.bias]},
                      {"params": [net.scale], "lr": 0.5}], amsgrad=True)
    for _ in range(2):
        opt.zero_grad()
        net(mg.randn(5, 4)).sum().backward()
        opt.step()
    sd = opt.state_dict()
    mg.save(sd, tmp_path / "opt.ckpt")
    loaded = mg.load(tmp_path / "opt.ckpt")
    assert loaded["param_groups"] == sd["param_groups"]  # tuples, bools, floats, int lists
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    assert sorted(loaded["state"]) == [0, 1, 2]  # integer keys stay integers
    for index, state in sd["state"].items():
        assert loaded["state"][index]["step"] == state["step"] == 2
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_array_equal(loaded["state"][index][key].numpy(),
                                          state[key].numpy())
            assert loaded["state"][index][key].dtype == state[key].dtype


def test_nested_values_round_trip(tmp_path):
    obj = {
        "none": None, "yes": True, "no": False, "int": -3, "big": 2 ** 70, "float": 0.1,
        "inf": math.inf, "-inf": -math.inf, "text": "héllo ✓", "list": [1, [2.5, None]],
        "tuple": (1, (2, "x")), 3: "int key", 1.5: "float key", None: "none key",
        "array": np.arange(6, dtype=np.int32).reshape(2, 3), "np_scalar": np.float64(2.5),
        "bool_tensor": mg.tensor(np.array([True, False])), "empty": mg.zeros((0, 3)),
        "f16": mg.tensor(np.ones(2, dtype=np.float16)), "nan": math.nan,
        "scalar_tensor": mg.tensor(np.float64(4.0)), "nested": {"deep": {"t": mg.ones(2)}},
    }
    mg.save(obj, tmp_path / "nested")
    back = mg.load(tmp_path / "nested")
    assert list(back) == list(obj)
    for key in ("none", "yes", "no", "int", "big", "float", "inf", "-inf", "text", "list",
                "tuple", 3, 1.5, None):
        assert back[key] == obj[key] and type(back[key]) is type(obj[key])
    assert math.isnan(back["nan"])
    assert isinstance(back["array"], np.ndarray) and back["array"].dtype == np.int32
    np.testing.assert_array_equal(back["array"], obj["array"])
    assert back["np_scalar"] == 2.5
    for key in ("bool_tensor", "empty", "f16", "scalar_tensor"):
        assert isinstance(back[key], mg.Tensor)
        assert back[key].dtype == obj[key].dtype and back[key].shape == obj[key].shape
        np.testing.assert_array_equal(back[key].numpy(), obj[key].numpy())
    np.testing.assert_array_equal(back["nested"]["deep"]["t"].numpy(), np.ones(2))


def test_written_at_exactly_the_given_path_without_pickle(tmp_path):
    path = tmp_path / "model.pt"
    mg.save({"w": mg.ones(2)}, str(path))
    assert os.listdir(tmp_path) == ["model.pt"]  # no ".npz" appended, no temp file left
    with np.load(path, allow_pickle=False) as archive:  # a plain, pickle-free npz
        assert len(archive.files) == 2


def test_unpicklable_values_name_where_they_are(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store obj\['state'\]\[0\]\['fn'\]: a "
                                        r"function: that is not state-dict data.*pickling "
                                        r"failed"):
        mg.save({"state": {0: {"fn": lambda: 1}}}, tmp_path / "bad")
    with pytest.raises(TypeError, match=r"cannot store obj\[1\]: a lock.*pickling failed"):
        mg.save([1, threading.Lock()], tmp_path / "bad")
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_load_refuses_other_files(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="not a minigrad checkpoint"):
        mg.load(tmp_path / "plain.npz")
    np.save(tmp_path / "plain.npy", np.ones(2))
    with pytest.raises(ValueError, match="not a minigrad checkpoint"):
        mg.load(tmp_path / "plain.npy")
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "missing.ckpt")


def _good_checkpoint(tmp_path):
    path = tmp_path / "ckpt"
    mg.save({"w": mg.tensor(np.arange(4.0))}, path)
    return path


def _assert_intact(tmp_path, path):
    np.testing.assert_array_equal(mg.load(path)["w"].numpy(), np.arange(4.0))
    assert os.listdir(tmp_path) == [path.name]  # the temporary file is gone


def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = _good_checkpoint(tmp_path)

    def crashing_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")  # some bytes reach the disk, then the crash
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"w": mg.zeros(4)}, path)
    monkeypatch.undo()
    _assert_intact(tmp_path, path)


def test_crash_before_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = _good_checkpoint(tmp_path)

    def crashing_replace(src, dst):
        assert os.path.dirname(src) == os.path.dirname(os.fspath(dst))  # same filesystem
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(OSError, match="disk pulled out"):
        mg.save({"w": mg.zeros(4)}, path)
    monkeypatch.undo()
    _assert_intact(tmp_path, path)


def test_data_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    mg.save({"w": mg.ones(2)}, tmp_path / "ckpt")
    assert events.index("fsync") < events.index("replace")


def test_overwrite_replaces_the_checkpoint(tmp_path):
    path = _good_checkpoint(tmp_path)
    mg.save({"w": mg.zeros(2), "extra": 1}, path)
    loaded = mg.load(path)
    assert loaded["extra"] == 1 and loaded["w"].shape == (2,)
    assert os.listdir(tmp_path) == [path.name]


# -- file objects -----------------------------------------------------------------------
def _assert_same_state(loaded, state):
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())


def test_bytes_io_round_trip():
    state = Net().state_dict()
    buffer = io.BytesIO()
    mg.save(state, buffer)
    assert buffer.getvalue()[:2] == b"PK"  # the same .npz archive as on disk
    buffer.seek(0)
    _assert_same_state(mg.load(buffer), state)


def test_open_file_round_trip(tmp_path):
    state = Net().state_dict()
    with open(tmp_path / "net.pt", "wb") as f:
        mg.save(state, f)
        assert not f.closed  # the caller's file stays the caller's
    with open(tmp_path / "net.pt", "rb") as f:
        _assert_same_state(mg.load(f), state)
    _assert_same_state(mg.load(tmp_path / "net.pt"), state)  # same bytes as a path save


def test_unseekable_stream_loads():
    class Stream:
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def read(self, size=-1):
            return self._inner.read(size)

    buffer = io.BytesIO()
    mg.save({"w": mg.arange(3.0)}, buffer)
    np.testing.assert_array_equal(mg.load(Stream(buffer.getvalue()))["w"].numpy(), [0, 1, 2])


def test_neither_path_nor_file_is_refused():
    with pytest.raises(TypeError, match="path or a binary file object with write"):
        mg.save({"w": mg.ones(1)}, 42)
    with pytest.raises(TypeError, match="path or a binary file object with read"):
        mg.load(3.5)


def test_a_file_object_that_is_not_a_checkpoint_is_named():
    buffer = io.BytesIO()
    np.savez(buffer, x=np.ones(2))
    buffer.seek(0)
    with pytest.raises(ValueError, match="the BytesIO object is not a minigrad checkpoint"):
        mg.load(buffer)


# -- whole objects: pickled, and loaded only with weights_only=False ------------------------
def _saved(obj):
    buffer = io.BytesIO()
    mg.save(obj, buffer)
    buffer.seek(0)
    return buffer


def test_whole_module_round_trip_needs_weights_only_false(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    mg.save(model, tmp_path / "model.pt")
    assert os.listdir(tmp_path) == ["model.pt"]  # written atomically, like a state dict
    with pytest.raises(pickle.UnpicklingError,
                       match=r"holds arbitrary Python objects \(a pickled "
                             r"minigrad\.nn\.containers\.Sequential\).*If you trust the source "
                             r"of this file, load it with mg\.load\(\.\.\., weights_only=False\)"):
        mg.load(tmp_path / "model.pt")
    loaded = mg.load(tmp_path / "model.pt", weights_only=False)
    assert type(loaded) is nn.Sequential and loaded is not model
    x = mg.randn(3, 4)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in loaded.parameters())


def test_the_refusal_is_an_unpickling_error_before_anything_is_unpickled():
    buffer = _saved({"model": nn.Linear(2, 2), "epoch": 3})
    with pytest.raises(pickle.UnpicklingError, match=r"a pickled builtins\.dict.*weights_only"):
        mg.load(buffer, weights_only=True)


def test_model_and_optimizer_saved_together_stay_connected():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(mg.randn(4, 3)).sum().backward()
    opt.step()
    loaded = mg.load(_saved({"model": model, "opt": opt, "epoch": 7}), weights_only=False)
    assert loaded["epoch"] == 7
    assert loaded["opt"].param_groups[0]["params"][0] is loaded["model"].weight


def test_values_a_state_dict_cannot_hold_are_pickled():
    obj = {"ids": {(1, 2): 3}, "tags": {"a", "b"}, "objects": np.array([None, "x"])}
    buffer = _saved(obj)
    with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
        mg.load(buffer)
    buffer.seek(0)
    loaded = mg.load(buffer, weights_only=False)
    assert loaded["ids"] == {(1, 2): 3} and loaded["tags"] == {"a", "b"}
    assert list(loaded["objects"]) == [None, "x"]


def test_state_dicts_stay_pickle_free_and_load_with_weights_only(tmp_path):
    model, opt = Net(), optim.Adam(Net().parameters())
    checkpoint = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 2}
    mg.save(checkpoint, tmp_path / "ckpt")
    with np.load(tmp_path / "ckpt", allow_pickle=False) as archive:
        header = json.loads(archive["__minigrad__"].tobytes())
        assert header["version"] == 1 and "pickle" not in archive.files
    assert mg.load(tmp_path / "ckpt", weights_only=True)["epoch"] == 2


class Exploit:
    """A pickle payload that would run a shell command when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def test_a_malicious_pickle_is_never_executed_by_default(tmp_path):
    marker = tmp_path / "pwned"
    mg.save({"weights": mg.ones(2), "payload": Exploit(marker)}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match="arbitrary Python objects"):
        mg.load(tmp_path / "evil.pt")
    with open(tmp_path / "evil.pt", "rb") as f:
        with pytest.raises(pickle.UnpicklingError, match="arbitrary Python objects"):
            mg.load(f)
    assert not marker.exists()
    if os.name == "posix":  # the payload is real: trusting the file runs it
        mg.load(tmp_path / "evil.pt", weights_only=False)
        assert marker.exists()


def test_a_forged_pickle_free_header_cannot_smuggle_a_pickle(tmp_path):
    """A version-1 header pointing at a NumPy object array (which NumPy pickles) is
    refused by np.load(allow_pickle=False) before the payload can run."""
    marker = tmp_path / "pwned"
    header = {"format": "minigrad-checkpoint", "version": 1, "object": {"tensor": "a0"}}
    payload = np.array([Exploit(marker)], dtype=object)
    np.savez(tmp_path / "forged.npz", allow_pickle=True, a0=payload,
             __minigrad__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        mg.load(tmp_path / "forged.npz")
    assert not marker.exists()


# -- compatibility --------------------------------------------------------------------------
def test_a_checkpoint_in_the_original_format_still_loads(tmp_path):
    """Written by hand exactly as the first mg.save did (format version 1)."""
    header = {"format": "minigrad-checkpoint", "version": 1, "object": {"odict": [
        ["weight", {"tensor": "a0"}], ["steps", {"ndarray": "a1"}], ["lr", 0.5],
        ["betas", {"tuple": [0.9, 0.999]}]]}}
    with open(tmp_path / "old.ckpt", "wb") as f:
        np.savez(f, allow_pickle=False, a0=np.eye(2, dtype=np.float32),
                 a1=np.array([3], dtype=np.int64),
                 __minigrad__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    loaded = mg.load(tmp_path / "old.ckpt")
    assert isinstance(loaded, OrderedDict) and list(loaded) == ["weight", "steps", "lr", "betas"]
    assert isinstance(loaded["weight"], mg.Tensor) and loaded["weight"].dtype == np.float32
    np.testing.assert_array_equal(loaded["weight"].numpy(), np.eye(2))
    assert loaded["steps"].dtype == np.int64 and loaded["betas"] == (0.9, 0.999)


def test_an_unknown_format_version_is_refused(tmp_path):
    header = {"format": "minigrad-checkpoint", "version": 99, "object": None}
    np.savez(tmp_path / "future.npz",
             __minigrad__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match="unsupported checkpoint format .* version 99"):
        mg.load(tmp_path / "future.npz")


# -- device / map_location ------------------------------------------------------------------
@pytest.fixture
def other_backend():
    mg.register_backend("numpy_ckpt", lambda: ArrayBackend("numpy_ckpt", "dev_ckpt", np))
    return mg.get_backend("numpy_ckpt")


def test_map_location_is_device(other_backend):
    state = {"w": mg.ones(2)}
    for kwargs in ({"device": "numpy_ckpt"}, {"map_location": "numpy_ckpt"},
                   {"map_location": other_backend}):
        assert mg.load(_saved(state), **kwargs)["w"].device == "dev_ckpt"
    assert mg.load(_saved(state), "numpy_ckpt")["w"].device == "dev_ckpt"  # torch.load(f, loc)


def test_map_location_moves_the_tensors_of_a_pickled_object(other_backend):
    model = nn.Linear(2, 3)
    loaded = mg.load(_saved(model), map_location="numpy_ckpt", weights_only=False)
    assert {p.device for p in loaded.parameters()} == {"dev_ckpt"}
    assert all(isinstance(p, nn.Parameter) for p in loaded.parameters())
    # Without a location, each tensor goes back to the backend it was saved from.
    with mg.use_backend("numpy_ckpt"):
        saved_there = nn.Linear(2, 3)
    assert {p.device for p in mg.load(_saved(saved_there), weights_only=False).parameters()} \
        == {"dev_ckpt"}


def test_device_and_map_location_errors():
    with pytest.raises(TypeError, match="same argument, pass one"):
        mg.load(_saved({"w": mg.ones(1)}), device="cpu", map_location="numpy_ckpt")
    with pytest.raises(TypeError, match="must be a device or backend name.*got a function"):
        mg.load(_saved({"w": mg.ones(1)}), map_location=lambda storage, loc: storage)
