"""PyTorch ``.pt`` / ``.pth`` files, read without PyTorch and without running their code.

``torch.save`` writes a zip archive: ``<name>/data.pkl``, a pickle of the saved object in
which each tensor refers to a *storage* (the flat memory tensors are views of) by key;
``<name>/data/<key>``, each storage's raw bytes; ``<name>/byteorder``. A pickle may call
any importable function while it loads, so this reader, like
``torch.load(weights_only=True)``, accepts only a short list of globals -- the tensor and
parameter rebuilders, storage types, dtypes, ``torch.Size``, ``torch.device``,
``collections.OrderedDict`` and the builtins protocol 2 spells sets, complex numbers and
bytes with -- and refuses any other, naming it, before anything is called.

Even the accepted names reach no real code while the pickle is read: each resolves to an
inert record, which pickle's BUILD opcode may not alter. Once the pickle is read, a walk
over the result turns the records into minigrad objects, checking every offset, size and
stride against its storage first (a forged stride must not read outside it), and naming
by its key any tensor of a dtype NumPy lacks (bfloat16, float8).

Tensors come back as contiguous copies on ``device``. A tensor referenced twice (tied
weights) comes back as one Tensor; tensors that merely shared a storage (a view and its
base) get their own memory, with the values the view had. Saved ``nn.Parameter``s come
back as ``nn.Parameter``s; a bare storage as a 1-d tensor. PyTorch's ``_metadata``
attribute on state dicts (per-module versions) is dropped.
"""
from __future__ import annotations

import io
import os
import pickle
import zipfile
import zlib
from collections import OrderedDict
from typing import IO, Any, Optional, Union

import numpy as np

import minigrad as mg

__all__ = ["load"]

PathLike = Union[str, "os.PathLike[str]"]

# torch's dtype names -> NumPy; None: no NumPy type (such tensors are refused by key).
_DTYPES: dict = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16", "complex128": "complex128",
    "cdouble": "complex128", "complex64": "complex64", "cfloat": "complex64",
    "int64": "int64", "long": "int64", "int32": "int32", "int": "int32", "int16": "int16",
    "short": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16",
    "uint32": "uint32", "uint64": "uint64", "bool": "bool",
    "bfloat16": None, "complex32": None, "chalf": None, "float8_e4m3fn": None,
    "float8_e5m2": None, "float8_e4m3fnuz": None, "float8_e5m2fnuz": None,
    "float8_e8m0fnu": None}
_ITEMSIZE = {"bfloat16": 2, "complex32": 4, "chalf": 4}  # the others: NumPy's, or 1 (float8)
# torch's legacy typed storage classes -> dtype name.
_STORAGES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64"}
_ACCEPTED = ("tensors, parameters, storages, dtypes, torch.Size, torch.device, "
             "OrderedDict and plain containers (dict, list, tuple, set, numbers, strings)")


class _Refusal(pickle.UnpicklingError):
    """A global outside the accepted list."""


class _Malformed(Exception):
    """Data that no ``torch.save`` of a state dict writes (reported as a damaged file)."""


# -- inert records, made while the pickle is read ----------------------------------------
class _Record:
    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise _Malformed(f"the pickle tries to set the state of a {type(self).__name__[1:]}")


class _DType(_Record):
    __slots__ = ("name", "dtype")

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = None if _DTYPES[name] is None else np.dtype(_DTYPES[name])

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize if self.dtype is not None else _ITEMSIZE.get(self.name, 1)


class _StorageType(_Record):
    """What ``torch.FloatStorage`` (typed) or ``torch.UntypedStorage`` (bytes) stands for."""
    __slots__ = ("dtype",)

    def __init__(self, dtype: _DType) -> None:
        self.dtype = dtype


class _Storage(_Record):
    __slots__ = ("key", "raw", "dtype")

    def __init__(self, key: str, raw: np.ndarray, dtype: _DType) -> None:
        self.key, self.raw, self.dtype = key, raw, dtype


class _Tensor(_Record):
    __slots__ = ("storage", "offset", "size", "stride", "dtype", "requires_grad")

    def __init__(self, storage: Any, offset: Any, size: Any, stride: Any, dtype: Any,
                 requires_grad: Any) -> None:
        if type(storage) is not _Storage or type(dtype) is not _DType:
            raise _Malformed("a tensor is rebuilt from something other than a storage "
                             "and a dtype")
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.dtype, self.requires_grad = dtype, requires_grad


class _Parameter(_Record):
    __slots__ = ("data", "requires_grad")

    def __init__(self, data: Any, requires_grad: Any) -> None:
        if type(data) is not _Tensor:
            raise _Malformed("a parameter is rebuilt from something that is not a tensor")
        self.data, self.requires_grad = data, requires_grad


class _Size(_Record):
    __slots__ = ("dims",)

    def __init__(self, dims: Any = ()) -> None:
        self.dims = dims


class _Device(_Record):
    __slots__ = ("args",)

    def __init__(self, *args: Any) -> None:
        self.args = args


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, metadata: Any = None) -> _Tensor:
    dtype = storage.dtype if type(storage) is _Storage else None
    return _Tensor(storage, offset, size, stride, dtype, requires_grad)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, dtype: Any, metadata: Any = None) -> _Tensor:
    return _Tensor(storage, offset, size, stride, dtype, requires_grad)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> _Parameter:
    return _Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, backward_hooks: Any,
                                  state: Any) -> _Parameter:
    if state:
        raise _Malformed("a parameter carries Python attributes, which a weights-only load "
                         "does not restore")
    return _Parameter(data, requires_grad)


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """``_codecs.encode``, as protocol 2 spells a ``bytes`` object."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Malformed("_codecs.encode is accepted only as protocol 2 spells bytes")
    return text.encode("latin1")


def _global(module: str, name: str) -> Any:
    """What an accepted global stands for, or None."""
    if module == "torch._utils":
        return {"_rebuild_tensor_v2": _rebuild_tensor_v2,
                "_rebuild_tensor_v3": _rebuild_tensor_v3,
                "_rebuild_parameter": _rebuild_parameter,
                "_rebuild_parameter_with_state": _rebuild_parameter_with_state}.get(name)
    if module == "torch":
        if name in _STORAGES:
            return _StorageType(_DType(_STORAGES[name]))
        if name in _DTYPES:
            return _DType(name)
        return {"Size": _Size, "device": _Device,
                "UntypedStorage": _StorageType(_DType("uint8"))}.get(name)
    if (module, name) == ("torch.storage", "UntypedStorage"):
        return _StorageType(_DType("uint8"))
    if (module, name) == ("collections", "OrderedDict"):
        return OrderedDict
    if (module, name) == ("_codecs", "encode"):
        return _encode
    if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "complex"):
        return {"set": set, "frozenset": frozenset, "complex": complex}[name]
    return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, stream: IO[bytes], archive: zipfile.ZipFile, prefix: str,
                 name: str) -> None:
        super().__init__(stream)
        self._archive, self._prefix, self._name = archive, prefix, name
        self._raw: dict = {}

    def find_class(self, module: str, name: str) -> Any:
        found = _global(module, name)
        if found is None:
            raise _Refusal(
                f"{self._name}: refused to load the global '{module}.{name}'. Like "
                "torch.load(weights_only=True), minigrad reads only " + _ACCEPTED + ", because "
                "unpickling anything else can run arbitrary code. If this file holds a whole "
                "model (torch.save(model)), save model.state_dict() in PyTorch instead.")
        return found

    def persistent_load(self, pid: Any) -> _Storage:
        """``('storage', storage type, key, location, numel)``: the storage's bytes,
        checked to be exactly ``numel`` elements long."""
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage"
                and type(pid[1]) is _StorageType and isinstance(pid[2], str)
                and type(pid[4]) is int):
            raise _Malformed(f"unexpected persistent id {pid!r:.100}")
        _, kind, key, _, numel = pid
        if key not in self._raw:
            record = f"{self._prefix}/data/{key}"
            try:
                info = self._archive.getinfo(record)
            except KeyError:
                raise _Malformed(f"storage {key!r} has no record {record!r}") from None
            if info.file_size != numel * kind.dtype.itemsize:
                raise _Malformed(f"storage {key!r} should hold {numel} {kind.dtype.name} "
                                 f"elements, its record has {info.file_size} bytes")
            self._raw[key] = np.frombuffer(self._archive.read(record), dtype=np.uint8)
        return _Storage(key, self._raw[key], kind.dtype)


# -- the walk that turns records into minigrad objects ---------------------------------
class _Builder:
    def __init__(self, device: Any, big_endian: bool) -> None:
        self.device, self.big_endian = device, big_endian
        self.memo: dict = {}
        self.unsupported: list = []  # (dtype name, where)

    def build(self, obj: Any, where: str) -> Any:
        kind = type(obj)
        if kind in (str, bytes, int, float, bool, complex, type(None)):
            return obj
        if id(obj) in self.memo:
            return self.memo[id(obj)]
        if kind in (dict, OrderedDict):
            out = self.memo[id(obj)] = kind()
            for k, v in kind.items(obj):
                key = self.build(k, where)
                out[key] = self.build(v, f"{where}[{key!r}]")
            return out
        if kind is list:
            out = self.memo[id(obj)] = []
            out.extend(self.build(v, f"{where}[{i}]") for i, v in enumerate(obj))
            return out
        if kind in (tuple, set, frozenset):
            out = kind(self.build(v, f"{where}[{i}]") for i, v in enumerate(obj))
        elif kind is _Tensor:
            out = self.tensor(obj, where)
        elif kind is _Parameter:
            out = self.parameter(obj, where)
        elif kind is _Storage:
            out = self.storage(obj, where)
        elif kind is _DType:
            out = obj.dtype
            if out is None:
                self.unsupported.append((obj.name, where))
        elif kind is _Size:
            out = mg.Size(self.dims(obj.dims, "torch.Size", where))
        elif kind is _Device:
            out = mg.device(*obj.args)
        else:
            raise _Malformed(f"{where} is an unexpected {kind.__name__.lstrip('_')}")
        self.memo[id(obj)] = out
        return out

    def dims(self, values: Any, what: str, where: str) -> tuple:
        if type(values) not in (tuple, list, _Size) or not all(
                type(v) is int and v >= 0 for v in getattr(values, "dims", values)):
            raise _Malformed(f"{where}: {what} is not a tuple of non-negative integers")
        return tuple(getattr(values, "dims", values))

    def tensor(self, rec: _Tensor, where: str) -> Optional[mg.Tensor]:
        dtype = rec.dtype.dtype
        if dtype is None:
            self.unsupported.append((rec.dtype.name, where))
            return None
        size = self.dims(rec.size, "the size", where)
        stride = self.dims(rec.stride, "the stride", where)
        offset = rec.offset
        if type(offset) is not int or offset < 0 or len(size) != len(stride) \
                or type(rec.requires_grad) is not bool:
            raise _Malformed(f"{where}: offset {offset!r}, size {size} and stride {stride} "
                             "do not describe a tensor")
        raw = rec.storage.raw
        if raw.nbytes % dtype.itemsize:
            raise _Malformed(f"{where}: storage {rec.storage.key!r} of {raw.nbytes} bytes "
                             f"is no whole number of {dtype} elements")
        count = raw.nbytes // dtype.itemsize
        numel = int(np.prod(size, dtype=object))
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if numel and last >= count:  # (an empty view may sit anywhere, as in torch)
            raise _Malformed(f"{where}: a view with offset {offset}, size {size} and stride "
                             f"{stride} reaches past the {count} elements of storage "
                             f"{rec.storage.key!r}")
        if numel == 0:
            array = np.zeros(size, dtype)
        else:
            stored = dtype.newbyteorder(">") if self.big_endian else dtype
            flat = raw.view(np.uint8 if dtype == np.bool_ else stored)
            view = np.lib.stride_tricks.as_strided(
                flat[offset:], shape=size, strides=[s * flat.itemsize for s in stride],
                writeable=False)
            array = (view != 0) if dtype == np.bool_ else view.astype(dtype)  # a copy
        out = mg.as_tensor(array, device=self.device)
        if rec.requires_grad:
            if dtype.kind not in "fc":
                raise _Malformed(f"{where}: a {dtype} tensor cannot require grad")
            out.requires_grad_()
        return out

    def parameter(self, rec: _Parameter, where: str) -> Optional[mg.Tensor]:
        data = self.build(rec.data, where)
        if data is None:
            return None
        if type(rec.requires_grad) is not bool:
            raise _Malformed(f"{where}: requires_grad is not a bool")
        return mg.nn.Parameter(data, requires_grad=rec.requires_grad)

    def storage(self, storage: _Storage, where: str) -> Optional[mg.Tensor]:
        dtype = storage.dtype
        numel = storage.raw.nbytes // dtype.itemsize
        return self.tensor(_Tensor(storage, 0, (numel,), (1,), dtype, False), where)


# -- the entry point -------------------------------------------------------------------
def load(f: Union[PathLike, IO[bytes]], device: Any = None) -> Any:
    """The object a ``torch.save`` zip file holds (a state dict, usually: an OrderedDict
    of Tensors), its tensors on ``device``. Refuses, with pickle.UnpicklingError naming
    it, any global outside tensors, storages, dtypes, sizes, devices, OrderedDict and plain
    containers; raises ValueError for a damaged file or one ``torch.save`` did not write,
    and TypeError naming the tensors whose dtype NumPy lacks (bfloat16)."""
    if isinstance(f, (str, os.PathLike)):
        name = repr(os.fspath(f))
    else:
        name = repr(f.name) if hasattr(f, "name") else f"the {type(f).__name__} object"
        if not _seekable(f):
            f = io.BytesIO(f.read())
    try:
        archive = zipfile.ZipFile(f)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{name} is not a torch.save zip archive ({exc}): it is damaged "
                         "(truncated or corrupted?), or a legacy torch.save file "
                         "(_use_new_zipfile_serialization=False, torch < 1.6), which minigrad "
                         "does not read") from exc
    with archive:
        prefix = _prefix(archive, name)
        try:
            obj, big_endian = _unpickle(archive, prefix, name)
            builder = _Builder(device, big_endian)
            result = builder.build(obj, "obj")
        except _Refusal:
            raise
        except (_Malformed, pickle.UnpicklingError, zipfile.BadZipFile, zlib.error, EOFError,
                TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError,
                RuntimeError, NotImplementedError, RecursionError) as exc:
            raise ValueError(f"{name} is damaged or is no torch.save file of a state dict: "
                             f"{type(exc).__name__.lstrip('_')}: {exc}") from exc
    if builder.unsupported:
        by_dtype: dict = {}
        for dtype, where in builder.unsupported:
            by_dtype.setdefault(dtype, []).append(where)
        listed = "; ".join(f"{dtype}: {', '.join(places)}" for dtype, places in by_dtype.items())
        raise TypeError(f"{name} holds tensors whose dtype NumPy (hence minigrad) has no type "
                        f"for -- {listed}. Cast them in PyTorch before saving, e.g. "
                        "torch.save({k: v.float() for k, v in state_dict.items()}, path)")
    return result


def _unpickle(archive: zipfile.ZipFile, prefix: str, name: str) -> tuple:
    order = f"{prefix}/byteorder"
    byteorder = archive.read(order) if order in archive.namelist() else b"little"
    if byteorder not in (b"little", b"big"):
        raise _Malformed(f"unknown byte order {byteorder[:20]!r}")
    stream = io.BytesIO(archive.read(f"{prefix}/data.pkl"))
    return _Unpickler(stream, archive, prefix, name).load(), byteorder == b"big"


def _prefix(archive: zipfile.ZipFile, name: str) -> str:
    """The archive's top folder (the saved file's stem, or 'archive'), which holds
    data.pkl; a TorchScript archive is told apart."""
    names = archive.namelist()
    tops = [n[:-len("/data.pkl")] for n in names
            if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(tops) != 1:
        raise ValueError(f"{name} is a zip archive but not a torch.save file "
                         "(no single <name>/data.pkl in it)")
    prefix = tops[0]
    if f"{prefix}/constants.pkl" in names or any(n.startswith(f"{prefix}/code/") for n in names):
        raise ValueError(f"{name} is a TorchScript archive (torch.jit.save), which holds "
                         "code; minigrad reads torch.save files of state dicts: save "
                         "model.state_dict() with torch.save in PyTorch")
    return prefix


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False
