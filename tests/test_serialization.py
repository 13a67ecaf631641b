"""mg.save / mg.load: faithful round trips of module and optimizer state dicts, no pickle,
clear errors, and atomic writes (a crash mid-save keeps the previous checkpoint)."""
import math
import os
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim


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


def test_unsupported_values_name_where_they_are(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store obj\['state'\]\[0\]\['fn'\]: a function"):
        mg.save({"state": {0: {"fn": lambda: 1}}}, tmp_path / "bad")
    with pytest.raises(TypeError, match=r"key \(1, 2\) is a tuple"):
        mg.save({(1, 2): 3}, tmp_path / "bad")
    with pytest.raises(TypeError, match="object array needs pickle"):
        mg.save({"a": np.array([object()])}, tmp_path / "bad")
    with pytest.raises(TypeError, match="a set"):
        mg.save([{1, 2}], tmp_path / "bad")
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
