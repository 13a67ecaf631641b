"""Foreign weight files: safetensors (both ways) and PyTorch's torch.save zip files
(read without torch and without running pickled code).

Files are written by the real libraries (torch, safetensors) where they are installed; the
tests that need them skip otherwise. A few PyTorch files are forged byte by byte to reach
what torch.save never writes (out-of-bounds strides, foreign globals, big-endian data).
"""
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.backends import ArrayBackend
from minigrad.utils import safetensors as mst
from minigrad.utils import torch_load

DTYPES = [np.float16, np.float32, np.float64, np.complex64, np.complex128, np.int8, np.int16,
          np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]


def _values(dtype, shape=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape) * 50
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    if np.dtype(dtype) == np.bool_:
        return values > 0
    if np.dtype(dtype).kind == "u":
        values = np.abs(values)
    return values.astype(dtype)


def _needs_safetensors():
    return pytest.importorskip("safetensors")


# -- safetensors --------------------------------------------------------------------------
def test_safetensors_round_trip_of_a_module_with_metadata(tmp_path):
    _needs_safetensors()
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "model.safetensors"
    mst.save_file(model.state_dict(), path, metadata={"format": "pt", "epoch": "3"})
    loaded = mst.load_file(path)
    assert list(loaded) == sorted(model.state_dict())  # safetensors orders names
    for key, value in model.state_dict().items():
        assert isinstance(loaded[key], mg.Tensor) and loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())
    assert mst.read_metadata(path) == {"format": "pt", "epoch": "3"}
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(mg.load(path))  # mg.load recognises the format
    np.testing.assert_array_equal(other[2].weight.numpy(), model[2].weight.numpy())


@pytest.mark.parametrize("dtype", [d for d in DTYPES if d is not np.complex128])
def test_safetensors_keeps_every_dtype_it_has(dtype):
    _needs_safetensors()
    value = _values(dtype)
    back = mst.load(mst.save({"x": mg.tensor(value), "raw": value}))
    for key in ("x", "raw"):
        assert back[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(back[key].numpy(), value)


def test_safetensors_writes_views_in_logical_order(tmp_path):
    """The NumPy API copies raw memory: a transposed or strided view must be made
    contiguous first, or its elements land in the wrong order."""
    _needs_safetensors()
    base = np.arange(12.0).reshape(3, 4)
    views = {"t": mg.tensor(base).T, "step": base[::2, 1::2], "rev": base[:, ::-1]}
    back = mst.load(mst.save(views))
    for key, value in views.items():
        np.testing.assert_array_equal(back[key].numpy(), np.asarray(value))


def test_mg_save_format_safetensors_to_paths_and_file_objects(tmp_path):
    _needs_safetensors()
    state = {"w": mg.randn(3, 2), "steps": mg.tensor(np.arange(3))}
    mg.save(state, tmp_path / "w.safetensors", format="safetensors")
    buffer = io.BytesIO()
    mg.save(state, buffer, format="safetensors")
    assert buffer.getvalue() == (tmp_path / "w.safetensors").read_bytes()
    for source in (tmp_path / "w.safetensors", io.BytesIO(buffer.getvalue())):
        back = mg.load(source)
        for key in state:
            np.testing.assert_array_equal(back[key].numpy(), state[key].numpy())
    with pytest.raises(ValueError, match="unknown format 'onnx'"):
        mg.save(state, tmp_path / "x", format="onnx")


def test_safetensors_refusals_name_what_is_wrong(tmp_path):
    _needs_safetensors()
    with pytest.raises(TypeError, match=r"'b'.*complex128"):
        mst.save({"a": mg.ones(2), "b": mg.tensor(np.ones(2, np.complex128))})
    with pytest.raises(TypeError, match=r"'nested' is a dict"):
        mst.save({"w": mg.ones(2), "nested": {"x": mg.ones(1)}})
    with pytest.raises(TypeError, match=r"names must be strings, got 3"):
        mst.save({3: mg.ones(2)})
    with pytest.raises(TypeError, match="flat {name: tensor} map"):
        mst.save([mg.ones(2)])
    with pytest.raises(TypeError, match=r"metadata maps strings to strings.*'epoch'"):
        mst.save({"w": mg.ones(2)}, metadata={"epoch": 3})
    assert os.listdir(tmp_path) == []


def test_missing_safetensors_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"pip install 'minigrad\[formats\]'"):
        mst.save({"w": mg.ones(2)})


def test_safetensors_written_by_torch_load():
    torch = pytest.importorskip("torch")
    storch = pytest.importorskip("safetensors.torch")
    tensors = {"f16": torch.randn(2, 3).half(), "f32": torch.randn(4), "f64": torch.randn(1, 2,
               dtype=torch.float64), "i64": torch.arange(5), "i8": torch.tensor([-3, 4],
               dtype=torch.int8), "mask": torch.tensor([True, False]), "c64": torch.randn(2,
               dtype=torch.complex64), "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3)}
    back = mg.load(io.BytesIO(storch.save(tensors, metadata={"who": "torch"})))
    assert set(back) == set(tensors)
    for key, value in tensors.items():
        assert back[key].dtype == value.numpy().dtype, key
        np.testing.assert_array_equal(back[key].numpy(), value.numpy())


def test_safetensors_we_write_load_into_a_torch_module(tmp_path):
    torch = pytest.importorskip("torch")
    storch = pytest.importorskip("safetensors.torch")
    model = nn.Linear(5, 3)
    mst.save_file(model.state_dict(), tmp_path / "linear.safetensors")
    theirs = torch.nn.Linear(5, 3)
    theirs.load_state_dict(storch.load_file(tmp_path / "linear.safetensors"))  # strict
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(theirs(torch.from_numpy(x)).detach().numpy(),
                               model(mg.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)


def test_safetensors_bfloat16_is_refused_naming_the_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    storch = pytest.importorskip("safetensors.torch")
    tensors = {"ok": torch.ones(2), "emb": torch.ones(2, dtype=torch.bfloat16),
               "head": torch.ones(1, dtype=torch.bfloat16)}
    storch.save_file(tensors, tmp_path / "bf16.safetensors")
    with pytest.raises(TypeError, match=r"BF16: 'emb', 'head'.*float32"):
        mg.load(tmp_path / "bf16.safetensors")
    with pytest.raises(TypeError, match=r"BF16: 'emb', 'head'"):
        mst.load(storch.save(tensors))


# -- PyTorch .pt / .pth -------------------------------------------------------------------
def _torch_file(obj, path=None):
    """What torch.save writes for ``obj`` (to ``path``, or as bytes)."""
    torch = pytest.importorskip("torch")
    if path is not None:
        torch.save(obj, path)
        return path
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_pt_every_dtype_minigrad_has(tmp_path):
    torch = pytest.importorskip("torch")
    values = {np.dtype(d).name: _values(d) for d in DTYPES}
    path = _torch_file({k: torch.from_numpy(v) for k, v in values.items()}, tmp_path / "all.pt")
    back = mg.load(path)
    for key, value in values.items():
        assert isinstance(back[key], mg.Tensor) and back[key].dtype == value.dtype, key
        np.testing.assert_array_equal(back[key].numpy(), value)


def test_pt_state_dict_of_a_torch_model_drives_the_same_minigrad_model(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.ModuleDict({"emb": torch.nn.Embedding(7, 4), "lstm": torch.nn.LSTM(4, 5),
                                  "head": torch.nn.Linear(5, 7)})
    path = _torch_file(theirs.state_dict(), tmp_path / "lm.pth")
    state = mg.load(path)
    assert list(state) == list(theirs.state_dict())  # an OrderedDict, in torch's order
    ours = nn.ModuleDict({"emb": nn.Embedding(7, 4), "lstm": nn.LSTM(4, 5),
                          "head": nn.Linear(5, 7)})
    ours.load_state_dict(state)
    tokens = np.random.default_rng(0).integers(0, 7, size=(6, 2))
    with torch.no_grad():
        out, _ = theirs["lstm"](theirs["emb"](torch.from_numpy(tokens)))
        expected = theirs["head"](out).numpy()
    out, _ = ours["lstm"](ours["emb"](mg.tensor(tokens)))
    np.testing.assert_allclose(ours["head"](out).numpy(), expected, rtol=1e-5, atol=1e-5)


@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), data=st.data())
def test_pt_views_strides_and_offsets_keep_their_values(shape, data):
    """Transposes, permutations, steps, offsets and expansions saved beside their base
    (so they share its storage) come back with the values the views had."""
    torch = pytest.importorskip("torch")
    base = torch.arange(int(np.prod(shape)), dtype=torch.float64).reshape(shape)
    view = base.permute(*data.draw(st.permutations(range(len(shape)))))
    index = tuple(slice(data.draw(st.integers(0, 2)), None, data.draw(st.integers(1, 2)))
                  for _ in shape)
    view = view[index]
    expanded = torch.tensor([7.0]).expand(3, 2)  # stride 0
    back = torch_load.load(io.BytesIO(_torch_file({"base": base, "view": view, "exp": expanded})))
    for key, value in (("base", base), ("view", view), ("exp", expanded)):
        assert tuple(back[key].shape) == tuple(value.shape)
        np.testing.assert_array_equal(back[key].numpy(), value.numpy())


def test_pt_shared_storages_tied_tensors_and_nested_containers(tmp_path):
    torch = pytest.importorskip("torch")
    weight = torch.randn(4, 3)
    obj = {"tied_a": weight, "tied_b": weight,           # one tensor, twice
           "row": weight[1], "col": weight[:, 2],         # views of its storage
           "nested": {"list": [weight.t(), (1, 2.5, "s", None, True)], "set": {1, 2}},
           "meta": {"size": torch.Size([2, 3]), "dtype": torch.float16,
                    "device": torch.device("cpu"), "bytes": b"\x00\xff", "z": 1 + 2j},
           "param": torch.nn.Parameter(torch.ones(2))}
    back = mg.load(_torch_file(obj, tmp_path / "mixed.pt"))
    assert back["tied_a"] is back["tied_b"]
    np.testing.assert_array_equal(back["row"].numpy(), weight[1].numpy())
    np.testing.assert_array_equal(back["col"].numpy(), weight[:, 2].numpy())
    np.testing.assert_array_equal(back["nested"]["list"][0].numpy(), weight.t().numpy())
    assert back["nested"]["list"][1] == (1, 2.5, "s", None, True)
    assert back["nested"]["set"] == {1, 2}
    assert back["meta"] == {"size": (2, 3), "dtype": np.float16, "device": mg.device("cpu"),
                            "bytes": b"\x00\xff", "z": 1 + 2j}
    assert isinstance(back["meta"]["size"], mg.Size)
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    back["row"][0] = 100.0  # the copies do not alias (minigrad tensors own their memory)
    assert back["tied_a"][1, 0].item() != 100.0


def test_pt_file_objects_and_unseekable_streams(tmp_path):
    torch = pytest.importorskip("torch")
    data = _torch_file({"w": torch.arange(3.0)})

    class Stream(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self.inner.read(len(buffer))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    for source in (io.BytesIO(data), Stream()):
        np.testing.assert_array_equal(torch_load.load(source)["w"].numpy(), [0.0, 1.0, 2.0])
    (tmp_path / "w.pt").write_bytes(data)
    with open(tmp_path / "w.pt", "rb") as f:
        np.testing.assert_array_equal(mg.load(f)["w"].numpy(), [0.0, 1.0, 2.0])


def test_pt_and_safetensors_land_on_the_device_asked_for():
    torch = pytest.importorskip("torch")
    _needs_safetensors()
    mg.register_backend("numpy_formats", lambda: ArrayBackend("numpy_formats", "dev_formats", np))
    back = mg.load(io.BytesIO(_torch_file({"w": torch.ones(2)})), map_location="numpy_formats")
    assert back["w"].device == "dev_formats"
    buffer = io.BytesIO()
    mg.save({"w": mg.ones(2)}, buffer, format="safetensors")
    buffer.seek(0)
    assert mg.load(buffer, device="numpy_formats")["w"].device == "dev_formats"


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def test_a_malicious_pt_file_is_refused_and_runs_nothing(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = _torch_file({"w": torch.ones(2), "x": Exploit(marker)}, tmp_path / "evil.pt")
    global_name = f"{os.system.__module__}.system"  # posix.system here
    with pytest.raises(pickle.UnpicklingError, match=rf"refused .*'{global_name}'.*weights_only"):
        mg.load(path)
    with pytest.raises(pickle.UnpicklingError, match=global_name):
        mg.load(path, weights_only=False)  # minigrad has no trusted path for torch pickles
    with pytest.raises(pickle.UnpicklingError, match=global_name):
        torch_load.load(path)
    assert not marker.exists()
    if os.name == "posix":  # the payload is real: PyTorch trusting the file runs it
        torch.load(path, weights_only=False)
        assert marker.exists()


def test_a_whole_torch_module_is_refused_naming_its_class(tmp_path):
    torch = pytest.importorskip("torch")
    path = _torch_file(torch.nn.Linear(2, 2), tmp_path / "model.pt")
    with pytest.raises(pickle.UnpicklingError,
                       match=r"torch\.nn\.modules\.linear\.Linear.*model\.state_dict\(\)"):
        mg.load(path)


def test_legacy_torchscript_and_bfloat16_files_are_refused_clearly(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="legacy"):
        mg.load(tmp_path / "legacy.pt")
    with pytest.raises(ValueError, match="legacy"):
        torch_load.load(tmp_path / "legacy.pt")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "scripted.pt")
    with pytest.raises(ValueError, match="TorchScript"):
        mg.load(tmp_path / "scripted.pt")
    state = {"ok": torch.ones(2), "emb": torch.ones(2, dtype=torch.bfloat16),
             "deep": {"w": torch.ones(1, dtype=torch.bfloat16)}}
    with pytest.raises(TypeError, match=r"bfloat16: obj\['emb'\], obj\['deep'\]\['w'\]"):
        mg.load(_torch_file(state, tmp_path / "bf16.pt"))


# -- forged files: what torch.save never writes ------------------------------------------
def _unicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(n):
    return b"J" + struct.pack("<i", n)


def _tuple(items):
    return b"(" + b"".join(items) + b"t"


def _forged(offset, size, stride, numel=6, record_bytes=None, after_tensor=b""):
    """A torch.save-shaped zip of ``{'x': tensor}``, its tensor a float32 view given by
    offset, size and stride into a storage of ``numel`` floats, written opcode by opcode."""
    storage = _tuple([_unicode("storage"), b"ctorch\nFloatStorage\n", _unicode("0"),
                      _unicode("cpu"), _int(numel)]) + b"Q"
    tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n"
              + _tuple([storage, _int(offset), _tuple([_int(n) for n in size]),
                        _tuple([_int(s) for s in stride]), b"\x89",
                        b"ccollections\nOrderedDict\n)R"]) + b"R")
    pkl = b"\x80\x02}" + _unicode("x") + tensor + after_tensor + b"s."
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
        z.writestr("archive/data/0", np.arange(numel, dtype=np.float32).tobytes()
                   if record_bytes is None else record_bytes)
    return buffer.getvalue()


def test_the_forger_writes_what_torch_reads():
    data = _forged(1, (2, 2), (1, 2))
    np.testing.assert_array_equal(torch_load.load(io.BytesIO(data))["x"].numpy(),
                                  [[1.0, 3.0], [2.0, 4.0]])
    assert torch_load.load(io.BytesIO(_forged(9, (0, 3), (1, 1))))["x"].shape == (0, 3)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(torch.load(io.BytesIO(data))["x"].numpy(),
                                  [[1.0, 3.0], [2.0, 4.0]])


@pytest.mark.parametrize("offset, size, stride, match", [
    (0, (2, 3), (3, 2), "reaches past the 6 elements"),
    (6, (1,), (1,), "reaches past"),
    (0, (2,), (-1,), "stride is not a tuple of non-negative"),
    (-1, (1,), (1,), "do not describe a tensor"),
    (0, (2, 2), (1,), "do not describe a tensor"),
])
def test_views_outside_their_storage_are_refused(offset, size, stride, match):
    with pytest.raises(ValueError, match=match):
        torch_load.load(io.BytesIO(_forged(offset, size, stride)))


def test_a_storage_record_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match=r"should hold 6 float32 elements, its record has 8"):
        torch_load.load(io.BytesIO(_forged(0, (2,), (1,), record_bytes=b"\x00" * 8)))


def test_pickle_build_cannot_alter_a_tensor():
    """BUILD (setting an object's state) on a rebuilt tensor is refused: it could
    otherwise rewrite the offset checked against the storage."""
    build = b"}" + _unicode("offset") + _int(10**6) + b"sb"
    with pytest.raises(ValueError, match="tries to set the state of a Tensor"):
        torch_load.load(io.BytesIO(_forged(0, (2,), (1,), after_tensor=build)))


def test_big_endian_files_are_read():
    values = np.arange(6, dtype=np.float32)
    data = _forged(0, (2, 3), (3, 1), record_bytes=values.astype(">f4").tobytes())
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries["archive/byteorder"] = b"big"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, body in entries.items():
            z.writestr(name, body)
    np.testing.assert_array_equal(torch_load.load(io.BytesIO(buffer.getvalue()))["x"].numpy(),
                                  values.reshape(2, 3))
